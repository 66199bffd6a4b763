"""The in-process harness the four assignment test files share.

A submission is built by editing the instructor notebook's answer cells (or stripping them as
nbgrader's release does), run in this process the way the grader runs it (the source's setup
cells, then the submission's answer cells) and graded with the engine's runner through
:class:`~course_lib.grading.student.LocalStudentCode`. The sandbox itself is tested elsewhere
(``test_attacks.py``, ``test_assignments_grading.py``); here only the tests' verdicts matter.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import nbformat

from course_lib.grading.cells import build_plan, grade_id
from course_lib.grading.runner import load_suite, run_test
from course_lib.grading.student import LocalStudentCode
from course_lib.grading.testing import TestSuite

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"

_SOLUTION = re.compile(
    r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M
)


def strip_solutions(source: str) -> str:
    """The answer cell as nbgrader releases it: each solution block becomes a stub."""
    return _SOLUTION.sub(
        lambda m: f"{m[1]}# YOUR CODE HERE\n{m[1]}raise NotImplementedError()", source
    )


class AssignmentUnderTest:
    """One assignment's source notebook and suites, and submissions built by editing it."""

    def __init__(self, assignment: str, slow_tests: set[str]) -> None:
        self.folder = SOLUTIONS / assignment
        self.notebook = self.folder / f"{assignment}.ipynb"
        self.slow_tests = slow_tests

    def load_notebook(self) -> Any:
        return nbformat.read(self.notebook, as_version=4)

    def suites(self) -> tuple[TestSuite, TestSuite]:
        return (
            load_suite(self.folder / "public_tests.py"),
            load_suite(self.folder / "hidden_tests.py"),
        )

    def answer_source(self, gid: str) -> str:
        """The solution's source of the answer cell ``gid``."""
        for cell in self.load_notebook().cells:
            if grade_id(cell) == gid:
                return cell.source
        raise KeyError(gid)

    def edit(self, gid: str, old: str, new: str) -> dict[str, str]:
        """The answer cell ``gid`` of the solution with ``old`` replaced by ``new`` (once)."""
        source = self.answer_source(gid)
        assert source.count(old) == 1, f"{old!r} is not once in {gid}"
        return {gid: source.replace(old, new)}

    def submission(self, edits: dict[str, str] | None = None, *, release: bool = False) -> Any:
        """A copy of the source notebook with some answer cells replaced (or all stripped)."""
        nb = self.load_notebook()
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if not (meta.get("solution") and cell.cell_type == "code"):
                continue
            if release:
                cell.source = strip_solutions(cell.source)
            if edits and grade_id(cell) in edits:
                cell.source = edits[grade_id(cell)]
        return nb

    def student_for(self, sub: Any) -> LocalStudentCode:
        """Run the setup cells and the submission's answer cells, as the worker does."""
        plan = build_plan(self.load_notebook(), sub)
        namespace: dict[str, Any] = {"__name__": "__main__"}
        for cell in plan.cells:
            # A broken answer cell is graded as what it managed to define.
            with contextlib.suppress(Exception):
                exec(compile(cell["source"], f"<cell {cell['label']}>", "exec"), namespace)
        return LocalStudentCode(namespace, plan.answer_source)

    def failing(
        self, sub: Any, *, only: set[str] | None = None, include_slow: bool = False
    ) -> dict[str, str]:
        """Name -> message of every failing test (the slow ones only when asked)."""
        student = self.student_for(sub)
        out = {}
        for suite in self.suites():
            for test in suite:
                if only is not None and test.name not in only:
                    continue
                if test.name in self.slow_tests and not include_slow:
                    continue
                result = run_test(test, student)
                assert result.status != "grader-error", result.instructor_message
                if not result.passed:
                    out[test.name] = result.message
        return out

    def check_suites_match_the_notebook(self) -> None:
        """The notebook's graded cells follow the suites and the grading contract."""
        public, hidden = self.suites()
        assert not public.hidden and hidden.hidden and len(public) >= 3 and len(hidden) >= 8
        cells = self.load_notebook().cells
        tests = {t.name: t for s in (public, hidden) for t in s}
        graded = {
            grade_id(c): c
            for c in cells
            if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
        }
        assert {k: c.metadata["nbgrader"].get("points") for k, c in graded.items()} == {
            name: t.points for name, t in tests.items()
        }
        for name, cell in graded.items():
            assert cell.metadata["nbgrader"]["locked"]
            if tests[name].hidden:  # a marker only: the hidden test's code never ships
                assert cell.source.startswith(f'# Hidden test "{name}"') and "\n" not in cell.source
            else:
                assert f'run_public_test("{name}")' in cell.source
        written = [
            c
            for c in cells
            if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")
        ]
        assert written and all(c.metadata["nbgrader"]["points"] > 0 for c in written)
        ids = [grade_id(c) for c in cells if grade_id(c)]
        assert len(ids) == len(set(ids))
