r"""Margin losses: binary hinge and squared hinge (labels :math:`\pm 1`), and torch's multi-class
margin loss.

A margin loss asks the score of the right answer to beat the alternatives by at least a margin
(1 here) and is exactly zero once it does, so, unlike cross-entropy, well-classified examples
stop contributing gradient. At the kink (margin met exactly) we use the subgradient 0, as torch
does for ``multi_margin_loss``.
"""

from __future__ import annotations

import torch

from course_lib.losses._checks import (
    Reduction,
    check_class_indices,
    check_class_weight,
    check_reduction,
    check_same_shape,
    reduce,
)


def _positive_part(z: torch.Tensor) -> torch.Tensor:
    """:math:`\\max(0, z)` with gradient 0 at :math:`z = 0` (``clamp`` would give 1 there)."""
    return torch.where(z > 0, z, torch.zeros_like(z))


def _check_pm1_labels(target: torch.Tensor) -> None:
    if not bool(((target == 1) | (target == -1)).all()):
        raise ValueError(
            "hinge losses need labels in {-1, +1}; convert 0/1 labels with 2 * target - 1"
        )


def hinge_loss(
    input: torch.Tensor, target: torch.Tensor, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    r"""Binary hinge loss of the soft-margin SVM (Cortes & Vapnik 1995, "Support-vector networks").

    .. math:: \ell_i = \max(0,\ 1 - y_i s_i), \qquad y_i \in \{-1, +1\},

    where :math:`s_i` is the raw score (margin), not a probability. Same as
    ``sklearn.metrics.hinge_loss`` (``'mean'``) and Keras' ``hinge`` for :math:`\pm1` labels.

    Args:
        input: raw scores :math:`s`, any shape.
        target: labels :math:`y \in \{-1, +1\}`, same shape (any dtype).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss, reduced as asked.

    Raises:
        ValueError: on an unknown ``reduction``, mismatched shapes or a label not in {-1, +1}.
    """
    check_reduction(reduction)
    check_same_shape(input, target)
    _check_pm1_labels(target)
    return reduce(_positive_part(1 - target * input), reduction)


def squared_hinge_loss(
    input: torch.Tensor, target: torch.Tensor, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    r"""Squared hinge loss of the L2-loss SVM (e.g. LIBLINEAR, Fan et al. 2008; scikit-learn's
    ``LinearSVC(loss="squared_hinge")``; Keras' ``squared_hinge``).

    .. math:: \ell_i = \max(0,\ 1 - y_i s_i)^2, \qquad y_i \in \{-1, +1\}.

    Differentiable everywhere (gradient :math:`-2 y_i \max(0, 1 - y_i s_i)`), but it punishes
    large violations quadratically, so it is less robust to outliers than the hinge.

    Args:
        input: raw scores :math:`s`, any shape.
        target: labels :math:`y \in \{-1, +1\}`, same shape (any dtype).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss, reduced as asked.

    Raises:
        ValueError: on an unknown ``reduction``, mismatched shapes or a label not in {-1, +1}.
    """
    check_reduction(reduction)
    check_same_shape(input, target)
    _check_pm1_labels(target)
    h = _positive_part(1 - target * input)
    return reduce(h * h, reduction)


def multi_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: torch.Tensor | None = None,
    *,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    r"""Multi-class hinge loss (Weston & Watkins 1999 form); as
    ``torch.nn.functional.multi_margin_loss``.

    .. math::
        \ell_i = \frac{1}{C} \sum_{c \ne y_i} w_{y_i}\,
                 \max(0,\ m - x_{i, y_i} + x_{i, c})^p, \qquad p \in \{1, 2\}.

    Note the :math:`1/C` (torch divides by the number of classes, counting :math:`y_i` itself),
    and that the class weight is that of the *target* class.

    Args:
        input: scores of shape ``(N, C)`` or ``(C,)``.
        target: class indices, shape ``(N,)`` (or ``()`` for a ``(C,)`` input).
        p: 1 (hinge) or 2 (squared hinge).
        margin: :math:`m`.
        weight: optional per-class weights, shape ``(C,)`` (no gradient, as torch).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        Per-example losses ``(N,)`` (``()`` for a ``(C,)`` input) for ``'none'``, else a
        scalar. On an empty batch ``'mean'`` is ``nan`` and ``'sum'`` is 0 (torch 2.13 returns
        uninitialised memory there).

    Raises:
        ValueError: on an unknown ``reduction``, ``p`` not 1 or 2, bad shapes, or a class index
            out of range.
    """
    check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError(f"p={p!r} is not supported; multi_margin_loss takes p = 1 or p = 2")
    if input.dim() not in (1, 2) or input.shape[-1] == 0:
        raise ValueError(
            f"input must have shape (N, C) or (C,) with C > 0, got {tuple(input.shape)}"
        )
    unbatched = input.dim() == 1
    x = input.unsqueeze(0) if unbatched else input  # (N, C)
    n, num_classes = x.shape
    expected = () if unbatched else (n,)
    if tuple(target.shape) != expected:
        raise ValueError(
            f"target must hold one class index per example, shape {expected}, got "
            f"{tuple(target.shape)}"
        )
    check_class_weight(weight, num_classes)
    check_class_indices(target, num_classes)
    y = target.reshape(n, 1)
    z = margin - x.gather(1, y) + x  # (N, C): how far each class intrudes into the margin
    h = _positive_part(z)
    if p == 2:
        h = h * h
    if weight is not None:
        h = h * weight.detach()[y]
    # The target class itself is not a competitor (its z would be the margin m).
    others = torch.arange(num_classes, device=x.device) != y
    per_example = torch.where(others, h, torch.zeros_like(h)).sum(1) / num_classes
    if unbatched and reduction == "none":
        return per_example.squeeze(0)
    return reduce(per_example, reduction)
