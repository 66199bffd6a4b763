"""Public tests of the ``imbalanced_loss`` assignment: run them from the notebook.

Each test is one cell of the notebook (``run_public_test("<name>")``) and checks a small case
you can verify by hand. The hidden tests that run at grading check many more inputs, the
gradients, extreme logits, all-one-class batches, the API contract and a training run.
"""

import math

import numpy as np

from course_lib.grading.testing import StudentCode, TestSuite, expect_close

# What the answer cells may not use: the point is to write these losses yourself.
FORBID = ["course_lib.losses.*", "torchvision.*"]

suite = TestSuite("imbalanced_loss", forbid=FORBID)

LN2 = math.log(2.0)


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


@suite.test("focal_public", points=1, description="focal_loss: gamma=0 without alpha is BCE")
def _(student: StudentCode) -> None:
    logits, targets = np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.0, 0.0])
    bce = np.array([_softplus(-2.0), _softplus(-1.0), _softplus(0.5)])
    expect_close(
        student.call("focal_loss", logits, targets, gamma=0.0, alpha=None, reduction="none"),
        bce,
        what="focal_loss(logits=[2, -1, 0.5], targets=[1, 0, 0], gamma=0, alpha=None, "
        "reduction='none')",
    )
    # logit 0 on a positive: p_t = 0.5, (1 - p_t)^2 = 0.25, alpha_t = 0.25, -log p_t = ln 2.
    expect_close(
        student.call("focal_loss", np.array([0.0]), np.array([1.0])),
        0.25 * 0.25 * LN2,
        what="focal_loss(logits=[0], targets=[1]) with the defaults gamma=2, alpha=0.25",
    )


@suite.test("class_weights_public", points=1, description="balanced_class_weights of 3:1 labels")
def _(student: StudentCode) -> None:
    expect_close(
        student.call("balanced_class_weights", np.array([0, 0, 0, 1])),
        np.array([4 / 6, 4 / 2]),
        what="balanced_class_weights(targets=[0, 0, 0, 1])",
        rtol=1e-6,
    )


@suite.test("weighted_bce_public", points=1, description="weighted_bce_loss on two examples")
def _(student: StudentCode) -> None:
    logits, targets, weights = np.array([0.0, 0.0]), np.array([1.0, 0.0]), np.array([1.0, 3.0])
    expect_close(
        student.call("weighted_bce_loss", logits, targets, weights, reduction="none"),
        np.array([3 * LN2, LN2]),
        what="weighted_bce_loss(logits=[0, 0], targets=[1, 0], class_weights=[1, 3], "
        "reduction='none')",
    )
    expect_close(
        student.call("weighted_bce_loss", logits, targets, weights),
        (3 * LN2 + LN2) / (3 + 1),
        what="weighted_bce_loss(logits=[0, 0], targets=[1, 0], class_weights=[1, 3]) "
        "(the weighted mean: divide by the sum of the weights used)",
    )


@suite.test("ranking_public", points=1, description="ranking_loss on one positive, two negatives")
def _(student: StudentCode) -> None:
    logits, targets = np.array([2.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
    expect_close(
        student.call("ranking_loss", logits, targets),
        (_softplus(0.0 - 2.0) + _softplus(1.0 - 2.0)) / 2,
        what="ranking_loss(logits=[2, 0, 1], targets=[1, 0, 0])",
    )


@suite.test("combined_public", points=1, description="combined_loss adds the weighted ranking term")
def _(student: StudentCode) -> None:
    logits, targets = np.array([0.0, 0.0]), np.array([1.0, 0.0])
    # Both examples: p_t = 0.5; alpha_t = 0.25 and 0.75; the pair's ranking loss is ln 2.
    focal = (0.25 + 0.75) * 0.25 * LN2 / 2
    expect_close(
        student.call("combined_loss", logits, targets, gamma=2.0, alpha=0.25, aux_weight=0.5),
        focal + 0.5 * LN2,
        what="combined_loss(logits=[0, 0], targets=[1, 0], gamma=2, alpha=0.25, aux_weight=0.5)",
    )
