"""Collect: file names to student ids, and every rejection with its reason."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

from course_lib.grading.collect import collect

IDS = {"answer_mse", "mse_basic"}


def nb(gid: str = "answer_mse") -> str:
    cell = {
        "cell_type": "code",
        "source": "x = 1",
        "metadata": {"nbgrader": {"grade_id": gid, "solution": True, "grade": False}},
        "outputs": [],
        "execution_count": None,
    }
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 4})


def test_folder_layouts_and_rejections(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "bob" / "tiny").mkdir(parents=True)
    (src / "alice.ipynb").write_text(nb())
    (src / "bob" / "tiny" / "tiny.ipynb").write_text(nb())
    (src / "carol.ipynb").write_text("{oops")
    (src / "dave.ipynb").write_text(nb("some_other_cell"))
    (src / "erin.txt").write_text("hello")
    (src / "frank.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))
    (src / "loss_functions.ipynb").write_text(nb())
    report = collect(
        "tiny",
        src,
        tmp_path / "course",
        grade_ids=IDS,
        other_assignments={"loss_functions", "tiny"},
    )
    assert sorted(report.accepted) == ["alice", "bob"]
    why = {Path(o).name: r for o, r in report.rejected}
    assert why["carol.ipynb"].startswith("unparseable JSON")
    assert why["dave.ipynb"].startswith("wrong assignment")
    assert why["erin.txt"].startswith("not a notebook")
    assert why["frank.ipynb"].startswith("no nbgrader cells")
    assert why["loss_functions.ipynb"].startswith("wrong assignment")
    assert (tmp_path / "course" / "submitted" / "bob" / "tiny" / "tiny.ipynb").exists()
    again = collect("tiny", src, tmp_path / "course", grade_ids=IDS)
    assert sorted(again.unchanged) == ["alice", "bob"]


def test_duplicates_keep_the_newest(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "amy").mkdir(parents=True)
    old, new = src / "amy" / "first.ipynb", src / "amy" / "second.ipynb"
    old.write_text(nb())
    new.write_text(nb().replace("x = 1", "x = 2"))
    os.utime(old, (time.time() - 100, time.time() - 100))
    report = collect("tiny", src, tmp_path / "course", grade_ids=IDS)
    assert report.accepted == {"amy": str(new)}
    assert report.rejected == [(str(old), f"duplicate for student amy: kept the newer {new}")]


def test_canvas_and_moodle_zips(tmp_path: Path) -> None:
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("lastfirst_12345_67890_tiny.ipynb", nb())
        zf.writestr("doejane_LATE_222_1_tiny-1.ipynb", nb())
        zf.writestr("Jane Roe_333_assignsubmission_file_/tiny.ipynb", nb())
        zf.writestr("lastfirst_444_5_notes.pdf", b"%PDF")
    report = collect("tiny", z, tmp_path / "course", grade_ids=IDS)
    assert sorted(report.accepted) == ["12345", "222", "333"]
    assert [r for _, r in report.rejected] == ["not a notebook (only .ipynb files are collected)"]


def test_exchange_directory(tmp_path: Path) -> None:
    inbound = tmp_path / "exchange" / "course101" / "inbound"
    for name in (
        "zoe+tiny+2024-01-01 10:00:00.000000 UTC",
        "zoe+tiny+2024-01-02 10:00:00.000000 UTC",
        "yan+other+2024-01-01 10:00:00.000000 UTC",
    ):
        (inbound / name).mkdir(parents=True)
        (inbound / name / "tiny.ipynb").write_text(nb().replace("x = 1", f"x = '{name}'"))
    report = collect("tiny", tmp_path / "exchange", tmp_path / "course", grade_ids=IDS)
    assert list(report.accepted) == ["zoe"] and "2024-01-02" in report.accepted["zoe"]
    assert len(report.rejected) == 1 and "duplicate" in report.rejected[0][1]
