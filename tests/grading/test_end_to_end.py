"""End to end on the fixture assignment: release, collect, autograde, feedback, export."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest
from click.testing import CliRunner

from course_lib.cli import main
from course_lib.grading.sandbox import bwrap_status

from .helpers import FIXTURES, expected_points, source_notebook, variants, write

pytestmark = [
    pytest.mark.skipif(not bwrap_status()[0], reason="needs bubblewrap"),
    pytest.mark.slow,
]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("e2e")
    course, released = tmp / "course", tmp / "assignments"
    src = str(FIXTURES)
    invoke(
        "release",
        "tiny",
        "--solutions",
        src,
        "--assignments",
        str(released),
        "--dist",
        str(tmp / "dist"),
    )
    release_nb = json.loads((released / "tiny" / "tiny.ipynb").read_text())
    import nbformat

    release_nb = nbformat.from_dict(release_nb)
    klass = variants(release_nb)
    expected = {}
    folder = tmp / "inbox"
    names = sorted(klass)
    # Half the class hands in through a folder, half through a Canvas-style zip.
    for name in names[::2]:
        nb, broken = klass[name]
        write(nb, folder / name / "tiny.ipynb")
        expected[name] = expected_points(broken)
    (folder / "notes.txt").write_text("not a notebook")
    (folder / "broken.ipynb").write_text("{ this is not json")
    zpath = tmp / "canvas.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for i, name in enumerate(names[1::2]):
            nb, broken = klass[name]
            uid = str(1000 + i)
            zf.writestr(f"student{i}_{uid}_{555 + i}_tiny.ipynb", nbformat.writes(nb))
            expected[uid] = expected_points(broken)
        zf.writestr("latecomer_LATE_2000_9_tiny.ipynb", "not json at all")
    out_folder = invoke(
        "collect", "tiny", str(folder), "--course-dir", str(course), "--solutions", src
    )
    out_zip = invoke("collect", "tiny", str(zpath), "--course-dir", str(course), "--solutions", src)
    # A notebook with no cells at all, put straight into the course directory.
    empty = course / "submitted" / "empty" / "tiny" / "tiny.ipynb"
    empty.parent.mkdir(parents=True)
    empty.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    expected["empty"] = 0.0
    out_grade = invoke(
        "autograde", "tiny", "--course-dir", str(course), "--solutions", src, "--jobs", "2"
    )
    invoke("feedback", "tiny", "--course-dir", str(course))
    exports = {
        fmt: invoke("grades", "tiny", "--course-dir", str(course), "--format", fmt)
        for fmt in ("csv", "canvas", "gradescope")
    }
    return {
        "course": course,
        "released": released,
        "expected": expected,
        "exports": exports,
        "collect": out_folder + out_zip,
        "autograde": out_grade,
        "tmp": tmp,
    }


def test_release_has_no_solution_or_hidden_text(graded: dict) -> None:
    released = graded["released"] / "tiny"
    assert sorted(p.name for p in released.iterdir()) == [
        "manifest.json",
        "public_tests.py",
        "tiny.ipynb",
    ]
    text = (released / "tiny.ipynb").read_text() + (released / "manifest.json").read_text()
    for line in (FIXTURES / "tiny" / "hidden_tests.py").read_text().splitlines():
        if len(line.strip()) > 12:
            assert line.strip() not in text, line
    assert 'state["momentum_buffer"] = d.clone()' not in text
    manifest = json.loads((released / "manifest.json").read_text())
    assert manifest["hidden_count"] == 5 and manifest["hidden_points"] == 9
    assert (graded["tmp"] / "dist" / "tiny.zip").exists()


def test_collect_reports_rejections(graded: dict) -> None:
    out = graded["collect"]
    assert re.search(r"REJECTED .*notes\.txt: not a notebook", out)
    assert re.search(r"REJECTED .*broken\.ipynb: unparseable JSON", out)
    assert re.search(r"REJECTED .*latecomer_LATE_2000_9_tiny\.ipynb: unparseable JSON", out)


def test_every_submission_earns_exactly_its_points(graded: dict) -> None:
    rows = list(csv.DictReader(io.StringIO(graded["exports"]["csv"])))
    got = {r["student_id"]: float(r["auto_score"]) for r in rows}
    assert got == graded["expected"]
    assert all(r["max_score"] == "14" and r["needs_manual_grade"] == "true" for r in rows)


def test_unrunnable_submission_gets_a_clear_message(graded: dict) -> None:
    result = json.loads(
        (graded["course"] / "autograded" / "empty" / "tiny" / "result.json").read_text()
    )
    assert result["status"] == "unrunnable" and result["score"] == 0
    assert "no cells" in result["notes"][0]


def test_feedback_names_tests_and_never_shows_code(graded: dict) -> None:
    pages = sorted((graded["course"] / "feedback").glob("*/tiny/feedback.html"))
    assert len(pages) == len(graded["expected"])
    hidden = (FIXTURES / "tiny" / "hidden_tests.py").read_text().splitlines()
    solution = [
        ln.strip()
        for c in source_notebook().cells
        for ln in c.source.splitlines()
        if c.cell_type == "code" and "SOLUTION" not in ln
    ]
    for page in pages:
        html = page.read_text()
        for line in hidden:
            if len(line.strip()) > 12:
                assert line.strip() not in html, (page, line)
        for line in solution:
            if len(line) > 25:
                assert line not in html, (page, line)
    dampened = (graded["course"] / "feedback" / "dampened" / "tiny" / "feedback.html").read_text()
    assert "step 2: param differs from SGD with momentum" in dampened
    missing = "answer cell &#x27;answer_scale&#x27; is missing"
    assert sum(missing in p.read_text() for p in pages) == 1


def test_export_layouts(graded: dict) -> None:
    canvas = list(csv.reader(io.StringIO(graded["exports"]["canvas"])))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "tiny"]
    assert canvas[1][0].strip() == "Points Possible" and canvas[1][-1] == "14"
    gs = list(csv.DictReader(io.StringIO(graded["exports"]["gradescope"])))
    assert set(gs[0]) == {"Name", "SID", "Email", "Total Score"}
    assert {r["SID"] for r in gs} == set(graded["expected"])


def test_autograded_notebook_carries_results(graded: dict) -> None:
    nb = json.loads((graded["course"] / "autograded" / "full" / "tiny" / "tiny.ipynb").read_text())
    outputs = ["".join(o["text"]) for c in nb["cells"] for o in c.get("outputs", [])]
    assert sum(o.startswith("PASSED") for o in outputs) == 7


def test_rerun_grades_nothing_twice(graded: dict) -> None:
    out = invoke(
        "autograde", "tiny", "--course-dir", str(graded["course"]), "--solutions", str(FIXTURES)
    )
    assert out.strip().endswith(
        f"0 graded, {len(graded['expected'])} already graded, {len(graded['expected'])} in all"
    )
