"""Read nbgrader notebooks and build what the worker runs for one submission.

Roles of cells (nbgrader metadata): *answer* (``solution`` and not ``grade``, code), *test*
(``grade`` and not ``solution``, code: one graded test each), *written* (markdown answer or
manually graded cell), *setup* (a locked code cell that is neither) and *other* (free cells a
student may add or edit; never run at grading). Cells tagged ``skip-at-grading`` (e.g. a long
experiment in a locked cell) are not run either.

At grading the worker runs, in the SOURCE notebook's order, the source's setup cells and the
submission's answer cells matched by ``grade_id``; so a student cannot change setup code or
slip code into a test cell. Missing or duplicated answer cells are handled and noted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

SKIP_TAG = "skip-at-grading"


class SubmissionError(ValueError):
    """A submission cannot be run at all (its message is shown to the student)."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook, turning every way it can be broken into a :class:`SubmissionError`."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SubmissionError(f"the notebook file could not be read ({err})") from err
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise SubmissionError(
            f"the notebook file is not valid JSON (line {err.lineno}: {err.msg}); "
            "it was probably edited outside Jupyter or cut short"
        ) from err
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise SubmissionError("the file is JSON but not a notebook (it has no list of cells)")
    try:
        nb = nbformat.reads(raw, as_version=4)
    except Exception as err:
        raise SubmissionError(f"the notebook could not be parsed ({err})") from err
    if not nb.cells:
        raise SubmissionError("the notebook has no cells")
    return nb


def _meta(cell: Any) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: Any) -> str | None:
    """The cell's nbgrader ``grade_id``, if any."""
    value = _meta(cell).get("grade_id")
    return value if isinstance(value, str) else None


def role(cell: Any) -> str:
    """``"answer"``, ``"test"``, ``"written"``, ``"setup"`` or ``"other"``."""
    meta = _meta(cell)
    solution, grade = bool(meta.get("solution")), bool(meta.get("grade"))
    if cell.get("cell_type") == "markdown":
        return "written" if (solution or grade) and grade_id(cell) else "other"
    if cell.get("cell_type") != "code":
        return "other"
    if solution and not grade:
        return "answer"
    if grade and not solution:
        return "test"
    if solution and grade:
        return "answer"  # an autograded answer that is also graded by hand
    if meta.get("locked"):
        return "setup"
    return "other"


def source_of(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def to_python(source: str) -> str:
    """IPython syntax (magics, ``!shell``) turned into plain calls (which do nothing at grading)."""
    if "%" not in source and "!" not in source:
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:
        return source


@dataclass
class GradedCell:
    """A graded cell of the source notebook."""

    grade_id: str
    points: float
    kind: str  # "test" or "written" or "answer" (answer cells graded by hand)


@dataclass
class Plan:
    """What the worker runs for one submission."""

    cells: list[dict[str, str]] = field(default_factory=list)
    answer_source: str = ""
    notes: list[str] = field(default_factory=list)


def graded_cells(source_nb: Any) -> list[GradedCell]:
    """Every graded cell of the source notebook, in order."""
    out: list[GradedCell] = []
    for cell in source_nb.cells:
        meta = _meta(cell)
        gid = grade_id(cell)
        if gid and meta.get("grade"):
            points = float(meta.get("points", 0) or 0)
            out.append(GradedCell(gid, points, "test" if role(cell) == "test" else "written"))
    return out


def build_plan(source_nb: Any, submission_nb: Any | None) -> Plan:
    """The cells to run: the source's setup cells and the submission's answers, source order.

    With ``submission_nb=None`` the source's own answer cells are used (the instructor's run).
    """
    plan = Plan()
    answers: dict[str, list[str]] = {}
    if submission_nb is not None:
        for cell in submission_nb.cells:
            gid = grade_id(cell)
            if gid and role(cell) == "answer":
                answers.setdefault(gid, []).append(source_of(cell))
    source_answer_ids = set()
    answer_parts: list[str] = []
    for cell in source_nb.cells:
        kind = role(cell)
        if SKIP_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        if kind == "setup":
            label = f"setup {len(plan.cells) + 1}"
            plan.cells.append({"label": label, "source": to_python(source_of(cell))})
        elif kind == "answer":
            gid = grade_id(cell) or "?"
            source_answer_ids.add(gid)
            if submission_nb is None:
                text = source_of(cell)
            elif gid not in answers:
                plan.notes.append(
                    f"answer cell '{gid}' is missing from your notebook (deleted, or its "
                    "metadata was lost when it was copied): graded as empty"
                )
                text = ""
            else:
                copies = answers[gid]
                if len(copies) > 1:
                    plan.notes.append(
                        f"answer cell '{gid}' appears {len(copies)} times in your notebook: "
                        "the last copy was graded"
                    )
                text = copies[-1]
            answer_parts.append(text)
            plan.cells.append({"label": f"'{gid}'", "source": to_python(text)})
    for gid in answers:
        if gid not in source_answer_ids:
            plan.notes.append(f"cell '{gid}' is not an answer cell of this assignment: ignored")
    plan.answer_source = "\n\n".join(answer_parts)
    return plan
