"""Every real assignment through the engine: the released notebook is in sync with a fresh
release, the solution earns every automatic point and the untouched release earns none."""

from __future__ import annotations

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
