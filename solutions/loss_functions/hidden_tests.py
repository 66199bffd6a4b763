"""Hidden tests of the ``loss_functions`` assignment (never released to students).

References are computed here, in the trusted process, with ``torch.nn.functional`` and the
formulas; the student's code runs only through :class:`StudentCode` (``call`` or a driver in
``course_lib.grading.drivers.loss_functions``). Messages name the input and the mismatch.
"""

import numpy as np
import torch
import torch.nn.functional as F

from course_lib.grading.forbid import find_forbidden
from course_lib.grading.testing import StudentCode, TestFailure, TestSuite, expect, expect_close

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

suite = TestSuite("loss_functions", hidden=True, forbid=FORBID)

LOSSES = ("mse_loss", "mae_loss", "huber_loss")
REDUCTIONS = ("none", "mean", "sum")
SHAPES = ((7,), (4, 3), (2, 3, 2))


def _reference(name: str, pred: np.ndarray, target: np.ndarray, **kwargs: object) -> np.ndarray:
    """torch's value of the loss ``name`` (float64), as a numpy array."""
    fn = {"mse_loss": F.mse_loss, "mae_loss": F.l1_loss, "huber_loss": F.huber_loss}[name]
    p, t = torch.from_numpy(pred), torch.from_numpy(target)
    return fn(p, t, **kwargs).numpy()


def _reference_grad(
    name: str, pred: np.ndarray, target: np.ndarray, weights: np.ndarray | None, **kwargs: object
) -> np.ndarray:
    """torch's gradient of the loss with respect to ``pred`` (of ``sum(weights * loss)``)."""
    fn = {"mse_loss": F.mse_loss, "mae_loss": F.l1_loss, "huber_loss": F.huber_loss}[name]
    p = torch.from_numpy(pred.copy()).requires_grad_(True)
    out = fn(p, torch.from_numpy(target), **kwargs)
    out.backward(torch.ones_like(out) if weights is None else torch.from_numpy(weights))
    return p.grad.numpy()


def _inputs(seed: int, shape: tuple[int, ...], scale: float = 1.0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) * scale, rng.normal(size=shape) * scale


def _check_values(student: StudentCode, name: str, seed: int, **kwargs: object) -> None:
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    for i, shape in enumerate(SHAPES):
        pred, target = _inputs(seed + i, shape, scale=2.0)
        expect_close(
            student.call(name, pred, target, **kwargs),
            _reference(name, pred, target, **kwargs),
            what=f"{name}(pred, target{extra}) with the default reduction on random inputs "
            f"of shape {shape}",
            rtol=1e-9,
        )
        for reduction in REDUCTIONS:
            expect_close(
                student.call(name, pred, target, reduction=reduction, **kwargs),
                _reference(name, pred, target, reduction=reduction, **kwargs),
                what=f"{name}(pred, target{extra}, reduction={reduction!r}) on random inputs "
                f"of shape {shape}",
                rtol=1e-9,
            )


@suite.test("mse_values", points=2, description="mse_loss matches the definition, every reduction")
def _(student: StudentCode) -> None:
    _check_values(student, "mse_loss", seed=11)


@suite.test("mae_values", points=2, description="mae_loss matches the definition, every reduction")
def _(student: StudentCode) -> None:
    _check_values(student, "mae_loss", seed=21)


@suite.test(
    "huber_values", points=3, description="huber_loss matches the definition for several deltas"
)
def _(student: StudentCode) -> None:
    _check_values(student, "huber_loss", seed=31)  # the default delta, 1.0
    for delta in (0.3, 2.5):
        _check_values(student, "huber_loss", seed=41, delta=delta)


@suite.test(
    "huber_edges",
    points=2,
    description="huber_loss at the delta boundary, at zero and for very large residuals",
)
def _(student: StudentCode) -> None:
    for delta in (0.5, 1.0, 4.0):
        residuals = np.array([-1e6, -3 * delta, -delta, -0.999 * delta, 0.0, delta, 1.001 * delta])
        residuals = np.append(residuals, 1e6)
        expected = np.where(
            np.abs(residuals) <= delta,
            0.5 * residuals**2,
            delta * (np.abs(residuals) - 0.5 * delta),
        )
        got = student.call(
            "huber_loss", residuals, np.zeros_like(residuals), delta=delta, reduction="none"
        )
        expect_close(
            got,
            expected,
            what=f"huber_loss(pred, target, delta={delta}, reduction='none') for the residuals "
            f"{residuals.tolist()}",
            rtol=1e-9,
        )


def _check_grad(student: StudentCode, name: str, seed: int, **kwargs: object) -> None:
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    for reduction in REDUCTIONS:
        pred, target = _inputs(seed, (5, 4), scale=2.0)
        weights = None
        if reduction == "none":
            weights = np.random.default_rng(seed + 1).uniform(0.5, 1.5, size=(5, 4))
        args = {"reduction": reduction, **kwargs}
        got = student.run_driver(
            "loss_functions:value_and_grad",
            name=name,
            args=[pred, target],
            options=args,
            grad_weights=weights,
            device="cpu",
        )
        what = f"the gradient of {name}(pred, target{extra}, reduction={reduction!r})"
        expect(got.get("is_tensor"), f"{name} did not return a tensor, so it has no gradient")
        expect(
            got.get("grad") is not None,
            f"{what} did not reach pred: build the loss from torch operations on pred, "
            "without .detach(), .item() or numpy",
        )
        expect_close(
            got["grad"],
            _reference_grad(name, pred, target, weights, **args),
            what=what
            + " with respect to pred"
            + (" (weighted sum)" if weights is not None else ""),
            rtol=1e-9,
        )


