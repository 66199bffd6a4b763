"""Hidden tests of the ``imbalanced_loss`` assignment (never released to students).

References are computed here, in the trusted process, from the formulas with torch (float64),
``torch.nn.functional`` and scikit-learn; the student's code runs only through
:class:`StudentCode` (``call`` or a driver in ``course_lib.grading.drivers.imbalanced_loss``).
"""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight

from course_lib.grading.forbid import find_forbidden
from course_lib.grading.testing import StudentCode, TestSuite, expect, expect_close

FORBID = ["course_lib.losses.*", "torchvision.*"]

suite = TestSuite("imbalanced_loss", hidden=True, forbid=FORBID)

REDUCTIONS = ("none", "mean", "sum")


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def focal_reference(
    x: torch.Tensor, t: torch.Tensor, gamma: float, alpha: float | None, reduction: str = "mean"
) -> torch.Tensor:
    """RetinaNet's focal loss on logits, -alpha_t (1 - p_t)^gamma log p_t (differentiable)."""
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    one_minus_pt = t * torch.sigmoid(-x) + (1 - t) * torch.sigmoid(x)
    loss = one_minus_pt**gamma * ce
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return _reduce(loss, reduction)


def weighted_bce_reference(
    x: torch.Tensor, t: torch.Tensor, w: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Class-weighted BCE as torch's two-class cross-entropy on the logits [0, x]."""
    two = torch.stack([torch.zeros_like(x), x], dim=-1).reshape(-1, 2)
    out = F.cross_entropy(two, t.reshape(-1).long(), weight=w, reduction=reduction)
    return out.reshape(x.shape) if reduction == "none" else out


def ranking_reference(x: np.ndarray, t: np.ndarray) -> float:
    """Mean of log(1 + exp(s_neg - s_pos)) over every (positive, negative) pair; 0 if none."""
    pos, neg = x[t > 0.5], x[t <= 0.5]
    if pos.size == 0 or neg.size == 0:
        return 0.0
    return float(np.mean(np.logaddexp(0.0, neg[None, :] - pos[:, None])))


def ranking_reference_grad(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    xt = _t(x).requires_grad_(True)
    pos, neg = xt[_t(t) > 0.5], xt[_t(t) <= 0.5]
    F.softplus(neg[None, :] - pos[:, None]).mean().backward()
    return xt.grad.numpy()


def _batch(seed: int, n: int, rate: float = 0.3, scale: float = 2.0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    targets = (rng.random(n) < rate).astype(np.float64)
    targets[:2] = [1.0, 0.0]  # both classes present
    return rng.normal(size=n) * scale, targets


def _grad(student: StudentCode, name: str, args: list, options: dict, **kw: object) -> dict:
    got = student.run_driver(
        "imbalanced_loss:value_and_grad", name=name, args=args, options=options, **kw
    )
    expect(got.get("is_tensor"), f"{name} did not return a torch tensor")
    return got


@suite.test(
    "focal_values",
    points=3,
    description="focal_loss matches -alpha_t (1 - p_t)^gamma log p_t for several gamma and alpha",
)
def _(student: StudentCode) -> None:
    x, t = _batch(1, 24)
    for gamma in (0.0, 0.5, 2.0, 5.0):
        for alpha in (None, 0.25, 0.9):
            for reduction in REDUCTIONS:
                expect_close(
                    student.call("focal_loss", x, t, gamma=gamma, alpha=alpha, reduction=reduction),
                    focal_reference(_t(x), _t(t), gamma, alpha, reduction).numpy(),
                    what=f"focal_loss(logits, targets, gamma={gamma}, alpha={alpha}, "
                    f"reduction={reduction!r}) on 24 random logits",
                    rtol=1e-8,
                    atol=1e-12,
                )
    expect_close(
        student.call("focal_loss", x.reshape(4, 6), t.reshape(4, 6), reduction="none"),
        focal_reference(_t(x), _t(t), 2.0, 0.25, "none").numpy().reshape(4, 6),
        what="focal_loss(logits, targets, reduction='none') with the defaults on a 4x6 batch",
        rtol=1e-8,
        atol=1e-12,
    )


@suite.test("focal_is_bce", points=1, description="focal_loss with gamma=0 and alpha=None is BCE")
def _(student: StudentCode) -> None:
    x, t = _batch(2, 16)
    for reduction in REDUCTIONS:
        expect_close(
            student.call("focal_loss", x, t, gamma=0.0, alpha=None, reduction=reduction),
            F.binary_cross_entropy_with_logits(_t(x), _t(t), reduction=reduction).numpy(),
            what=f"focal_loss(logits, targets, gamma=0, alpha=None, reduction={reduction!r}) "
            "(must equal binary cross-entropy)",
            rtol=1e-8,
            atol=1e-12,
        )


@suite.test("focal_grad", points=2, description="the gradient of focal_loss")
def _(student: StudentCode) -> None:
    x, t = _batch(3, 20)
    for gamma, alpha in ((2.0, 0.25), (1.0, None), (3.0, 0.75)):
        got = _grad(student, "focal_loss", [x, t], {"gamma": gamma, "alpha": alpha}, device="cpu")
        xt = _t(x).requires_grad_(True)
        focal_reference(xt, _t(t), gamma, alpha).backward()
        expect(got["grad"] is not None, "the gradient of focal_loss did not reach the logits")
        expect_close(
            got["grad"],
            xt.grad.numpy(),
            what=f"the gradient of focal_loss(logits, targets, gamma={gamma}, alpha={alpha}) "
            "with respect to the logits",
            rtol=1e-7,
            atol=1e-12,
        )


@suite.test(
    "focal_extreme",
    points=2,
    description="focal_loss stays finite and correct for logits of +-30 and +-200 (float32)",
)
def _(student: StudentCode) -> None:
    x = np.array([200.0, -200.0, 30.0, -30.0, 200.0, -200.0, 30.0, -30.0, 0.0, 5.0])
    t = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    got = _grad(
        student,
        "focal_loss",
        [x.astype(np.float32), t.astype(np.float32)],
        {"reduction": "none"},
        device="cpu",
    )
    xt = _t(x).requires_grad_(True)
    ref = focal_reference(xt, _t(t), 2.0, 0.25, "none")
    ref.sum().backward()
    what = f"focal_loss(logits={x.tolist()}, targets={t.tolist()}, reduction='none') in float32"
    expect_close(got["value"], ref.detach().numpy(), what=what, rtol=1e-4, atol=1e-5)
    expect(got["grad"] is not None, "the gradient of focal_loss did not reach the logits")
    expect_close(got["grad"], xt.grad.numpy(), what="the gradient of " + what, rtol=1e-4, atol=1e-5)


@suite.test(
    "class_weights_values",
    points=2,
    description="balanced_class_weights is n / (2 n_c), as scikit-learn's 'balanced'; 0 if absent",
)
def _(student: StudentCode) -> None:
    rng = np.random.default_rng(4)
    for labels in (
        (rng.random(200) < 0.05).astype(np.int64),
        (rng.random(37) < 0.5).astype(np.float32),
        np.array([1, 1, 0], dtype=np.int64),
    ):
        labels[:2] = [0, 1]
        expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=labels)
        expect_close(
            student.call("balanced_class_weights", labels),
            expected,
            what=f"balanced_class_weights on {labels.size} labels ({int(labels.sum())} "
            f"positive, dtype {labels.dtype})",
            rtol=1e-6,
        )
    for labels, expected in ((np.zeros(8, np.int64), [0.5, 0.0]), (np.ones(5), [0.0, 0.5])):
        expect_close(
            student.call("balanced_class_weights", labels),
            np.array(expected),
            what=f"balanced_class_weights(targets={labels.tolist()}) (one class only: the "
            "absent class gets weight 0)",
            rtol=1e-6,
        )


@suite.test(
    "weighted_bce_values",
    points=3,
    description="weighted_bce_loss matches torch's class-weighted cross-entropy, every reduction,"
    " also on all-one-class batches",
)
def _(student: StudentCode) -> None:
    x, t = _batch(5, 30, rate=0.1)
    batches = [
        ("a mixed batch", x, t),
        ("an all-negative batch", x[:9], np.zeros(9)),
        ("an all-positive batch", x[:7], np.ones(7)),
    ]
    for w in (np.array([0.55, 5.0]), np.array([1.0, 1.0]), np.array([2.0, 0.3])):
        for label, xb, tb in batches:
            for reduction in REDUCTIONS:
                expect_close(
                    student.call("weighted_bce_loss", xb, tb, w, reduction=reduction),
                    weighted_bce_reference(_t(xb), _t(tb), _t(w), reduction).numpy(),
                    what=f"weighted_bce_loss(logits, targets, class_weights={w.tolist()}, "
                    f"reduction={reduction!r}) on {label}",
                    rtol=1e-8,
                    atol=1e-12,
                )


@suite.test("weighted_bce_grad", points=1, description="the gradient of weighted_bce_loss")
def _(student: StudentCode) -> None:
    x, t = _batch(6, 25, rate=0.2)
    w = np.array([0.6, 3.5])
    for reduction in ("mean", "sum"):
        got = _grad(student, "weighted_bce_loss", [x, t, w], {"reduction": reduction}, device="cpu")
        xt = _t(x).requires_grad_(True)
        weighted_bce_reference(xt, _t(t), _t(w), reduction).backward()
        expect(
            got["grad"] is not None, "the gradient of weighted_bce_loss did not reach the logits"
        )
        expect_close(
            got["grad"],
            xt.grad.numpy(),
            what=f"the gradient of weighted_bce_loss(logits, targets, class_weights=[0.6, 3.5], "
            f"reduction={reduction!r})",
            rtol=1e-7,
            atol=1e-12,
        )


@suite.test(
    "ranking_values",
    points=2,
    description="ranking_loss: mean softplus(s_neg - s_pos) over all pairs; 0 without pairs",
)
def _(student: StudentCode) -> None:
    for seed, n, rate in ((7, 12, 0.3), (8, 40, 0.05), (9, 9, 0.8)):
        x, t = _batch(seed, n, rate=rate)
        expect_close(
            student.call("ranking_loss", x, t),
            ranking_reference(x, t),
            what=f"ranking_loss(logits, targets) on {n} logits with {int(t.sum())} positives",
            rtol=1e-8,
        )
    x = np.array([0.3, -1.2, 2.0])
    for t in (np.zeros(3), np.ones(3)):
        expect_close(
            student.call("ranking_loss", x, t),
            0.0,
            what=f"ranking_loss(logits={x.tolist()}, targets={t.tolist()}) (no positive-negative "
            "pair)",
        )


@suite.test(
    "ranking_grad_extreme",
    points=1,
    description="ranking_loss's gradient, and finite values for logits of +-100 (float32)",
)
def _(student: StudentCode) -> None:
    x, t = _batch(10, 15, rate=0.3)
    got = _grad(student, "ranking_loss", [x, t], {}, device="cpu")
    expect(got["grad"] is not None, "the gradient of ranking_loss did not reach the logits")
    expect_close(
        got["grad"],
        ranking_reference_grad(x, t),
        what="the gradient of ranking_loss(logits, targets) on 15 logits",
        rtol=1e-7,
        atol=1e-12,
    )
    x = np.array([-100.0, 100.0, 100.0, -100.0])
    t = np.array([1.0, 0.0, 1.0, 0.0])
    got = _grad(student, "ranking_loss", [x.astype(np.float32), t.astype(np.float32)], {})
    what = f"ranking_loss(logits={x.tolist()}, targets={t.tolist()}) in float32"
    expect_close(got["value"], ranking_reference(x, t), what=what, rtol=1e-5)
    expect(got["grad"] is not None, "the gradient of ranking_loss did not reach the logits")
    expect_close(
        got["grad"],
        ranking_reference_grad(x, t),
        what="the gradient of " + what,
        rtol=1e-5,
        atol=1e-7,
    )


@suite.test(
    "combined_values",
    points=2,
    description="combined_loss = focal_loss (mean) + aux_weight * ranking_loss",
)
def _(student: StudentCode) -> None:
    x, t = _batch(11, 32, rate=0.1)
    for gamma, alpha, aux in ((2.0, 0.25, 0.1), (1.0, None, 2.0), (0.0, 0.75, 0.0)):
        expected = focal_reference(_t(x), _t(t), gamma, alpha).item() + aux * ranking_reference(
            x, t
        )
        expect_close(
            student.call("combined_loss", x, t, gamma=gamma, alpha=alpha, aux_weight=aux),
            expected,
            what=f"combined_loss(logits, targets, gamma={gamma}, alpha={alpha}, aux_weight={aux})",
            rtol=1e-8,
        )
    expected = focal_reference(_t(x[:6]), _t(np.zeros(6)), 2.0, 0.25).item()
    expect_close(
        student.call("combined_loss", x[:6], np.zeros(6)),
        expected,
        what="combined_loss(logits, targets) with the defaults on an all-negative batch",
        rtol=1e-8,
    )


def _value(student: StudentCode, name: str, args: list, options: dict) -> dict:
    got = _grad(student, name, args, options)
    expect(
        got["dtype"] == got["input_dtype"],
        f"{name} on {got['input_dtype']} logits returned a {got['dtype']} tensor; keep the "
        "logits' dtype",
    )
    expect(
        got["device"] == got["expected_device"],
        f"{name} on logits on the {got['expected_device']} device returned a tensor on "
        f"{got['device']}; keep every tensor on the logits' device",
    )
    return got


@suite.test(
    "api_contract",
    points=2,
    description="every loss: float32/float64 kept, runs on the grader's device (GPU if any), "
    "shapes of the reductions, ValueError for an unknown reduction",
)
def _(student: StudentCode) -> None:
    x, t = _batch(12, 12, rate=0.4)
    w = np.array([0.7, 1.8])
    for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-9)):
        xd, td = x.astype(dtype), t.astype(dtype)
        cases = {
            "focal_loss": ([xd, td], {}, focal_reference(_t(x), _t(t), 2.0, 0.25).numpy()),
            "weighted_bce_loss": (
                [xd, td, w],
                {},
                weighted_bce_reference(_t(x), _t(t), _t(w)).numpy(),
            ),
            "ranking_loss": ([xd, td], {}, ranking_reference(x, t)),
            "combined_loss": (
                [xd, td],
                {},
                focal_reference(_t(x), _t(t), 2.0, 0.25).item() + 0.1 * ranking_reference(x, t),
            ),
        }
        for name, (args, options, expected) in cases.items():
            got = _value(student, name, args, options)
            expect_close(
                got["value"],
                expected,
                what=f"{name} on {got['input_dtype']} inputs on {got['expected_device']}",
                rtol=rtol,
                atol=1e-7,
            )
    for name, args in (("focal_loss", [x, t]), ("weighted_bce_loss", [x, t, w])):
        got = _value(
            student,
            name,
            [a.reshape(3, 4) if a.size == 12 else a for a in args],
            {"reduction": "none"},
        )
        expect(
            tuple(got["shape"]) == (3, 4),
            f"{name}(..., reduction='none') on a 3x4 batch returned shape {tuple(got['shape'])}"
            "; expected (3, 4)",
        )
        err = student.run_driver(
            "imbalanced_loss:error_of", name=name, args=args, options={"reduction": "avg"}
        )
        expect(
            err["error"] == "ValueError",
            f"{name}(..., reduction='avg') "
            + ("raised no error" if err["error"] is None else f"raised {err['error']}")
            + "; an unknown reduction must raise ValueError",
        )


