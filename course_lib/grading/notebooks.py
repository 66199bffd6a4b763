"""The autograded copy of a submission: its test cells carry plain-words results as outputs.

Locked cells (instructions, setup, tests) are restored from the source notebook, as nbgrader's
autograde does, so formgrader shows what was graded; answer and written cells are the student's.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import nbformat

from course_lib.grading.cells import SubmissionError, grade_id, read_notebook, role


def result_text(test: dict[str, Any]) -> str:
    """One test's outcome in plain words."""
    pts = f"{test['points']:g}/{test['max_points']:g} points"
    head = "PASSED" if test["status"] == "passed" else "FAILED"
    kind = "hidden" if test["hidden"] else "public"
    text = f"{head} ({pts}) {kind} test {test['name']}: {test['description']}"
    return text + (f"\n{test['message']}" if test["status"] != "passed" else "")


def write_autograded_notebook(
    source_nb: Any, submitted: Path, result: dict[str, Any], out: Path
) -> None:
    """Write ``out``: the submission with restored locked cells and test results as outputs."""
    try:
        nb = read_notebook(submitted)
    except SubmissionError:
        nb = copy.deepcopy(source_nb)  # nothing usable: show the source layout with results
        for cell in nb.cells:
            if role(cell) == "answer":
                cell.source = "# (your notebook could not be read)"
    locked = {grade_id(c): c for c in source_nb.cells if grade_id(c) and role(c) != "answer"}
    by_name = {t["name"]: t for t in result["tests"]}
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in locked and role(locked[gid]) != "written":
            original = locked[gid]
            cell.source = original.source
            cell.metadata["nbgrader"] = copy.deepcopy(original.metadata["nbgrader"])
        if cell.get("cell_type") == "code":
            cell.outputs = []
            cell.execution_count = None
            if gid in by_name:
                cell.outputs = [
                    nbformat.v4.new_output("stream", name="stdout", text=result_text(by_name[gid]))
                ]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".ipynb.tmp")
    nbformat.write(nb, str(tmp))
    tmp.replace(out)
