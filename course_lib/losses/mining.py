r"""Triplet mining on a batch of embeddings with integer labels.

Definitions follow FaceNet (Schroff, Kalenichenko & Philbin 2015). In a batch with embeddings
:math:`f_i` and labels :math:`c_i`, a *triplet* :math:`(a, p, n)` is valid when :math:`a \ne p`,
:math:`c_a = c_p` (a positive pair) and :math:`c_n \ne c_a` (a negative). With
:math:`d_{ij}` the distance between :math:`f_i` and :math:`f_j`:

* **all**: every valid triplet;
* **hard** (the "batch-hard" of Hermans, Beyer & Leibe 2017, "In Defense of the Triplet Loss"):
  per anchor, its hardest positive :math:`\arg\max_p d_{ap}` and hardest negative
  :math:`\arg\min_n d_{an}`, as FaceNet's hard positive / hard negative;
* **semi-hard** (FaceNet, Sec. 3.2): per positive pair, the negatives farther than the positive
  but still inside the margin, :math:`d_{ap} < d_{an} < d_{ap} + \alpha`, and of these the
  closest one.

**Fallback for semi-hard**: a positive pair with no negative in that band gives *no* triplet.
Such a pair has only hard negatives (:math:`d_{an} \le d_{ap}`, which FaceNet avoids because
they can collapse the embedding early in training) or only easy ones (:math:`d_{an} \ge d_{ap} +
\alpha`, zero loss and zero gradient), so dropping it keeps the mean a mean over semi-hard
triplets. (TF-Addons' ``triplet_semihard_loss`` instead falls back to the farthest negative.)

Ties are broken towards the lowest index. Mining returns index triplets and never carries a
gradient: the loss then recomputes the chosen distances with gradients.
FaceNet uses squared Euclidean distances (``squared=True``); the default here is the plain
Euclidean distance, as in ``torch.nn.functional.triplet_margin_loss``. The choice does not
change which positive or negative is hardest, but it changes the semi-hard band.
"""

from __future__ import annotations

import torch

from course_lib.losses._stable import safe_sqrt


def check_labelled_batch(emb: torch.Tensor | None, labels: torch.Tensor) -> None:
    if labels.dim() != 1 or labels.is_floating_point() or labels.is_complex():
        raise ValueError(
            f"labels must be a 1-D integer tensor (one class id per embedding), got shape "
            f"{tuple(labels.shape)} and dtype {labels.dtype}"
        )
    if emb is not None and (emb.dim() != 2 or emb.shape[0] != labels.shape[0]):
        raise ValueError(
            f"embeddings must have shape (N, D) with N = len(labels) = {labels.shape[0]}, got "
            f"{tuple(emb.shape)}"
        )


def pairwise_distances(emb: torch.Tensor, squared: bool = False) -> torch.Tensor:
    r"""All Euclidean distances :math:`d_{ij} = \lVert f_i - f_j \rVert_2` between the rows.

    Computed from the differences, :math:`\sum_k (f_{ik} - f_{jk})^2`, rather than with the
    Gram-matrix identity :math:`\lVert f_i\rVert^2 - 2 f_i^\top f_j + \lVert f_j\rVert^2`: this
    uses :math:`O(N^2 D)` memory instead of :math:`O(N^2)`, but it cannot cancel catastrophically
    for nearby points and its diagonal is exactly 0. The square root has the subgradient 0 at
    distance 0 (:func:`~course_lib.losses._stable.safe_sqrt`), so identical embeddings, e.g.
    the diagonal, give a finite gradient instead of ``nan``.

    Args:
        emb: embeddings, shape ``(N, D)``.
        squared: return :math:`d_{ij}^2` instead.

    Returns:
        The ``(N, N)`` distance matrix.

    Raises:
        ValueError: if ``emb`` is not 2-D.
    """
    if emb.dim() != 2:
        raise ValueError(f"embeddings must have shape (N, D), got {tuple(emb.shape)}")
    diff = emb.unsqueeze(1) - emb.unsqueeze(0)  # (N, N, D)
    sq = (diff * diff).sum(-1)
    return sq if squared else safe_sqrt(sq)


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(positive, negative)`` pair masks, each ``(N, N)``: same label and not self; other."""
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def all_triplets(labels: torch.Tensor) -> torch.Tensor:
    """Every valid triplet: ``a != p``, ``labels[a] == labels[p]``, ``labels[n] != labels[a]``.

    Args:
        labels: class ids, shape ``(N,)``.

    Returns:
        A ``(T, 3)`` long tensor of ``(a, p, n)`` rows in lexicographic order.
    """
    check_labelled_batch(None, labels)
    positive, negative = _masks(labels)
    valid = positive.unsqueeze(2) & negative.unsqueeze(1)  # (a, p, n)
    return torch.nonzero(valid)


@torch.no_grad()
def hard_triplets(emb: torch.Tensor, labels: torch.Tensor, squared: bool = False) -> torch.Tensor:
    """Batch-hard triplets: per anchor, its farthest positive and its closest negative.

    Anchors without a positive or without a negative in the batch give no triplet.

    Args:
        emb: embeddings, shape ``(N, D)``.
        labels: class ids, shape ``(N,)``.
        squared: mine with squared distances (same result up to ties).

    Returns:
        A ``(A, 3)`` long tensor of ``(a, p, n)`` rows, ordered by anchor.
    """
    check_labelled_batch(emb, labels)
    d = pairwise_distances(emb, squared)
    positive, negative = _masks(labels)
    inf = torch.full_like(d, float("inf"))
    hardest_p = torch.where(positive, d, -inf).argmax(1)  # first maximiser on ties
    hardest_n = torch.where(negative, d, inf).argmin(1)
    anchors = torch.arange(labels.shape[0], device=labels.device)
    keep = positive.any(1) & negative.any(1)
    return torch.stack([anchors, hardest_p, hardest_n], dim=1)[keep]


@torch.no_grad()
def semi_hard_triplets(
    emb: torch.Tensor, labels: torch.Tensor, margin: float, squared: bool = False
) -> torch.Tensor:
    r"""Semi-hard triplets: per positive pair, the closest negative with
    :math:`d_{ap} < d_{an} < d_{ap} + \text{margin}`; pairs with none are dropped.

    Args:
        emb: embeddings, shape ``(N, D)``.
        labels: class ids, shape ``(N,)``.
        margin: the triplet margin :math:`\alpha > 0`.
        squared: use squared distances (FaceNet's choice) for the band.

    Returns:
        A ``(T, 3)`` long tensor of ``(a, p, n)`` rows, ordered by ``(a, p)``.

    Raises:
        ValueError: if ``margin <= 0`` or the shapes do not fit.
    """
    check_labelled_batch(emb, labels)
    if not margin > 0:
        raise ValueError(f"margin={margin!r} must be positive")
    d = pairwise_distances(emb, squared)
    positive, negative = _masks(labels)
    d_ap = d.unsqueeze(2)  # (a, p, 1)
    d_an = d.unsqueeze(1)  # (a, 1, n)
    band = positive.unsqueeze(2) & negative.unsqueeze(1) & (d_ap < d_an) & (d_an < d_ap + margin)
    closest = torch.where(band, d_an, torch.full_like(d_an, float("inf"))).argmin(2)  # (a, p)
    a, p = torch.nonzero(band.any(2), as_tuple=True)
    return torch.stack([a, p, closest[a, p]], dim=1)
