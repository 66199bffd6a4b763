"""Every public loss rejects a bad reduction and mismatched shapes with a helpful ValueError,
and the comparison harness itself can fail."""

import pytest
import torch
import torch.nn.functional as F

import course_lib.losses as L
from tests.losses.helpers import assert_same_value_and_grad, leaf

x, t = torch.rand(3, 4), torch.rand(3, 4)
k = torch.tensor([0, 1, 3])
pm1 = torch.ones(3, 4)

# Each loss with a valid call; the test adds reduction=... to it.
VALID = {
    "mse_loss": lambda **kw: L.mse_loss(x, t, **kw),
    "l1_loss": lambda **kw: L.l1_loss(x, t, **kw),
    "huber_loss": lambda **kw: L.huber_loss(x, t, **kw),
    "smooth_l1_loss": lambda **kw: L.smooth_l1_loss(x, t, **kw),
    "binary_cross_entropy": lambda **kw: L.binary_cross_entropy(x, t, **kw),
    "binary_cross_entropy_with_logits": lambda **kw: L.binary_cross_entropy_with_logits(x, t, **kw),
    "cross_entropy": lambda **kw: L.cross_entropy(x, k, **kw),
    "multi_margin_loss": lambda **kw: L.multi_margin_loss(x, k, **kw),
    "hinge_loss": lambda **kw: L.hinge_loss(x, pm1, **kw),
    "squared_hinge_loss": lambda **kw: L.squared_hinge_loss(x, pm1, **kw),
    "sigmoid_focal_loss": lambda **kw: L.sigmoid_focal_loss(x, t, **kw),
    "softmax_focal_loss": lambda **kw: L.softmax_focal_loss(x, k, **kw),
    "contrastive_loss": lambda **kw: L.contrastive_loss(x, t, k.clamp(max=1), **kw),
    "triplet_margin_loss": lambda **kw: L.triplet_margin_loss(x, t, t.flip(0), **kw),
    "batch_triplet_loss": lambda **kw: L.batch_triplet_loss(x, k, **kw),
}

# Each loss that compares two same-shaped tensors, called with mismatched ones.
MISMATCHED = {
    "mse_loss": lambda: L.mse_loss(x, t[:, :1]),
    "l1_loss": lambda: L.l1_loss(x, t[:1]),
    "huber_loss": lambda: L.huber_loss(x, t.T),
    "smooth_l1_loss": lambda: L.smooth_l1_loss(x, t[0]),
    "binary_cross_entropy": lambda: L.binary_cross_entropy(x, t[0]),
    "binary_cross_entropy_with_logits": lambda: L.binary_cross_entropy_with_logits(x, t[:, :1]),
    "hinge_loss": lambda: L.hinge_loss(x, pm1[0]),
    "squared_hinge_loss": lambda: L.squared_hinge_loss(x, pm1[:, :2]),
    "sigmoid_focal_loss": lambda: L.sigmoid_focal_loss(x, t[0]),
    "contrastive_loss": lambda: L.contrastive_loss(x, t[:2], k),
    "triplet_margin_loss": lambda: L.triplet_margin_loss(x, t, t[0]),
}


def test_every_public_loss_is_covered():
    losses = {n for n in L.__all__ if n.endswith("_loss") or n in ("cross_entropy",)}
    losses |= {"binary_cross_entropy", "binary_cross_entropy_with_logits"}
    assert losses == set(VALID)


@pytest.mark.parametrize("name", VALID)
def test_every_reduction_works_and_a_bad_one_raises(name):
    for reduction in L.REDUCTIONS:
        VALID[name](reduction=reduction)
    with pytest.raises(ValueError, match=r"reduction='avg'.*'none', 'mean' or 'sum'"):
        VALID[name](reduction="avg")


@pytest.mark.parametrize("name", MISMATCHED)
def test_mismatched_shapes_raise(name):
    with pytest.raises(ValueError, match="shape"):
        MISMATCHED[name]()


def test_the_harness_catches_a_wrong_value():
    a, b = leaf(torch.randn(5)), leaf(torch.randn(5))
    with pytest.raises(AssertionError, match="value"):
        assert_same_value_and_grad(
            lambda: L.mse_loss(a, b, reduction="sum"), lambda: F.mse_loss(a, b), [a, b]
        )


def test_the_harness_catches_a_wrong_gradient_with_a_right_value():
    a, b = leaf(torch.randn(5)), leaf(torch.randn(5))

    def detached_target():  # same value, but no gradient reaches b
        return F.mse_loss(a, b.detach())

    with pytest.raises(AssertionError, match=r"gradient w\.r\.t\. input 1"):
        assert_same_value_and_grad(lambda: L.mse_loss(a, b), detached_target, [a, b])


def test_the_harness_catches_a_relative_error_of_1e_9():
    a = leaf(torch.randn(5))
    with pytest.raises(AssertionError):
        assert_same_value_and_grad(lambda: a.sum() * (1 + 1e-9), lambda: a.sum(), [a])
