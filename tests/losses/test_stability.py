"""Every loss that takes logits or scores stays finite, value and gradient, at logits of +-1e4,
in float32 and float64 (and the naive formulas it replaces do not)."""

import pytest
import torch

from course_lib.losses import (
    batch_triplet_loss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    contrastive_loss,
    cross_entropy,
    hinge_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    multi_margin_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
    softmax_focal_loss,
    squared_hinge_loss,
    triplet_margin_loss,
)
from tests.losses.helpers import assert_finite_value_and_grad

BIG = 1e4
# Saturated logits of both signs, with targets that agree and that disagree with them.
LOGITS = [[BIG, -BIG, BIG, -BIG], [-BIG, BIG, 0.0, BIG], [BIG, BIG, -BIG, -BIG]]
BINARY_T = [[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.5, 0.0], [0.3, 1.0, 0.0, 1.0]]
CLASSES = [0, 0, 3]
PM1 = [[1, -1, -1, 1], [1, 1, -1, -1], [-1, 1, 1, -1]]
LABELS = [0, 1, 0]  # every miner finds triplets here (semi-hard: (0, 2, 1), (2, 0, 1))


def _cases(x, dtype):
    """Each loss that takes logits or scores, as a thunk on the saturated logits ``x``."""
    t = torch.tensor(BINARY_T, dtype=dtype)
    k = torch.tensor(CLASSES)
    probs = torch.softmax(torch.tensor(LOGITS, dtype=dtype), 1)  # exactly 0 / 1 entries
    cases = {
        "bce_with_logits": lambda: binary_cross_entropy_with_logits(x, t),
        "bce_with_logits_pos_weight": lambda: binary_cross_entropy_with_logits(
            x, t, pos_weight=torch.full((4,), 3.0, dtype=dtype)
        ),
        "bce_on_sigmoid": lambda: binary_cross_entropy(torch.sigmoid(x), t),
        "cross_entropy": lambda: cross_entropy(x, k),
        "cross_entropy_smoothed_weighted": lambda: cross_entropy(
            x, k, torch.arange(1.0, 5.0, dtype=dtype), label_smoothing=0.1
        ),
        "cross_entropy_probs": lambda: cross_entropy(x, probs, label_smoothing=0.1),
        "cross_entropy_spatial": lambda: cross_entropy(x.T.unsqueeze(0), k.new_tensor([[0, 1, 2]])),
        "multi_margin_p1": lambda: multi_margin_loss(x, k),
        "multi_margin_p2": lambda: multi_margin_loss(x, k, p=2),
        "hinge": lambda: hinge_loss(x, torch.tensor(PM1)),
        "squared_hinge": lambda: squared_hinge_loss(x, torch.tensor(PM1)),
        "sigmoid_focal": lambda: sigmoid_focal_loss(x, t, reduction="mean"),
        "sigmoid_focal_gamma_half": lambda: sigmoid_focal_loss(x, t, gamma=0.5, reduction="sum"),
        "softmax_focal": lambda: softmax_focal_loss(x, k),
        "softmax_focal_gamma_half": lambda: softmax_focal_loss(x, k, gamma=0.5),
        "mse": lambda: mse_loss(x, t),
        "l1": lambda: l1_loss(x, t),
        "huber": lambda: huber_loss(x, t),
        "smooth_l1": lambda: smooth_l1_loss(x, t),
        "contrastive": lambda: contrastive_loss(x, x.flip(0), torch.tensor([1, 0, 1])),
        "triplet_margin": lambda: triplet_margin_loss(x, x.flip(0), x.roll(1, 0), swap=True),
        "batch_triplet_all": lambda: batch_triplet_loss(x, torch.tensor(LABELS), mining="all"),
        "batch_triplet_hard": lambda: batch_triplet_loss(x, torch.tensor(LABELS), mining="hard"),
        "batch_triplet_semi_hard": lambda: batch_triplet_loss(
            x, torch.tensor(LABELS), margin=2e4, mining="semi-hard"
        ),
    }
    return cases


# The case names (the lambdas are only built here, not run).
NAMES = list(_cases(torch.zeros(3, 4), torch.float64))


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("name", NAMES)
def test_finite_at_huge_logits(name, dtype):
    x = torch.tensor(LOGITS, dtype=dtype, requires_grad=True)
    loss = _cases(x, dtype)[name]()
    assert loss.dtype == dtype
    assert_finite_value_and_grad(loss, [x])


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_the_naive_formulas_are_not_finite(dtype):
    # The test above can fail: the textbook formulas overflow or give nan gradients here.
    x = torch.tensor(LOGITS, dtype=dtype, requires_grad=True)
    t = torch.tensor(BINARY_T, dtype=dtype)
    p = torch.sigmoid(x)
    naive_bce = -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()
    assert not torch.isfinite(naive_bce)
    naive_ce = -torch.log(torch.exp(x) / torch.exp(x).sum(1, keepdim=True))[:, 0].mean()
    assert not torch.isfinite(naive_ce)
    # torchvision's focal formula: (1 - p_t) ** 0.5 has an infinite derivative at p_t = 1.
    p_t = p * t + (1 - p) * (1 - t)
    naive_focal = (
        torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")
        * (1 - p_t) ** 0.5
    ).sum()
    (g,) = torch.autograd.grad(naive_focal, x)
    assert not torch.isfinite(g).all()
