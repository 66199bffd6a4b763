"""mse_loss, l1_loss, huber_loss, smooth_l1_loss against torch.nn.functional."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from course_lib.losses import huber_loss, l1_loss, mse_loss, smooth_l1_loss
from tests.losses.helpers import assert_same_value_and_grad, leaf

REDUCTIONS = ("none", "mean", "sum")
SHAPES = ((), (5,), (3, 4, 2), (0,))


def _data(shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = leaf(2 * torch.randn(shape, generator=gen, dtype=torch.float64))
    y = leaf(torch.randn(shape, generator=gen, dtype=torch.float64))
    w = leaf(torch.rand(shape, generator=gen, dtype=torch.float64) + 0.1)
    return x, y, w


@pytest.mark.parametrize(
    ("name", "reduction", "shape", "weighted"),
    list(itertools.product(("mse", "l1"), REDUCTIONS, SHAPES, (False, True))),
)
def test_mse_and_l1_match_torch(name, reduction, shape, weighted):
    ours, ref = {"mse": (mse_loss, F.mse_loss), "l1": (l1_loss, F.l1_loss)}[name]
    x, y, w = _data(shape)
    weight = w if weighted else None
    assert_same_value_and_grad(
        lambda: ours(x, y, reduction=reduction, weight=weight),
        lambda: ref(x, y, reduction=reduction, weight=weight),
        [x, y, w] if weighted else [x, y],
    )


@pytest.mark.parametrize(
    ("delta", "reduction", "shape", "weighted"),
    list(itertools.product((0.5, 1.0, 2.0), REDUCTIONS, SHAPES, (False, True))),
)
def test_huber_matches_torch(delta, reduction, shape, weighted):
    x, y, w = _data(shape, seed=1)
    weight = w if weighted else None
    assert_same_value_and_grad(
        lambda: huber_loss(x, y, reduction, delta, weight),
        lambda: F.huber_loss(x, y, reduction, delta, weight),
        [x, y, w] if weighted else [x, y],
    )


@pytest.mark.parametrize(
    ("beta", "reduction", "shape"),
    list(itertools.product((0.0, 0.5, 1.0, 2.0), REDUCTIONS, SHAPES)),
)
def test_smooth_l1_matches_torch(beta, reduction, shape):
    x, y, _ = _data(shape, seed=2)
    assert_same_value_and_grad(
        lambda: smooth_l1_loss(x, y, reduction=reduction, beta=beta),
        lambda: F.smooth_l1_loss(x, y, reduction=reduction, beta=beta),
        [x, y],
    )


# Residuals exactly at every kink (0, +-1, +-delta, +-beta) and on both sides of it.
KINKS = torch.tensor([-3.0, -2.0, -1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0])


@pytest.mark.parametrize("param", (0.5, 1.0, 2.0))
def test_gradients_at_the_kinks_match_torch(param):
    x, y = leaf(KINKS), leaf(torch.zeros_like(KINKS))
    pairs = [
        (lambda: l1_loss(x, y, reduction="sum"), lambda: F.l1_loss(x, y, reduction="sum")),
        (lambda: huber_loss(x, y, "sum", param), lambda: F.huber_loss(x, y, "sum", param)),
        (
            lambda: smooth_l1_loss(x, y, reduction="sum", beta=param),
            lambda: F.smooth_l1_loss(x, y, reduction="sum", beta=param),
        ),
    ]
    for ours, ref in pairs:
        assert_same_value_and_grad(ours, ref, [x, y])


def test_huber_and_smooth_l1_coincide_only_at_one():
    x, y, _ = _data((50,), seed=3)
    one = torch.testing.assert_close
    one(huber_loss(x, y, delta=1.0), smooth_l1_loss(x, y, beta=1.0), rtol=1e-12, atol=0)
    assert not torch.allclose(huber_loss(x, y, delta=2.0), smooth_l1_loss(x, y, beta=2.0))
    # Smooth L1 is Huber divided by beta.
    one(huber_loss(x, y, delta=2.0) / 2.0, smooth_l1_loss(x, y, beta=2.0), rtol=1e-12, atol=0)


def test_weighted_mean_conventions_differ_like_torch():
    x, y, w = _data((6,), seed=4)
    se, ae = (x - y) ** 2, (x - y).abs()
    torch.testing.assert_close(mse_loss(x, y, weight=w), (w * se).sum() / w.sum())
    torch.testing.assert_close(l1_loss(x, y, weight=w), (w * ae).sum() / w.sum())
    h = huber_loss(x, y, reduction="none")
    torch.testing.assert_close(huber_loss(x, y, weight=w), (w * h).mean())


def test_bad_arguments_raise():
    x, y, _ = _data((3,))
    with pytest.raises(ValueError, match="delta"):
        huber_loss(x, y, delta=0.0)
    with pytest.raises(ValueError, match="beta"):
        smooth_l1_loss(x, y, beta=-1.0)
    with pytest.raises(ValueError, match="weight"):
        mse_loss(x, y, weight=torch.ones(2, dtype=torch.float64))
