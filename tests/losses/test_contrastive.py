"""contrastive_loss against Hadsell, Chopra & LeCun (2006), Eq. 4, written literally."""

import itertools

import pytest
import torch

from course_lib.losses import contrastive_loss
from tests.losses.helpers import assert_finite_value_and_grad, assert_same_value_and_grad, leaf

REDUCTIONS = ("none", "mean", "sum")


def paper_contrastive(x1, x2, Y, m, reduction):
    """Eq. 4 of the paper: Y = 0 similar, Y = 1 dissimilar; D the Euclidean distance."""
    D = torch.sqrt(((x1 - x2) ** 2).sum(-1))
    per = (1 - Y) * 0.5 * D**2 + Y * 0.5 * torch.relu(m - D) ** 2
    return {"none": per, "mean": per.mean(), "sum": per.sum()}[reduction]


@pytest.mark.parametrize(
    ("margin", "reduction", "label_dtype", "unbatched"),
    list(
        itertools.product((0.5, 2.0, 5.0), REDUCTIONS, (torch.long, torch.float64), (False, True))
    ),
)
def test_matches_the_paper_with_flipped_labels(margin, reduction, label_dtype, unbatched):
    gen = torch.Generator().manual_seed(0)
    n = () if unbatched else (8,)
    x1 = leaf(torch.randn(*n, 3, generator=gen, dtype=torch.float64))
    x2 = leaf(torch.randn(*n, 3, generator=gen, dtype=torch.float64))
    label = (torch.rand(n, generator=gen) < 0.5).to(label_dtype)  # 1 = similar (ours)
    assert_same_value_and_grad(
        lambda: contrastive_loss(x1, x2, label, margin, reduction),
        lambda: paper_contrastive(x1, x2, 1 - label.double(), margin, reduction),
        [x1, x2],
    )


def test_label_convention_similar_is_one():
    x1 = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    x2 = torch.tensor([[3.0, 4.0], [3.0, 4.0]])  # distance 5
    loss = contrastive_loss(x1, x2, torch.tensor([1, 0]), margin=6.0, reduction="none")
    torch.testing.assert_close(loss, torch.tensor([12.5, 0.5]))  # 25 / 2 and (6 - 5)^2 / 2
    far = contrastive_loss(x1, x2, torch.tensor([0, 0]), margin=5.0, reduction="sum")
    assert far.item() == 0.0


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_identical_embeddings_have_finite_gradients(dtype):
    x1 = torch.randn(4, 3, dtype=dtype).requires_grad_(True)
    x2 = x1.detach().clone().requires_grad_(True)
    label = torch.tensor([1, 0, 1, 0])
    assert_finite_value_and_grad(contrastive_loss(x1, x2, label), [x1, x2])
    (g,) = torch.autograd.grad(contrastive_loss(x1, x2, label, reduction="sum"), x1)
    assert torch.equal(
        g, torch.zeros_like(g)
    )  # similar: D = 0 is the minimum; dissimilar: subgradient 0
    expected = torch.tensor([0.0, 0.5, 0.0, 0.5], dtype=dtype)  # margin 1: (1 - 0)^2 / 2
    torch.testing.assert_close(contrastive_loss(x1, x2, label, reduction="none"), expected)


def test_bad_arguments_raise():
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="label must be 1"):
        contrastive_loss(x, x, torch.tensor([1, -1, 0]))
    with pytest.raises(ValueError, match="one entry per pair"):
        contrastive_loss(x, x, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="same shape"):
        contrastive_loss(x, torch.zeros(3, 3), torch.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match="margin"):
        contrastive_loss(x, x, torch.tensor([1, 0, 1]), margin=0.0)
