r"""Triplet margin losses: torch's on given triplets, and a batch version with online mining.

The triplet loss (Weinberger & Saul 2009 for LMNN; Schroff et al. 2015 for FaceNet) asks each
anchor to be closer to a positive (same identity) than to a negative by a margin :math:`m`:

.. math:: \ell(a, p, n) = \max(0,\ d(a, p) - d(a, n) + m).
"""

from __future__ import annotations

from typing import Literal

import torch

from course_lib.losses._checks import Reduction, check_reduction, reduce
from course_lib.losses.mining import (
    all_triplets,
    check_labelled_batch,
    hard_triplets,
    pairwise_distances,
    semi_hard_triplets,
)

Mining = Literal["all", "hard", "semi-hard"]
MININGS: tuple[str, ...] = ("all", "hard", "semi-hard")


def _pairwise_distance(x1: torch.Tensor, x2: torch.Tensor, p: float, eps: float) -> torch.Tensor:
    # Torch's pairwise_distance adds eps to the *difference* before the norm (not to the norm):
    # this keeps the norm's gradient defined when x1 == x2, at the price of a small bias.
    return torch.linalg.vector_norm(x1 - x2 + eps, ord=p, dim=-1)


def triplet_margin_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    *,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    r"""Triplet margin loss on given triplets; as ``torch.nn.functional.triplet_margin_loss``.

    .. math::
        \ell_i = \max\big(0,\ m + d(a_i, p_i) - d(a_i, n_i)\big), \qquad
        d(x, y) = \lVert x - y + \epsilon \rVert_p ,

    (torch adds :math:`\epsilon` to each coordinate of the difference). With ``swap``
    (Balntas et al. 2016, "Learning local feature descriptors with triplets and shallow
    convolutional neural networks") the negative distance is
    :math:`\min(d(a_i, n_i), d(p_i, n_i))`, the harder of the two.

    Args:
        anchor: shape ``(N, D)`` or ``(D,)``.
        positive: same shape as ``anchor``.
        negative: same shape as ``anchor``.
        margin: :math:`m > 0`.
        p: norm degree (``>= 0``; 2 is Euclidean).
        eps: added to the difference vectors.
        swap: use the distance swap.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        Per-triplet losses for ``'none'``, else a scalar.

    Raises:
        ValueError: on an unknown ``reduction``, mismatched shapes, ``margin <= 0`` or ``p < 0``.
    """
    check_reduction(reduction)
    if not (anchor.shape == positive.shape == negative.shape):
        raise ValueError(
            f"anchor, positive and negative must have the same shape, got "
            f"{tuple(anchor.shape)}, {tuple(positive.shape)} and {tuple(negative.shape)}"
        )
    if not margin > 0:
        raise ValueError(f"margin={margin!r} must be positive")
    if not p >= 0:
        raise ValueError(f"p={p!r} must be >= 0")
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = torch.minimum(d_neg, _pairwise_distance(positive, negative, p, eps))
    # clamp (gradient 1 at exactly 0), as torch's clamp_min.
    return reduce(torch.clamp(margin + d_pos - d_neg, min=0), reduction)


def batch_triplet_loss(
    emb: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 1.0,
    mining: Mining = "all",
    *,
    squared: bool = False,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    r"""Triplet loss over triplets mined online from a labelled batch of embeddings.

    .. math::
        \ell_{(a, p, n)} = \max(0,\ d_{ap} - d_{an} + m), \qquad
        (a, p, n) \in \mathcal{T}_{\text{mining}},

    with :math:`d` the Euclidean distance (squared with ``squared=True``, as FaceNet) and
    :math:`\mathcal{T}` chosen by :mod:`course_lib.losses.mining`: ``'all'`` valid triplets,
    batch-``'hard'`` (one per anchor) or ``'semi-hard'`` (one per positive pair that has a
    semi-hard negative). Mining picks indices without gradient; the loss recomputes the
    chosen distances with gradient.

    ``'mean'`` averages over the mined triplets, zero-loss ones included. A batch that yields no
    triplet (e.g. a single class, or no semi-hard negative) gives 0 for ``'mean'`` and ``'sum'``
    (an empty tensor for ``'none'``), still connected to ``emb`` so ``backward()`` works: a
    training loop should not turn into NaN because of one unlucky batch.

    Args:
        emb: embeddings, shape ``(N, D)``.
        labels: integer class ids, shape ``(N,)``.
        margin: :math:`m > 0`.
        mining: ``'all'`` | ``'hard'`` | ``'semi-hard'``.
        squared: use squared Euclidean distances (FaceNet) for mining and loss.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        Per-triplet losses, in the miner's order, for ``'none'``; else a scalar.

    Raises:
        ValueError: on an unknown ``mining`` or ``reduction``, bad shapes or ``margin <= 0``.
    """
    check_reduction(reduction)
    check_labelled_batch(emb, labels)
    if mining not in MININGS:
        raise ValueError(f"mining={mining!r} is not supported; use one of {MININGS}")
    if not margin > 0:
        raise ValueError(f"margin={margin!r} must be positive")
    if mining == "all":
        triplets = all_triplets(labels)
    elif mining == "hard":
        triplets = hard_triplets(emb, labels, squared=squared)
    else:
        triplets = semi_hard_triplets(emb, labels, margin, squared=squared)
    d = pairwise_distances(emb, squared=squared)
    a, p, n = triplets.unbind(1)
    loss = torch.clamp(d[a, p] - d[a, n] + margin, min=0)
    if loss.numel() == 0 and reduction == "mean":
        return d.sum() * 0  # 0, with a (zero) gradient path to emb
    return reduce(loss, reduction)
