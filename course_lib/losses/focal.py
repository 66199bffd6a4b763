r"""Focal loss (Lin, Goyal, Girshick, He & Dollár 2017, "Focal Loss for Dense Object Detection").

Cross-entropy scaled down on examples the model already gets right:

.. math:: \mathrm{FL}(p_t) = -\alpha_t\,(1 - p_t)^\gamma \log p_t,

where :math:`p_t` is the probability given to the true class. With :math:`\gamma = 2`, an example
classified with :math:`p_t = 0.9` weighs 100 times less than in cross-entropy, so the many easy
background anchors of a one-stage detector no longer swamp the rare hard ones. :math:`\gamma = 0`
and no :math:`\alpha` is plain cross-entropy.

We compute :math:`1 - p_t` directly (``sigmoid(-x)``, ``-expm1(log p_t)``) rather than as one
minus a probability that has rounded to 1, and :math:`(1 - p_t)^\gamma` with
:func:`~course_lib.losses._stable.safe_pow`, so gradients stay finite for saturated logits even
when :math:`0 < \gamma < 1`.
"""

from __future__ import annotations

import torch

from course_lib.losses._checks import Reduction, check_reduction, check_same_shape, reduce
from course_lib.losses._class_targets import check_index_target, class_dim, gather_target
from course_lib.losses._stable import log_softmax, safe_pow
from course_lib.losses.binary import binary_cross_entropy_with_logits


def _check_gamma(gamma: float) -> None:
    if not gamma >= 0:
        raise ValueError(f"gamma={gamma!r} must be >= 0 (gamma = 0 gives cross-entropy)")


def sigmoid_focal_loss(
    inputs: torch.Tensor,
    targets: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2,
    reduction: Reduction = "none",
) -> torch.Tensor:
    r"""Binary (per-logit) focal loss of RetinaNet, with ``torchvision.ops.sigmoid_focal_loss``'s
    semantics and defaults.

    With :math:`p = \sigma(x)` and targets :math:`t \in [0, 1]`:

    .. math::
        p_t = p\,t + (1 - p)(1 - t), \quad
        \alpha_t = \alpha\,t + (1 - \alpha)(1 - t), \quad
        \ell = \alpha_t\,(1 - p_t)^\gamma\, \mathrm{BCE}(x, t),

    where :math:`\mathrm{BCE}(x, t)` is :func:`binary_cross_entropy_with_logits` (equal to
    :math:`-\log p_t` for hard targets). :math:`\alpha` weights the *positive* class (0.25 in the
    paper, with :math:`\gamma = 2`); ``alpha < 0`` switches the :math:`\alpha_t` factor off.

    Args:
        inputs: logits, any shape.
        targets: binary (or soft) targets in [0, 1], same shape.
        alpha: weight of positives in [0, 1], or negative for no weighting.
        gamma: focusing parameter :math:`\gamma \ge 0`.
        reduction: ``'none'`` (the default, as torchvision) | ``'mean'`` | ``'sum'``.

    Returns:
        The loss, reduced as asked.

    Raises:
        ValueError: on an unknown ``reduction``, mismatched shapes or ``gamma < 0``.
    """
    check_reduction(reduction)
    check_same_shape(inputs, targets)
    _check_gamma(gamma)
    ce = binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    # 1 - p_t = p (1 - t) + (1 - p) t, with 1 - p = sigmoid(-x) computed without cancellation.
    one_minus_p_t = torch.sigmoid(inputs) * (1 - targets) + torch.sigmoid(-inputs) * targets
    loss = ce * safe_pow(one_minus_p_t, gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return reduce(loss, reduction)


def softmax_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2,
    alpha: torch.Tensor | None = None,
    reduction: Reduction = "mean",
    ignore_index: int = -100,
) -> torch.Tensor:
    r"""Multi-class focal loss: Lin et al.'s formula with a softmax and per-class :math:`\alpha`.

    .. math::
        \ell_i = -\alpha_{y_i}\,(1 - p_{i, y_i})^\gamma \log p_{i, y_i}, \qquad
        p_i = \mathrm{softmax}(x_i),

    with :math:`\alpha_c = 1` when ``alpha`` is ``None``. ``'mean'`` is
    :math:`\sum_i \ell_i / \sum_i \alpha_{y_i}` over non-ignored examples, so that
    :math:`\gamma = 0` gives exactly ``cross_entropy(logits, target, weight=alpha,
    ignore_index=ignore_index)``, weighted mean included.

    Args:
        logits: shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dK)``.
        target: class indices, the logits' shape without the class dimension.
        gamma: focusing parameter :math:`\gamma \ge 0`.
        alpha: optional per-class weights, shape ``(C,)``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        ignore_index: target value that contributes no loss and no gradient.

    Returns:
        Per-example losses for ``'none'``, else a scalar.

    Raises:
        ValueError: on an unknown ``reduction``, ``gamma < 0``, a target of the wrong shape or
            dtype, a class index out of range, or ``alpha`` not of shape ``(C,)``.
    """
    check_reduction(reduction)
    _check_gamma(gamma)
    check_index_target(logits, target, alpha, ignore_index)
    log_p = log_softmax(logits, class_dim(logits))
    log_p_t, w_t = gather_target(log_p, target, alpha, ignore_index)
    # 1 - p_t as -expm1(log p_t): exact even when p_t is within 1e-16 of 1.
    one_minus_p_t = -torch.expm1(log_p_t)
    loss = -w_t * safe_pow(one_minus_p_t, gamma) * log_p_t
    if reduction == "mean":
        return loss.sum() / w_t.sum()
    return reduce(loss, reduction)
