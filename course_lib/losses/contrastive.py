r"""Contrastive loss for siamese networks (Hadsell, Chopra & LeCun 2006, "Dimensionality
Reduction by Learning an Invariant Mapping", CVPR).

Pull similar pairs together, push dissimilar pairs apart until they are a margin :math:`m` away:

.. math::
    \ell = y\,\tfrac12 D^2 + (1 - y)\,\tfrac12 \max(0,\ m - D)^2,
    \qquad D = \lVert x_1 - x_2 \rVert_2 .

**Label convention**: here :math:`y = 1` marks a *similar* pair and :math:`y = 0` a dissimilar
one (the convention of most code today). The paper's Eq. 4 uses the opposite,
:math:`Y = 0` for similar and :math:`Y = 1` for dissimilar: our label is :math:`y = 1 - Y`, and
the two formulas are then identical.
"""

from __future__ import annotations

import torch

from course_lib.losses._checks import Reduction, check_reduction, check_same_shape, reduce
from course_lib.losses._stable import safe_sqrt


def contrastive_loss(
    x1: torch.Tensor,
    x2: torch.Tensor,
    label: torch.Tensor,
    margin: float = 1.0,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    r"""Contrastive loss of Hadsell, Chopra & LeCun (2006), with label 1 = similar pair.

    .. math::
        \ell_i = y_i\,\tfrac12 D_i^2 + (1 - y_i)\,\tfrac12\max(0,\ m - D_i)^2,
        \qquad D_i = \lVert x_{1,i} - x_{2,i} \rVert_2 .

    The paper writes :math:`(1 - Y)\tfrac12 D^2 + Y\tfrac12\max(0, m - D)^2` with :math:`Y = 0`
    for similar pairs; ours is the same with :math:`y = 1 - Y`. The similar term uses
    :math:`D^2` directly (no square root), and :math:`D` itself has gradient 0 at
    :math:`D = 0`, so identical embeddings give finite gradients.

    Args:
        x1: first embeddings, shape ``(N, D)`` (or ``(D,)`` for one pair).
        x2: second embeddings, same shape.
        label: 1 for a similar pair, 0 for a dissimilar one; shape ``(N,)`` (or ``()``).
        margin: :math:`m > 0`, the distance beyond which dissimilar pairs cost nothing.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        Per-pair losses for ``'none'``, else a scalar.

    Raises:
        ValueError: on an unknown ``reduction``, mismatched shapes, a label not 0 or 1, or
            ``margin <= 0``.
    """
    check_reduction(reduction)
    check_same_shape(x1, x2, ("x1", "x2"))
    if x1.dim() == 0 or tuple(label.shape) != tuple(x1.shape[:-1]):
        raise ValueError(
            f"label must hold one entry per pair, shape {tuple(x1.shape[:-1])} for embeddings "
            f"of shape {tuple(x1.shape)}, got {tuple(label.shape)}"
        )
    if not bool(((label == 0) | (label == 1)).all()):
        raise ValueError("label must be 1 (similar pair) or 0 (dissimilar pair)")
    if not margin > 0:
        raise ValueError(f"margin={margin!r} must be positive")
    diff = x1 - x2
    d2 = (diff * diff).sum(-1)
    d = safe_sqrt(d2)
    y = label.to(d2.dtype)
    gap = torch.clamp(margin - d, min=0)
    loss = 0.5 * y * d2 + 0.5 * (1 - y) * gap * gap
    return reduce(loss, reduction)
