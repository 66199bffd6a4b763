"""The ``imbalanced_loss`` assignment: its tests pass the solution, fail the release, and fail
exactly the tests that depend on an answer cell when only that cell is wrong.

Submissions are built by editing the instructor notebook's answer cells, run in this process as
the grader runs them, and graded with the engine's runner (see
:class:`tests.grading.assignment_harness.AssignmentUnderTest`).
"""

from __future__ import annotations

import pytest

from tests.grading.assignment_harness import AssignmentUnderTest

ASSIGNMENT = AssignmentUnderTest("imbalanced_loss", slow_tests={"training_outcome"})


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
    assert "NotImplementedError" in fails["focal_public"]


FOCAL_NO_ALPHA = """
def focal_loss(logits, targets, gamma=2.0, alpha=0.25, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    one_minus_pt = targets * torch.sigmoid(-logits) + (1 - targets) * torch.sigmoid(logits)
    loss = one_minus_pt**gamma * ce  # bug: alpha is ignored
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]
"""
FOCAL_NAIVE_LOG = """
def focal_loss(logits, targets, gamma=2.0, alpha=0.25, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction)
    p = torch.sigmoid(logits)
    p_t = targets * p + (1 - targets) * (1 - p)
    loss = -((1 - p_t) ** gamma) * torch.log(p_t)  # bug: log of a rounded probability
    if alpha is not None:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]
"""
WEIGHTS_INVERTED = """
def balanced_class_weights(targets):
    labels = torch.as_tensor(targets).reshape(-1)
    counts = torch.stack([(labels == 0).sum(), (labels == 1).sum()]).float()
    return 2 * counts / labels.numel()  # bug: n_c / (n / 2), the inverse
"""
WEIGHTED_MEAN_OVER_N = """
def weighted_bce_loss(logits, targets, class_weights, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction)
    w = torch.as_tensor(class_weights, dtype=logits.dtype, device=logits.device)
    w_i = w[0] * (1 - targets) + w[1] * targets
    loss = w_i * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]  # bug: / n
"""
RANKING_OF_MEANS = """
def ranking_loss(logits, targets):
    pos, neg = logits[targets > 0.5], logits[targets <= 0.5]
    if pos.numel() == 0 or neg.numel() == 0:
        return logits.sum() * 0.0
    return F.softplus(neg.mean() - pos.mean())  # bug: one pair of means, not all pairs
"""
RANKING_NAIVE = """
def ranking_loss(logits, targets):
    pos, neg = logits[targets > 0.5], logits[targets <= 0.5]
    if pos.numel() == 0 or neg.numel() == 0:
        return logits.sum() * 0.0
    return torch.log(1 + torch.exp(neg[None, :] - pos[:, None])).mean()  # bug: overflows
"""
COMBINED_UNWEIGHTED = """
def combined_loss(logits, targets, gamma=2.0, alpha=0.25, aux_weight=0.1):
    return focal_loss(logits, targets, gamma=gamma, alpha=alpha) + ranking_loss(logits, targets)
"""
FOCAL_LIBRARY = """
from course_lib.losses import sigmoid_focal_loss

def focal_loss(logits, targets, gamma=2.0, alpha=0.25, reduction="mean"):
    return sigmoid_focal_loss(logits, targets, alpha=-1 if alpha is None else alpha,
                              gamma=gamma, reduction=reduction)
"""

WRONG_CELLS = {
    "focal_without_alpha": (
        {"answer_focal": FOCAL_NO_ALPHA},
        {
            "focal_public",
            "focal_values",
            "focal_grad",
            "focal_extreme",
            "combined_public",
            "combined_values",
            "api_contract",
            "from_scratch",
        },
    ),
    "focal_naive_log": ({"answer_focal": FOCAL_NAIVE_LOG}, {"focal_extreme"}),
    "focal_from_library": ({"answer_focal": FOCAL_LIBRARY}, {"from_scratch"}),
    "class_weights_inverted": (
        {"answer_weights": WEIGHTS_INVERTED},
        {"class_weights_public", "class_weights_values"},
    ),
    "weighted_bce_mean_over_n": (
        {"answer_weighted": WEIGHTED_MEAN_OVER_N},
        {"weighted_bce_public", "weighted_bce_values", "weighted_bce_grad", "api_contract"},
    ),
    "ranking_of_means": (
        {"answer_ranking": RANKING_OF_MEANS},
        {
            "ranking_public",
            "ranking_values",
            "ranking_grad_extreme",
            "combined_values",
            "api_contract",
        },
    ),
    "ranking_overflows": ({"answer_ranking": RANKING_NAIVE}, {"ranking_grad_extreme"}),
    "combined_without_aux_weight": (
        {"answer_combined": COMBINED_UNWEIGHTED},
        {"combined_public", "combined_values", "api_contract"},
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
    flipped = FOCAL_NO_ALPHA.replace(
        "ce = F.binary", "targets = 1 - targets  # bug\n    ce = F.binary"
    )
    fails = ASSIGNMENT.failing(ASSIGNMENT.submission({"answer_focal": flipped}), include_slow=True)
    assert "training_outcome" in fails and "focal_loss" in fails["training_outcome"]
