"""Every real assignment through the engine: the released notebook is in sync with a fresh
release, the solution earns every automatic point and the untouched release earns none."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from course_lib.grading.autograde import autograde
from course_lib.grading.release import assignment_ids, release_drift, release_one
from course_lib.grading.sandbox import SandboxConfig, bwrap_status

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
IDS = assignment_ids(SOLUTIONS) if SOLUTIONS.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize("assignment", IDS)
def test_released_notebooks_are_in_sync(assignment: str) -> None:
    assert release_drift(assignment, SOLUTIONS, ROOT / "assignments") == []


@pytest.mark.slow
@pytest.mark.skipif(not bwrap_status()[0], reason="needs bubblewrap")
@pytest.mark.parametrize("assignment", IDS)
def test_solution_full_marks_release_zero(assignment: str, tmp_path: Path) -> None:
    released = release_one(assignment, SOLUTIONS, tmp_path / "released", None)
    course = tmp_path / "course"
    for student, nb in (("solution", SOLUTIONS / assignment), ("untouched", released)):
        dest = course / "submitted" / student / assignment
        dest.mkdir(parents=True)
        shutil.copy(nb / f"{assignment}.ipynb", dest / f"{assignment}.ipynb")
    summary = autograde(
        assignment, course, SOLUTIONS, jobs=2, progress=False, config=SandboxConfig(sandbox="bwrap")
    )
    full, zero = summary.results["solution"], summary.results["untouched"]
    failed = [(t["name"], t["message"]) for t in full["tests"] if t["status"] != "passed"]
    assert failed == [] and full["score"] == full["max_score"] > 0
    assert zero["score"] == 0, [t["name"] for t in zero["tests"] if t["status"] == "passed"]
    assert not summary.grader_errors, summary.grader_errors


def _released_lines(folder: Path) -> set[str]:
    """The stripped lines of every released file (a notebook's cell sources, line by line)."""
    lines: set[str] = set()
    for path in sorted(folder.iterdir()):
        if path.suffix == ".ipynb":
            for cell in json.loads(path.read_text())["cells"]:
                source = cell["source"]
                text = source if isinstance(source, str) else "".join(source)
                lines.update(line.strip() for line in text.splitlines())
        elif path.is_file():
            lines.update(line.strip() for line in path.read_text().splitlines())
    return lines


def _solution_lines(notebook: dict) -> set[str]:
    """Substantial lines that appear in a source only between ### BEGIN/END SOLUTION.

    A line the instructions also show outside the solution blocks (a class skeleton's
    ``super().__init__(params, defaults)``, say) is not a leak.
    """
    lines, outside, inside = set(), set(), False
    for cell in notebook["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for line in source.splitlines():
            if "BEGIN SOLUTION" in line:
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            elif len(line.strip()) > 25:
                (lines if inside else outside).add(line.strip())
    return lines - outside


@pytest.mark.parametrize("assignment", IDS)
def test_released_assignment_holds_no_solution_or_hidden_test_text(assignment: str) -> None:
    source = json.loads((SOLUTIONS / assignment / f"{assignment}.ipynb").read_text())
    released = _released_lines(ROOT / "assignments" / assignment)
    solution = _solution_lines(source)
    assert solution, "the source notebook has no solution blocks to strip"
    leaked = sorted(line for line in solution if line in released)
    assert not leaked, f"solution lines in the released files: {leaked[:5]}"
    public = (SOLUTIONS / assignment / "public_tests.py").read_text()
    hidden_only = {
        line.strip()
        for line in (SOLUTIONS / assignment / "hidden_tests.py").read_text().splitlines()
        if len(line.strip()) > 40 and line.strip() not in public
    }
    leaked = sorted(line for line in hidden_only if line in released)
    assert not leaked, f"hidden-test lines in the released files: {leaked[:5]}"
