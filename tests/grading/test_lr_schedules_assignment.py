"""The ``lr_schedules`` assignment: its tests pass the solution, fail the release, and
fail exactly the tests that depend on an answer cell when only that cell is wrong.

Submissions are built by editing the instructor notebook's answer cells, run in this process
(the setup cells and answer cells, as the grader runs them) and graded with the engine's runner
through :class:`~course_lib.grading.student.LocalStudentCode`.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from course_lib.grading.cells import build_plan, grade_id
from course_lib.grading.runner import load_suite, run_test
from course_lib.grading.student import LocalStudentCode
from course_lib.grading.testing import TestSuite

ASSIGNMENT = "lr_schedules"
FOLDER = Path(__file__).resolve().parents[2] / "solutions" / ASSIGNMENT
SLOW_TESTS = {"training_warmup_cosine"}

_SOLUTION = re.compile(
    r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M
)


def strip_solutions(source: str) -> str:
    """The answer cell as nbgrader releases it: each solution block becomes a stub."""
    return _SOLUTION.sub(
        lambda m: f"{m[1]}# YOUR CODE HERE\n{m[1]}raise NotImplementedError()", source
    )


def load_notebook() -> Any:
    return nbformat.read(FOLDER / f"{ASSIGNMENT}.ipynb", as_version=4)


def answer_source(gid: str) -> str:
    for cell in load_notebook().cells:
        if grade_id(cell) == gid:
            return cell.source
    raise KeyError(gid)


def edit(gid: str, old: str, new: str) -> dict[str, str]:
    """The answer cell ``gid`` of the solution with ``old`` replaced by ``new`` (once)."""
    source = answer_source(gid)
    assert source.count(old) == 1, f"{old!r} is not once in {gid}"
    return {gid: source.replace(old, new)}


def submission(edits: dict[str, str] | None = None, *, release: bool = False) -> Any:
    """A copy of the source notebook with some answer cells replaced (or all stripped)."""
    nb = load_notebook()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not (meta.get("solution") and cell.cell_type == "code"):
            continue
        if release:
            cell.source = strip_solutions(cell.source)
        if edits and grade_id(cell) in edits:
            cell.source = edits[grade_id(cell)]
    return nb


def student_for(sub: Any) -> LocalStudentCode:
    """Run the setup cells and the submission's answer cells, as the worker does."""
    plan = build_plan(load_notebook(), sub)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in plan.cells:
        # A broken answer cell is graded as what it managed to define.
        with contextlib.suppress(Exception):
            exec(compile(cell["source"], f"<cell {cell['label']}>", "exec"), namespace)
    return LocalStudentCode(namespace, plan.answer_source)


def suites() -> tuple[TestSuite, TestSuite]:
    return load_suite(FOLDER / "public_tests.py"), load_suite(FOLDER / "hidden_tests.py")


def failing(sub: Any, *, only: set[str] | None = None, slow: bool = False) -> dict[str, str]:
    """Name -> message of every failing test (the slow training tests only when asked)."""
    student = student_for(sub)
    out = {}
    for suite in suites():
        for test in suite:
            if (only is not None and test.name not in only) or (
                test.name in SLOW_TESTS and not slow
            ):
                continue
            result = run_test(test, student)
            assert result.status != "grader-error", result.instructor_message
            if not result.passed:
                out[test.name] = result.message
    return out


def test_suites_match_the_notebook() -> None:
    public, hidden = suites()
    assert not public.hidden and hidden.hidden and 3 <= len(public) <= 5 and len(hidden) >= 8
    nb = load_notebook()
    tests = {t.name: t for s in (public, hidden) for t in s}
    cells = {
        grade_id(c): c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    }
    assert {k: c.metadata["nbgrader"]["points"] for k, c in cells.items()} == {
        name: t.points for name, t in tests.items()
    }
    for name, cell in cells.items():
        assert cell.metadata["nbgrader"]["locked"]
        if tests[name].hidden:
            assert cell.source.startswith(f'# Hidden test "{name}"') and "\n" not in cell.source
        else:
            assert f'run_public_test("{name}")' in cell.source
    written = [
        c
        for c in nb.cells
        if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")
    ]
    assert written and all(c.metadata["nbgrader"]["points"] > 0 for c in written)
    ids = [grade_id(c) for c in nb.cells if grade_id(c)]
    assert len(ids) == len(set(ids))
    assert "course_lib.schedules.*" in public.forbid


