"""Public tests of the ``loss_functions`` assignment: run them from the notebook.

Each test is one cell of the notebook (``run_public_test("<name>")``). They check small cases
you can verify by hand; the hidden tests that run at grading check many more inputs, the
gradients, the API contract and a training run, so passing these is necessary, not sufficient.
"""

import numpy as np

from course_lib.grading.testing import StudentCode, TestSuite, expect, expect_close

# What the answer cells may not use: the point is to write these losses yourself.
FORBID = [
    "torch.nn.functional.mse_loss",
    "torch.nn.functional.l1_loss",
    "torch.nn.functional.huber_loss",
    "torch.nn.functional.smooth_l1_loss",
    "torch.nn.MSELoss",
    "torch.nn.L1Loss",
    "torch.nn.HuberLoss",
    "torch.nn.SmoothL1Loss",
    "course_lib.losses.*",
]

suite = TestSuite("loss_functions", forbid=FORBID)

PRED = np.array([1.0, 2.0, 3.0])
TARGET = np.array([1.0, 0.0, 0.0])  # residuals 0, 2, 3


@suite.test("mse_public", points=1, description="mse_loss on three residuals you can check")
def _(student: StudentCode) -> None:
    expect_close(
        student.call("mse_loss", PRED, TARGET, reduction="none"),
        np.array([0.0, 4.0, 9.0]),
        what="mse_loss(pred, target, reduction='none') for residuals [0, 2, 3]",
    )
    expect_close(
        student.call("mse_loss", PRED, TARGET),
        13.0 / 3.0,
        what="mse_loss(pred, target) (default reduction 'mean') for residuals [0, 2, 3]",
    )
    expect_close(
        student.call("mse_loss", PRED, TARGET, reduction="sum"),
        13.0,
        what="mse_loss(pred, target, reduction='sum') for residuals [0, 2, 3]",
    )


@suite.test("mae_public", points=1, description="mae_loss on three residuals you can check")
def _(student: StudentCode) -> None:
    pred = np.array([1.0, -2.0, 3.0])  # residuals 0, -2, 3
    expect_close(
        student.call("mae_loss", pred, TARGET, reduction="none"),
        np.array([0.0, 2.0, 3.0]),
        what="mae_loss(pred, target, reduction='none') for residuals [0, -2, 3]",
    )
    expect_close(
        student.call("mae_loss", pred, TARGET),
        5.0 / 3.0,
        what="mae_loss(pred, target) (default reduction 'mean') for residuals [0, -2, 3]",
    )


@suite.test("huber_public", points=1, description="huber_loss on both sides of delta")
def _(student: StudentCode) -> None:
    pred = np.array([0.5, 3.0, -2.0])
    target = np.zeros(3)
    expect_close(
        student.call("huber_loss", pred, target, delta=1.0, reduction="none"),
        np.array([0.125, 2.5, 1.5]),
        what="huber_loss(pred, target, delta=1.0, reduction='none') for residuals [0.5, 3, -2]",
    )
    expect_close(
        student.call("huber_loss", np.array([3.0]), np.array([0.0]), delta=2.0),
        4.0,
        what="huber_loss(pred, target, delta=2.0) for the residual 3.0",
    )


@suite.test("reductions_public", points=1, description="reduction='none' keeps the input's shape")
def _(student: StudentCode) -> None:
    pred = np.arange(6.0).reshape(2, 3)
    target = np.ones((2, 3))
    for name in ("mse_loss", "mae_loss", "huber_loss"):
        out = student.call(name, pred, target, reduction="none")
        expect(
            np.shape(out) == (2, 3),
            f"{name}(pred, target, reduction='none') on inputs of shape (2, 3) returned shape "
            f"{np.shape(out)}; expected one loss per element, shape (2, 3)",
        )
        total = student.call(name, pred, target, reduction="sum")
        expect(
            np.shape(total) == (),
            f"{name}(pred, target, reduction='sum') returned shape {np.shape(total)}; expected "
            "a single number (a 0-dimensional tensor)",
        )
