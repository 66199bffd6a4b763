"""The ``loss_functions`` assignment: its tests pass the solution, fail the release, and fail
exactly the tests that depend on an answer cell when only that cell is wrong.

Submissions are built by editing the instructor notebook's answer cells, run in this process
(the setup cells and answer cells, as the grader runs them) and graded with the engine's
runner through :class:`~course_lib.grading.student.LocalStudentCode`.
"""

from __future__ import annotations

import pytest
import torch

from tests.grading.assignment_harness import AssignmentUnderTest

ASSIGNMENT = AssignmentUnderTest("loss_functions", slow_tests={"training_outcome"})


def test_suites_match_the_notebook() -> None:
    ASSIGNMENT.check_suites_match_the_notebook()
    public, hidden = ASSIGNMENT.suites()
    assert set(public.forbid) == set(hidden.forbid)


def test_solution_passes_every_fast_test() -> None:
    assert ASSIGNMENT.failing(ASSIGNMENT.submission()) == {}


def test_release_fails_every_test() -> None:
    # The slow training test fails at once on the stub (NotImplementedError on the first step).
    fails = ASSIGNMENT.failing(ASSIGNMENT.submission(release=True), include_slow=True)
    assert set(fails) == {t.name for s in ASSIGNMENT.suites() for t in s}
    assert "NotImplementedError" in fails["mse_public"]


MSE_SUM = """
def mse_loss(pred, target, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction)
    loss = (pred - target) ** 2
    if reduction == "none":
        return loss
    return loss.sum()  # bug: 'mean' sums
"""
MAE_OF_MEAN = """
def mae_loss(pred, target, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction)
    r = pred - target
    if reduction == "none":
        return torch.abs(r)
    if reduction == "sum":
        return torch.abs(r.sum())
    return torch.abs(r.mean())  # bug: |mean r| instead of mean |r|
"""
HUBER_WRONG_BRANCH = """
def huber_loss(pred, target, delta=1.0, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction)
    r = pred - target
    loss = torch.where(r.abs() <= delta, 0.5 * r**2, delta * r.abs())  # bug: no - delta/2
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]
"""
HUBER_SWAPPED = """
def huber_loss(pred, target, delta=1.0, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction)
    r = pred - target
    loss = torch.where(r.abs() > delta, 0.5 * r**2, delta * (r.abs() - 0.5 * delta))  # bug
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]
"""
MSE_NO_CHECK = """
def mse_loss(pred, target, reduction="mean"):
    loss = (pred - target) ** 2
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss  # bug: an unknown reduction silently means 'none'
"""
MAE_DETACHED = """
def mae_loss(pred, target, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction)
    loss = torch.from_numpy(np.abs(pred.detach().cpu().numpy() - target.cpu().numpy()))
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]
"""
HUBER_BUILTIN = """
import torch.nn.functional as F

def huber_loss(pred, target, delta=1.0, reduction="mean"):
    return F.huber_loss(pred, target, reduction=reduction, delta=delta)
"""
HUBER_FLOAT32 = """
def huber_loss(pred, target, delta=1.0, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction)
    r = (pred - target).float()  # bug: always float32
    loss = torch.where(r.abs() <= delta, 0.5 * r**2, delta * (r.abs() - 0.5 * delta))
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]
"""

WRONG_CELLS = {
    "mse_sum_for_mean": (
        {"answer_mse": MSE_SUM},
        {"mse_public", "mse_values", "mse_grad", "dtype_device", "from_scratch"},
    ),
    "mae_abs_of_mean": (
        {"answer_mae": MAE_OF_MEAN},
        {"mae_public", "mae_values", "mae_grad", "dtype_device", "from_scratch"},
    ),
    "huber_wrong_linear_branch": (
        {"answer_huber": HUBER_WRONG_BRANCH},
        {"huber_public", "huber_values", "huber_edges", "dtype_device", "from_scratch"},
    ),
    "huber_swapped_branches": (
        {"answer_huber": HUBER_SWAPPED},
        {
            "huber_public",
            "huber_values",
            "huber_edges",
            "huber_grad",
            "dtype_device",
            "from_scratch",
        },
    ),
    "mse_accepts_unknown_reduction": ({"answer_mse": MSE_NO_CHECK}, {"reduction_contract"}),
    # On a CPU the numpy detour gives the right values; on a GPU it cannot run at all.
    "mae_through_numpy": (
        {"answer_mae": MAE_DETACHED},
        {"mae_grad"} | ({"dtype_device"} if torch.cuda.is_available() else set()),
    ),
    "huber_builtin": ({"answer_huber": HUBER_BUILTIN}, {"from_scratch"}),
    "huber_always_float32": (
        {"answer_huber": HUBER_FLOAT32},
        {"huber_values", "huber_edges", "huber_grad", "dtype_device", "from_scratch"},
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG_CELLS))
def test_one_wrong_cell_fails_exactly_its_tests(case: str) -> None:
    edits, expected = WRONG_CELLS[case]
    fails = ASSIGNMENT.failing(ASSIGNMENT.submission(edits))
    assert set(fails) == expected, fails
    for message in fails.values():  # plain words, no test code
        assert "def " not in message and "Traceback" not in message


@pytest.mark.slow
@pytest.mark.needs_data
def test_training_outcome_passes_the_solution_and_fails_a_broken_loss() -> None:
    assert ASSIGNMENT.failing(ASSIGNMENT.submission(), include_slow=True) == {}
    fails = ASSIGNMENT.failing(
        ASSIGNMENT.submission({"answer_mae": MAE_OF_MEAN}), include_slow=True
    )
    assert "training_outcome" in fails and "mae_loss" in fails["training_outcome"]
