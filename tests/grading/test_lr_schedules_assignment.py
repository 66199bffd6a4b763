"""The ``lr_schedules`` assignment: its tests pass the solution, fail the release, and
fail exactly the tests that depend on an answer cell when only that cell is wrong.

Submissions are built by editing the instructor notebook's answer cells, run in this process
(the setup cells and answer cells, as the grader runs them) and graded with the engine's runner
through :class:`~course_lib.grading.student.LocalStudentCode`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.grading.assignment_harness import AssignmentUnderTest

ASSIGNMENT = "lr_schedules"
SLOW_TESTS = {"training_warmup_cosine"}

HARNESS = AssignmentUnderTest(ASSIGNMENT, slow_tests=SLOW_TESTS)
load_notebook = HARNESS.load_notebook
answer_source = HARNESS.answer_source
edit = HARNESS.edit
submission = HARNESS.submission
student_for = HARNESS.student_for
suites = HARNESS.suites


def failing(sub: Any, *, only: set[str] | None = None, slow: bool = False) -> dict[str, str]:
    """Name -> message of every failing test (the slow training tests only when asked)."""
    return HARNESS.failing(sub, only=only, include_slow=slow)


def test_suites_match_the_notebook() -> None:
    HARNESS.check_suites_match_the_notebook()
    public, _ = suites()
    assert len(public) <= 5
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
