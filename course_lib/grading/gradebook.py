"""nbgrader's gradebook: register an assignment's cells, record automatic scores, read scores.

Only the parent process of ``course autograde`` writes (one writer, so SQLite never fights over
its lock); recording the same result twice changes nothing.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

from course_lib.grading.release import ensure_nbgrader_tools_on_path, run_generate


def db_url(course_dir: Path) -> str:
    """The gradebook of a course directory (SQLite file ``gradebook.db``)."""
    return f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


def open_gradebook(course_dir: Path) -> Any:
    """An open :class:`nbgrader.api.Gradebook` (use as a context manager)."""
    from nbgrader.api import Gradebook

    ensure_nbgrader_tools_on_path()
    Path(course_dir).mkdir(parents=True, exist_ok=True)
    return Gradebook(db_url(course_dir))


def ensure_assignment(course_dir: Path, assignment: str, solutions: Path) -> None:
    """Record the assignment's notebook and graded cells (nbgrader's own release step)."""
    from nbgrader.api import MissingEntry

    with open_gradebook(course_dir) as gb:
        try:
            if gb.find_assignment(assignment).notebooks:
                return
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        run_generate(assignment, solutions, Path(tmp), db_url(course_dir))


def record(gb: Any, result: dict[str, Any]) -> None:
    """Write one submission's automatic scores (manual cells are left to formgrader)."""
    from nbgrader.api import MissingEntry

    assignment, student = result["assignment"], result["student"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush chatter inside nbgrader
        gb.update_or_create_student(student)
        try:
            gb.find_submission(assignment, student)
        except MissingEntry:
            gb.add_submission(assignment, student)
    points = {t["name"]: float(t["points"]) for t in result["tests"]}
    notebook = result["notebook"]
    for grade in gb.find_submission_notebook(notebook, assignment, student).grades:
        if grade.name in result["test_cells"]:
            grade.auto_score = points.get(grade.name, 0.0)
            grade.needs_manual_grade = False
    gb.db.commit()


def scores(gb: Any, assignment: str) -> list[dict[str, Any]]:
    """One row per submission of ``assignment``: student, auto, manual, total, max, pending."""
    rows = []
    for sub in gb.find_assignment(assignment).submissions:
        student = sub.student
        rows.append(
            {
                "student": student.id,
                "first_name": student.first_name or "",
                "last_name": student.last_name or "",
                "email": student.email or "",
                "lms_id": student.lms_user_id or "",
                "assignment": assignment,
                "auto_score": float(sub.code_score),
                "manual_score": float(sub.written_score),
                "score": float(sub.score),
                "max_score": float(sub.max_score),
                "needs_manual_grade": bool(sub.needs_manual_grade),
            }
        )
    return sorted(rows, key=lambda r: r["student"])
