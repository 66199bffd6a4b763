"""triplet_margin_loss against torch; batch_triplet_loss against torch on the mined triplets."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from course_lib.losses import (
    all_triplets,
    batch_triplet_loss,
    hard_triplets,
    semi_hard_triplets,
    triplet_margin_loss,
)
from tests.losses.helpers import assert_same_value_and_grad, leaf

REDUCTIONS = ("none", "mean", "sum")


@pytest.mark.parametrize(
    ("margin", "p", "eps", "swap", "reduction", "unbatched"),
    list(
        itertools.product(
            (0.5, 2.0), (1, 2, 3), (1e-6, 0.0), (False, True), REDUCTIONS, (False, True)
        )
    ),
)
def test_triplet_margin_loss_matches_torch(margin, p, eps, swap, reduction, unbatched):
    gen = torch.Generator().manual_seed(0)
    shape = (5,) if unbatched else (7, 5)
    a, pos, neg = (leaf(torch.randn(shape, generator=gen, dtype=torch.float64)) for _ in range(3))
    assert_same_value_and_grad(
        lambda: triplet_margin_loss(a, pos, neg, margin, p, eps, swap, reduction=reduction),
        lambda: F.triplet_margin_loss(a, pos, neg, margin, p, eps, swap, reduction=reduction),
        [a, pos, neg],
    )


def test_triplet_margin_loss_on_empty_batch_matches_torch():
    a = leaf(torch.zeros(0, 3))
    for reduction in REDUCTIONS:
        assert_same_value_and_grad(
            lambda r=reduction: triplet_margin_loss(a, a, a, reduction=r),
            lambda r=reduction: F.triplet_margin_loss(a, a, a, reduction=r),
            [a],
        )


def _batch(seed=0, n=12):
    gen = torch.Generator().manual_seed(seed)
    emb = leaf(torch.randn(n, 3, generator=gen, dtype=torch.float64))
    labels = torch.randint(0, 3, (n,), generator=gen)
    return emb, labels


MINERS = {
    "all": lambda emb, labels, margin, sq: all_triplets(labels),
    "hard": lambda emb, labels, margin, sq: hard_triplets(emb, labels, squared=sq),
    "semi-hard": lambda emb, labels, margin, sq: semi_hard_triplets(emb, labels, margin, sq),
}


@pytest.mark.parametrize(
    ("mining", "margin", "reduction"),
    list(itertools.product(MINERS, (0.2, 1.0, 3.0), REDUCTIONS)),
)
def test_batch_triplet_loss_is_torch_triplet_loss_on_the_mined_triplets(mining, margin, reduction):
    emb, labels = _batch()
    idx = MINERS[mining](emb, labels, margin, False)
    assert len(idx) > 0
    a, p, n = idx.unbind(1)
    assert_same_value_and_grad(
        lambda: batch_triplet_loss(emb, labels, margin, mining, reduction=reduction),
        lambda: F.triplet_margin_loss(emb[a], emb[p], emb[n], margin, eps=0.0, reduction=reduction),
        [emb],
    )


@pytest.mark.parametrize("mining", MINERS)
def test_batch_triplet_loss_with_squared_distances_is_facenet(mining):
    emb, labels = _batch(seed=1)
    idx = MINERS[mining](emb, labels, 1.0, True)
    a, p, n = idx.unbind(1)

    def facenet():  # FaceNet Eq. 1: ||f(a) - f(p)||^2 - ||f(a) - f(n)||^2 + alpha, hinged
        d_ap = ((emb[a] - emb[p]) ** 2).sum(1)
        d_an = ((emb[a] - emb[n]) ** 2).sum(1)
        return torch.relu(d_ap - d_an + 1.0).mean()

    assert_same_value_and_grad(
        lambda: batch_triplet_loss(emb, labels, 1.0, mining, squared=True), facenet, [emb]
    )


@pytest.mark.parametrize("mining", MINERS)
def test_batch_without_triplets_gives_zero_and_a_gradient(mining):
    emb = leaf(torch.randn(4, 3))
    labels = torch.zeros(4, dtype=torch.long)  # one class: no negatives
    loss = batch_triplet_loss(emb, labels, mining=mining)
    assert loss.item() == 0.0
    (g,) = torch.autograd.grad(loss, emb)
    assert torch.equal(g, torch.zeros_like(emb))
    assert batch_triplet_loss(emb, labels, mining=mining, reduction="none").shape == (0,)


def test_triplet_bad_arguments_raise():
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="same shape"):
        triplet_margin_loss(x, x, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="margin"):
        triplet_margin_loss(x, x, x, margin=0.0)
    with pytest.raises(ValueError, match="mining"):
        batch_triplet_loss(x, torch.tensor([0, 1, 1]), mining="hardest")
    with pytest.raises(ValueError, match="margin"):
        batch_triplet_loss(x, torch.tensor([0, 1, 1]), margin=-1.0)