def test_solution_passes_every_fast_test() -> None:
    assert failing(submission()) == {}


def test_release_fails_every_fast_test() -> None:
    fails = failing(submission(release=True))
    assert set(fails) == {t.name for s in suites() for t in s} - SLOW_TESTS
    assert "NotImplementedError" in fails["cosine_endpoints"]


STEP_OFF_BY_ONE = edit(
    "step_schedule",
    "return base_lr * gamma ** (step // step_size)",
    "return base_lr * gamma ** ((step + 1) // step_size)",
)
EXPONENTIAL_ONE_AHEAD = edit("exponential_schedule", "gamma**step", "gamma ** (step + 1)")
COSINE_OFF_BY_ONE = edit(
    "cosine_schedule", "t = min(step, total_steps)", "t = min(step + 1, total_steps)"
)
WARMUP_NOT_SHIFTED = edit(
    "with_warmup", "return schedule(step - warmup_steps)", "return schedule(step)"
)
ONE_CYCLE_FINAL_FROM_MAX = edit(
    "one_cycle_schedule", "final = initial / final_div_factor", "final = max_lr / final_div_factor"
)
COSINE_NO_CHECK = edit(
    "cosine_schedule",
    """    if int(total_steps) != total_steps or total_steps < 1:
        raise ValueError(f"total_steps must be an integer >= 1, got {total_steps}")
""",
    "",
)
EXPONENTIAL_TENSOR = edit(
    "exponential_schedule",
    "return base_lr * gamma**step",
    "return torch.tensor(base_lr * gamma**step)",
)
STEP_BUILTIN = {
    "step_schedule": """
from course_lib.schedules import step_schedule as _step


def step_schedule(base_lr, step_size, gamma=0.1):
    return _step(base_lr, step_size, gamma)
"""
}

WRONG_CELLS = {
    "step_decays_one_step_early": (STEP_OFF_BY_ONE, {"step_first_values", "step_values"}),
    "exponential_one_step_ahead": (EXPONENTIAL_ONE_AHEAD, {"exponential_values"}),
    "cosine_off_by_one_step": (
        COSINE_OFF_BY_ONE,
        {"cosine_endpoints", "cosine_values", "cosine_edge_cases"},
    ),
    "warmup_does_not_shift_the_schedule": (
        WARMUP_NOT_SHIFTED,
        {"warmup_values", "warmup_edge_cases"},
    ),
    "one_cycle_final_from_max_lr": (
        ONE_CYCLE_FINAL_FROM_MAX,
        {"one_cycle_endpoints", "one_cycle_values", "one_cycle_edge_cases"},
    ),
    "cosine_accepts_zero_steps": (COSINE_NO_CHECK, {"argument_checks"}),
    "exponential_returns_tensors": (
        EXPONENTIAL_TENSOR,
        {"exponential_values", "argument_checks", "no_ready_made_schedules"},
    ),
    "step_from_course_lib": (STEP_BUILTIN, {"no_ready_made_schedules"}),
}


@pytest.mark.parametrize("variant", WRONG_CELLS)
def test_a_wrong_cell_fails_exactly_its_tests(variant: str) -> None:
    edits, expected = WRONG_CELLS[variant]
    fails = failing(submission(edits))
    assert set(fails) == expected, fails


def test_feedback_names_the_call_and_the_first_wrong_step() -> None:
    fails = failing(submission(COSINE_OFF_BY_ONE), only={"cosine_values"})
    assert "cosine_schedule(0.1, 50, min_lr=0.001) at step 0 returned" in fails["cosine_values"]
    assert "CosineAnnealingLR" in fails["cosine_values"]
    fails = failing(submission(WARMUP_NOT_SHIFTED), only={"warmup_values"})
    assert "at step 10 returned" in fails["warmup_values"]
    fails = failing(submission(STEP_BUILTIN), only={"no_ready_made_schedules"})
    assert "course_lib.schedules" in fails["no_ready_made_schedules"]


@pytest.mark.slow
def test_training_test_passes_the_solution_and_fails_the_release() -> None:
    assert failing(submission(), only=SLOW_TESTS, slow=True) == {}
    assert set(failing(submission(release=True), only=SLOW_TESTS, slow=True)) == SLOW_TESTS
