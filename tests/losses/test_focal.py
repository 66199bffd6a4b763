"""Focal losses: sigmoid against torchvision's published formula, softmax against a literal
transcription of Lin et al. (2017) and, at gamma = 0, against torch's cross_entropy."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from course_lib.losses import sigmoid_focal_loss, softmax_focal_loss
from tests.losses.helpers import assert_same_value_and_grad, leaf

REDUCTIONS = ("none", "mean", "sum")
GAMMAS = (0.0, 0.5, 1.0, 2.0)


def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss (BSD-3-Clause, from fvcore), verbatim.

    torchvision has no CPU wheel here, so its published body is the reference.
    """
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)

    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss

    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()

    return loss


@pytest.mark.parametrize(
    ("alpha", "gamma", "reduction", "soft"),
    list(itertools.product((0.25, 0.9, -1.0), GAMMAS, REDUCTIONS, (False, True))),
)
def test_sigmoid_focal_matches_torchvision(alpha, gamma, reduction, soft):
    gen = torch.Generator().manual_seed(0)
    x = leaf(2 * torch.randn(4, 6, generator=gen, dtype=torch.float64))
    t = torch.rand(4, 6, generator=gen, dtype=torch.float64)
    t = leaf(t if soft else (t < 0.3).double())
    assert_same_value_and_grad(
        lambda: sigmoid_focal_loss(x, t, alpha, gamma, reduction),
        lambda: torchvision_sigmoid_focal_loss(x, t, alpha, gamma, reduction),
        [x, t],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_focal_with_gamma_zero_and_no_alpha_is_bce(reduction):
    gen = torch.Generator().manual_seed(1)
    x = leaf(3 * torch.randn(10, generator=gen, dtype=torch.float64))
    t = leaf((torch.rand(10, generator=gen) < 0.5).double())
    assert_same_value_and_grad(
        lambda: sigmoid_focal_loss(x, t, alpha=-1, gamma=0, reduction=reduction),
        lambda: F.binary_cross_entropy_with_logits(x, t, reduction=reduction),
        [x, t],
    )


def test_sigmoid_focal_defaults_are_retinanet_and_down_weight_easy_examples():
    x, t = torch.tensor([3.0, -3.0, 0.0]), torch.tensor([1.0, 1.0, 1.0])
    loss = sigmoid_focal_loss(x, t)  # alpha = 0.25, gamma = 2, reduction 'none'
    assert loss.shape == (3,)
    p = torch.sigmoid(x)
    torch.testing.assert_close(loss, -0.25 * (1 - p) ** 2 * torch.log(p))
    assert loss[0] < loss[2] < loss[1]


def _literal_softmax_focal(logits, target, gamma, alpha, reduction, ignore_index):
    """-alpha_y (1 - p_y)^gamma log p_y with torch's log_softmax; mean divides by sum alpha_y."""
    dim = 0 if logits.dim() == 1 else 1
    log_p = torch.log_softmax(logits, dim)
    valid = target != ignore_index
    safe = torch.where(valid, target, 0)
    log_p_y = log_p.gather(dim, safe.unsqueeze(dim)).squeeze(dim)
    a = torch.ones(logits.shape[dim], dtype=logits.dtype) if alpha is None else alpha
    a_y = a[safe] * valid
    loss = torch.where(valid, -a_y * (1 - log_p_y.exp()) ** gamma * log_p_y, 0.0)
    return {"none": loss, "sum": loss.sum(), "mean": loss.sum() / a_y.sum()}[reduction]


C = 4
SHAPES = {"unbatched": ((C,), ()), "batch": ((6, C), (6,)), "spatial": ((2, C, 3), (2, 3))}


@pytest.mark.parametrize(
    ("shape", "gamma", "weighted", "reduction", "ignore"),
    list(itertools.product(SHAPES, (0.0, 0.5, 2.0), (False, True), REDUCTIONS, (False, True))),
)
def test_softmax_focal_matches_the_formula_and_cross_entropy_at_gamma_zero(
    shape, gamma, weighted, reduction, ignore
):
    in_shape, t_shape = SHAPES[shape]
    gen = torch.Generator().manual_seed(2)
    x = leaf(2 * torch.randn(in_shape, generator=gen, dtype=torch.float64))
    target = torch.randint(0, C, t_shape, generator=gen)
    if ignore and target.numel() > 1:
        target.view(-1)[::2] = -100
    alpha = torch.rand(C, generator=gen, dtype=torch.float64) + 0.2 if weighted else None
    assert_same_value_and_grad(
        lambda: softmax_focal_loss(x, target, gamma, alpha, reduction),
        lambda: _literal_softmax_focal(x, target, gamma, alpha, reduction, -100),
        [x],
    )
    if gamma == 0.0:
        assert_same_value_and_grad(
            lambda: softmax_focal_loss(x, target, 0.0, alpha, reduction),
            lambda: F.cross_entropy(x, target, alpha, reduction=reduction),
            [x],
        )


def test_softmax_focal_all_ignored_mean_is_nan_like_cross_entropy():
    x, target = torch.randn(3, C), torch.full((3,), 7)
    assert torch.isnan(softmax_focal_loss(x, target, ignore_index=7))
    assert torch.isnan(F.cross_entropy(x, target, ignore_index=7))


def test_focal_bad_arguments_raise():
    with pytest.raises(ValueError, match="gamma"):
        sigmoid_focal_loss(torch.zeros(3), torch.zeros(3), gamma=-1)
    with pytest.raises(ValueError, match="reduction"):
        sigmoid_focal_loss(torch.zeros(3), torch.zeros(3), reduction="avg")
    with pytest.raises(ValueError, match="weight"):
        softmax_focal_loss(torch.zeros(3, C), torch.zeros(3, dtype=torch.long), alpha=torch.ones(2))
