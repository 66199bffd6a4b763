"""Release: nbgrader's GenerateAssignment from ``solutions/<id>/`` into ``assignments/<id>/``.

The released folder holds the student notebook (solutions stripped by nbgrader), a copy of
``public_tests.py`` and ``manifest.json`` (every test's name, points, description and whether
it is hidden; never test code). A zip of the folder goes to ``dist/<id>.zip`` for an LMS.
:func:`release_drift` regenerates into a temporary folder and lists files that differ, so a
hand-edited or stale ``assignments/`` is caught.
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from course_lib.grading.cells import graded_cells, read_notebook
from course_lib.grading.runner import load_suite

NOT_RELEASED = ["hidden_tests.py", "_tools", "*.db", ".ipynb_checkpoints", "__pycache__", "*.pyc"]


def assignment_ids(solutions: Path) -> list[str]:
    """Every ``solutions/<id>/`` with its notebook and both tests files."""
    return sorted(
        p.name
        for p in Path(solutions).iterdir()
        if p.is_dir()
        and (p / f"{p.name}.ipynb").exists()
        and (p / "public_tests.py").exists()
        and (p / "hidden_tests.py").exists()
    )


def ensure_nbgrader_tools_on_path() -> None:
    """Put this interpreter's ``bin`` folder on ``PATH``.

    nbgrader's gradebook runs the ``alembic`` command by name to check its database schema; a
    ``course`` called as ``.venv/bin/course`` without activating the environment would otherwise
    fail with "No such file or directory: 'alembic'".
    """
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])


def _coursedir(root: Path, source: Path, release: Path, db_url: str, assignment: str) -> Any:
    from nbgrader.coursedir import CourseDirectory

    cd = CourseDirectory()
    cd.root = str(root)
    cd.source_directory = str(source.resolve())
    cd.release_directory = str(release.resolve())
    cd.db_url = db_url
    cd.assignment_id = assignment
    cd.ignore = [*cd.ignore, *NOT_RELEASED]
    return cd


def run_generate(assignment: str, solutions: Path, release: Path, db_url: str) -> None:
    """nbgrader's GenerateAssignment (records the cells in the gradebook at ``db_url``)."""
    from nbgrader.converters import GenerateAssignment

    ensure_nbgrader_tools_on_path()
    with tempfile.TemporaryDirectory() as root:
        cd = _coursedir(Path(root), Path(solutions), Path(release), db_url, assignment)
        converter = GenerateAssignment(coursedir=cd, force=True, create_assignment=True)
        converter.log.setLevel(logging.ERROR)
        converter.start()


def manifest(assignment: str, solutions: Path) -> dict[str, Any]:
    """What a student may know about the grading: tests (no code), points, written cells."""
    folder = Path(solutions) / assignment
    public = load_suite(folder / "public_tests.py")
    hidden = load_suite(folder / "hidden_tests.py")
    tests = [
        {"name": t.name, "points": t.points, "description": t.description, "hidden": t.hidden}
        for suite in (public, hidden)
        for t in suite
    ]
    nb = read_notebook(folder / f"{assignment}.ipynb")
    manual = [
        {"name": c.grade_id, "points": c.points} for c in graded_cells(nb) if c.kind == "written"
    ]
    auto = sum(t["points"] for t in tests)
    return {
        "assignment": assignment,
        "notebook": f"{assignment}.ipynb",
        "tests": tests,
        "public_count": sum(not t["hidden"] for t in tests),
        "public_points": sum(t["points"] for t in tests if not t["hidden"]),
        "hidden_count": sum(t["hidden"] for t in tests),
        "hidden_points": sum(t["points"] for t in tests if t["hidden"]),
        "manual": manual,
        "auto_points": auto,
        "total_points": auto + sum(m["points"] for m in manual),
        "forbid": sorted(set(public.forbid) | set(hidden.forbid)),
    }


def release_one(assignment: str, solutions: Path, assignments: Path, dist: Path | None) -> Path:
    """Generate ``assignments/<id>/`` (and ``dist/<id>.zip``); returns the released folder."""
    with tempfile.TemporaryDirectory() as tmp:
        run_generate(assignment, solutions, Path(assignments), f"sqlite:///{tmp}/gradebook.db")
    out = Path(assignments) / assignment
    text = json.dumps(manifest(assignment, solutions), indent=2, sort_keys=True) + "\n"
    (out / "manifest.json").write_text(text, encoding="utf-8")
    if dist is not None:
        dist.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(dist / f"{assignment}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    zf.write(path, Path(assignment) / path.relative_to(out))
    return out


def release_drift(assignment: str, solutions: Path, assignments: Path) -> list[str]:
    """Files of ``assignments/<id>/`` that differ from a fresh release (empty when in sync)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = release_one(assignment, solutions, Path(tmp), None)
        current = Path(assignments) / assignment
        if not current.exists():
            return [f"{current} is missing (run: course release {assignment})"]
        problems = []
        names = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
        have = {p.relative_to(current) for p in current.rglob("*") if p.is_file()}
        for rel in sorted(names - have):
            problems.append(f"{current / rel} is missing")
        for rel in sorted(have - names):
            if rel.name not in (".ipynb_checkpoints",) and "__pycache__" not in rel.parts:
                problems.append(f"{current / rel} is not produced by the release")
        for rel in sorted(names & have):
            if not filecmp.cmp(fresh / rel, current / rel, shallow=False):
                problems.append(f"{current / rel} differs from a fresh release")
        return problems