@suite.test("mse_grad", points=2, description="the gradient of mse_loss is 2 r / n")
def _(student: StudentCode) -> None:
    _check_grad(student, "mse_loss", seed=51)


@suite.test("mae_grad", points=1, description="the gradient of mae_loss is sign(r) / n")
def _(student: StudentCode) -> None:
    _check_grad(student, "mae_loss", seed=61)


@suite.test(
    "huber_grad", points=2, description="the gradient of huber_loss is clip(r, -delta, delta)"
)
def _(student: StudentCode) -> None:
    _check_grad(student, "huber_loss", seed=71)
    _check_grad(student, "huber_loss", seed=72, delta=0.4)


@suite.test(
    "reduction_contract",
    points=2,
    description="every loss: result shapes for each reduction, ValueError for an unknown one",
)
def _(student: StudentCode) -> None:
    pred, target = _inputs(81, (3, 4))
    for name in LOSSES:
        for reduction, shape in (("none", (3, 4)), ("mean", ()), ("sum", ())):
            out = student.call(name, pred, target, reduction=reduction)
            expect(
                np.shape(out) == shape,
                f"{name}(pred, target, reduction={reduction!r}) on inputs of shape (3, 4) "
                f"returned shape {np.shape(out)}; expected {shape}",
            )
        got = student.run_driver(
            "loss_functions:error_of", name=name, args=[pred, target], options={"reduction": "avg"}
        )
        expect(
            got["error"] == "ValueError",
            f"{name}(pred, target, reduction='avg') "
            + (
                "raised no error"
                if got["error"] is None
                else f"raised {got['error']} ({got['message']})"
            )
            + "; an unknown reduction must raise ValueError",
        )


@suite.test(
    "dtype_device",
    points=2,
    description="every loss keeps float32/float64 and runs on the grader's device (GPU if any)",
)
def _(student: StudentCode) -> None:
    for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-9)):
        pred, target = (a.astype(dtype) for a in _inputs(91, (6, 2), scale=3.0))
        for name in LOSSES:
            got = student.run_driver(
                "loss_functions:value_and_grad", name=name, args=[pred, target]
            )
            expect(
                got.get("is_tensor"), f"{name} returned a {type(got.get('value'))}, not a tensor"
            )
            expect(
                got["dtype"] == got["input_dtype"],
                f"{name} on {got['input_dtype']} inputs returned a {got['dtype']} tensor; "
                "the loss must keep the inputs' dtype",
            )
            expect(
                got["device"] == got["expected_device"],
                f"{name} on inputs on the {got['expected_device']} device returned a tensor on "
                f"{got['device']}; keep every tensor on the inputs' device",
            )
            expect_close(
                got["value"],
                _reference(name, pred.astype(np.float64), target.astype(np.float64)),
                what=f"{name}(pred, target) on {got['input_dtype']} inputs on "
                f"{got['expected_device']}",
                rtol=rtol,
            )


@suite.test(
    "from_scratch",
    points=1,
    description="the losses are computed without torch's or course_lib's loss functions",
)
def _(student: StudentCode) -> None:
    pred, target = np.array([0.3, -1.7, 2.6, -0.4]), np.array([0.1, 0.2, -0.3, 0.0])
    for name in LOSSES:
        expect_close(
            student.call(name, pred, target),
            _reference(name, pred, target),
            what=f"{name}(pred, target)",
            rtol=1e-9,
        )
    found = find_forbidden(student.source, FORBID)
    expect(
        not found,
        "your answer cells use a built-in loss function, which this assignment asks you to "
        "write yourself: " + "; ".join(found),
    )


@suite.test(
    "training_outcome",
    points=4,
    description="an MLP trained with each of your losses on California Housing with 5% outliers "
    "(cpu preset) is as good as one trained with torch's loss",
    timeout=600,
)
def _(student: StudentCode) -> None:
    results = student.run_driver(
        "loss_functions:train", timeout=580, outlier_fraction=0.05, seed=0, preset="cpu"
    )
    for name in LOSSES:
        if name not in results:
            raise TestFailure(f"the training run with {name} returned no result")
        mine, ref = results[name]["student"], results[name]["reference"]
        expect(
            not mine["diverged"] and mine["test_mse"] is not None,
            f"training with your {name} diverged (the loss became NaN or infinite); with "
            "torch's loss the same run reached a clean test MSE of "
            f"{ref['test_mse']:.3f}",
        )
        band = 0.05 + 0.15 * ref["test_mse"]
        expect(
            abs(mine["test_mse"] - ref["test_mse"]) <= band,
            f"an MLP trained with your {name} reached a clean test MSE of "
            f"{mine['test_mse']:.3f}; trained the same way (same seed) with torch's loss it "
            f"reached {ref['test_mse']:.3f} (allowed difference {band:.3f})",
        )