@suite.test(
    "from_scratch",
    points=1,
    description="the losses are written without course_lib's (or torchvision's) focal loss",
)
def _(student: StudentCode) -> None:
    x, t = _batch(13, 10)
    expect_close(
        student.call("focal_loss", x, t),
        focal_reference(_t(x), _t(t), 2.0, 0.25).numpy(),
        what="focal_loss(logits, targets)",
        rtol=1e-8,
    )
    found = find_forbidden(student.source, FORBID)
    expect(
        not found,
        "your answer cells use a library's loss, which this assignment asks you to write "
        "yourself: " + "; ".join(found),
    )


@suite.test(
    "training_outcome",
    points=4,
    description="a CNN trained with your focal_loss on PneumoniaMNIST at 5% pneumonia (cpu preset)"
    " reaches the test AUROC of one trained with the reference focal loss",
    timeout=600,
)
def _(student: StudentCode) -> None:
    got = student.run_driver(
        "imbalanced_loss:train", timeout=580, gamma=2.0, alpha=0.25, seed=0, preset="cpu"
    )
    mine, ref = got["student"], got["reference"]
    expect(
        not mine["diverged"] and mine["test_auroc"] is not None,
        "training with your focal_loss diverged (the loss became NaN or infinite); with the "
        f"reference focal loss the same run reached a test AUROC of {ref['test_auroc']:.3f}",
    )
    expect(
        abs(mine["test_auroc"] - ref["test_auroc"]) <= 0.03,
        f"a CNN trained with your focal_loss(gamma=2, alpha=0.25) reached a test AUROC of "
        f"{mine['test_auroc']:.3f}; trained the same way (same seed) with the reference focal "
        f"loss it reached {ref['test_auroc']:.3f} (allowed difference 0.03)",
    )
