"""binary_cross_entropy and binary_cross_entropy_with_logits against torch.nn.functional."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from course_lib.losses import binary_cross_entropy, binary_cross_entropy_with_logits
from tests.losses.helpers import assert_same_value_and_grad, leaf

REDUCTIONS = ("none", "mean", "sum")
SHAPES = ((5,), (4, 3), (2, 3, 3), (0, 3))
WEIGHTS = (None, "full", "broadcast")


def _weight(kind, shape, gen):
    if kind is None:
        return None
    w_shape = shape if kind == "full" else shape[-1:]
    return torch.rand(w_shape, generator=gen, dtype=torch.float64) + 0.2


@pytest.mark.parametrize(
    ("reduction", "shape", "weight_kind"), list(itertools.product(REDUCTIONS, SHAPES, WEIGHTS))
)
def test_bce_matches_torch(reduction, shape, weight_kind):
    gen = torch.Generator().manual_seed(0)
    p = leaf(torch.rand(shape, generator=gen, dtype=torch.float64) * 0.98 + 0.01)
    t = leaf(torch.rand(shape, generator=gen, dtype=torch.float64))
    w = _weight(weight_kind, shape, gen)
    assert_same_value_and_grad(
        lambda: binary_cross_entropy(p, t, w, reduction=reduction),
        lambda: F.binary_cross_entropy(p, t, w, reduction=reduction),
        [p, t],
    )


def test_bce_at_saturated_probabilities_follows_torch_clamps():
    # log is clamped at -100 in the forward; the backward divides by max(p(1-p), 1e-12) and the
    # target gradient -logit(p) is infinite at p in {0, 1}: all three are torch's.
    p = leaf(torch.tensor([0.0, 1e-50, 1e-20, 0.3, 1 - 1e-16, 1.0]))
    t = leaf(torch.tensor([0.2, 0.5, 1.0, 0.7, 0.0, 0.9]))
    for reduction in REDUCTIONS:
        assert_same_value_and_grad(
            lambda r=reduction: binary_cross_entropy(p, t, reduction=r),
            lambda r=reduction: F.binary_cross_entropy(p, t, reduction=r),
            [p, t],
        )
    assert binary_cross_entropy(p[:1], t[:1].detach() * 0 + 1, reduction="sum").item() == 100.0


@pytest.mark.parametrize(
    ("reduction", "shape", "weight_kind", "pos_weighted"),
    list(itertools.product(REDUCTIONS, SHAPES, WEIGHTS, (False, True))),
)
def test_bce_with_logits_matches_torch(reduction, shape, weight_kind, pos_weighted):
    gen = torch.Generator().manual_seed(1)
    x = leaf(3 * torch.randn(shape, generator=gen, dtype=torch.float64))
    t = leaf(torch.rand(shape, generator=gen, dtype=torch.float64))
    w = _weight(weight_kind, shape, gen)
    pw = torch.rand(shape[-1:], generator=gen, dtype=torch.float64) * 3 if pos_weighted else None
    assert_same_value_and_grad(
        lambda: binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=pw),
        lambda: F.binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=pw),
        [x, t],
    )


def test_bce_with_logits_at_large_and_zero_logits_matches_torch():
    x = leaf(torch.tensor([-800.0, -40.0, -1e-8, 0.0, 1e-8, 40.0, 800.0]))
    t = leaf(torch.tensor([1.0, 0.0, 0.5, 1.0, 0.0, 0.3, 0.0]))
    pw = torch.tensor([2.0])
    assert_same_value_and_grad(
        lambda: binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=pw),
        lambda: F.binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=pw),
        [x, t],
    )


def test_bce_input_outside_unit_interval_raises():
    with pytest.raises(ValueError, match="with_logits"):
        binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="weight"):
        binary_cross_entropy(torch.rand(3), torch.rand(3), torch.rand(2))
    with pytest.raises(ValueError, match="pos_weight"):
        binary_cross_entropy_with_logits(
            torch.rand(2, 3), torch.rand(2, 3), pos_weight=torch.ones(2)
        )
