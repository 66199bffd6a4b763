"""Triplet mining against brute-force loops over every (a, p, n), with FaceNet's definitions.

Embeddings have small integer coordinates, so squared distances are exact integers in both
computations (and their square roots correctly rounded in both): ties are exact and
tie-breaking (lowest index) is tested too.
"""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.losses import all_triplets, hard_triplets, pairwise_distances, semi_hard_triplets


def brute_distances(emb, squared):
    rows = emb.tolist()
    d2 = [[sum((a - b) ** 2 for a, b in zip(u, v, strict=True)) for v in rows] for u in rows]
    return d2 if squared else [[math.sqrt(x) for x in r] for r in d2]


def brute_all(labels):
    n = len(labels)
    return [
        (a, p, k)
        for a in range(n)
        for p in range(n)
        for k in range(n)
        if a != p and labels[a] == labels[p] and labels[k] != labels[a]
    ]


def brute_hard(emb, labels, squared):
    d, n, out = brute_distances(emb, squared), len(labels), []
    for a in range(n):
        best_p = best_n = None
        for p in range(n):  # hardest positive: argmax d(a, p), first on ties
            if p != a and labels[p] == labels[a] and (best_p is None or d[a][p] > d[a][best_p]):
                best_p = p
        for k in range(n):  # hardest negative: argmin d(a, n), first on ties
            if labels[k] != labels[a] and (best_n is None or d[a][k] < d[a][best_n]):
                best_n = k
        if best_p is not None and best_n is not None:
            out.append((a, best_p, best_n))
    return out


def brute_semi_hard(emb, labels, margin, squared):
    d, n, out = brute_distances(emb, squared), len(labels), []
    for a, p in [(a, p) for a in range(n) for p in range(n)]:
        if a == p or labels[a] != labels[p]:
            continue
        band = [
            k for k in range(n) if labels[k] != labels[a] and d[a][p] < d[a][k] < d[a][p] + margin
        ]
        if band:  # the closest semi-hard negative; none: the pair is dropped
            out.append((a, p, min(band, key=lambda k: (d[a][k], k))))
    return out


batches = st.integers(2, 10).flatmap(
    lambda n: st.tuples(
        st.lists(st.lists(st.integers(-3, 3), min_size=2, max_size=2), min_size=n, max_size=n),
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
    )
)


def _tensors(batch):
    coords, labels = batch
    return torch.tensor(coords, dtype=torch.float64), torch.tensor(labels)


def _rows(t):
    return [tuple(r) for r in t.tolist()]


@settings(max_examples=60, deadline=None)
@given(batches)
def test_all_triplets_is_every_valid_triplet(batch):
    _, labels = _tensors(batch)
    assert _rows(all_triplets(labels)) == brute_all(labels.tolist())


@settings(max_examples=60, deadline=None)
@given(batches, st.booleans())
def test_hard_triplets_are_the_hardest_positive_and_negative(batch, squared):
    emb, labels = _tensors(batch)
    got = _rows(hard_triplets(emb, labels, squared=squared))
    assert got == brute_hard(emb, labels.tolist(), squared)


@settings(max_examples=80, deadline=None)
@given(batches, st.sampled_from([0.5, 1.0, 2.0, 5.0]), st.booleans())
def test_semi_hard_triplets_are_the_closest_in_the_band(batch, margin, squared):
    emb, labels = _tensors(batch)
    got = _rows(semi_hard_triplets(emb, labels, margin, squared=squared))
    assert got == brute_semi_hard(emb, labels.tolist(), margin, squared)


def test_semi_hard_band_by_hand():
    # Points on a line: class 0 at x = 0 and 1, class 1 at x = 1.5 and 3.
    emb = torch.tensor([[0.0], [1.0], [1.5], [3.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # (0, 1): d_ap = 1, negatives at 1.5 (in (1, 2)) and 3.  (3, 2): d_ap = 1.5, negative 1 at
    # 2 (in (1.5, 2.5)).  (1, 0) and (2, 3) only have hard negatives or one exactly on the edge.
    assert _rows(semi_hard_triplets(emb, labels, margin=1.0)) == [(0, 1, 2), (3, 2, 1)]
    # With margin 0.4 both negatives are too easy (d_an - d_ap = 0.5): every pair is dropped.
    assert _rows(semi_hard_triplets(emb, labels, margin=0.4)) == []
    # Squared distances move the band: (0, 1) has d2_ap = 1, d2_an = 2.25 and 9.
    assert _rows(semi_hard_triplets(emb, labels, margin=1.5, squared=True)) == [(0, 1, 2)]


@pytest.mark.parametrize("squared", (False, True))
def test_pairwise_distances_values_and_finite_gradient_at_zero(squared):
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    emb[3] = emb[1]  # a duplicate: distance exactly 0 off the diagonal too
    emb.requires_grad_(True)
    d = pairwise_distances(emb, squared=squared)
    ref = torch.cdist(emb.detach(), emb.detach()) ** (2 if squared else 1)
    torch.testing.assert_close(d, ref, rtol=1e-10, atol=1e-12)
    assert d[1, 3].item() == 0.0 and torch.all(d.diagonal() == 0)
    (g,) = torch.autograd.grad(d.sum(), emb)
    assert torch.isfinite(g).all()
    # Gradient of sum_ij d_ij for distinct points: sum_j 2 (e_i - e_j) / d_ij (x2 for squared).
    diff = emb.detach()[:, None] - emb.detach()[None]
    scale = 4.0 if squared else 2.0 / torch.where(d.detach() > 0, d.detach(), torch.inf)[..., None]
    torch.testing.assert_close(g, (scale * diff).sum(1), rtol=1e-10, atol=1e-12)


def test_mining_rejects_bad_shapes():
    with pytest.raises(ValueError, match="1-D integer"):
        all_triplets(torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        hard_triplets(torch.zeros(3, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="margin"):
        semi_hard_triplets(torch.zeros(2, 2), torch.tensor([0, 1]), margin=0.0)
