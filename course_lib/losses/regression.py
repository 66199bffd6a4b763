r"""Regression losses: squared error, absolute error, and the two quadratic-then-linear hybrids.

Each matches the ``torch.nn.functional`` function of the same name in arguments, values and
gradients. With the residual :math:`r = x - y` (prediction minus target):

=================  =======================================================================
loss               per-element value
=================  =======================================================================
``mse_loss``       :math:`r^2`
``l1_loss``        :math:`|r|`
``huber_loss``     :math:`\tfrac12 r^2` if :math:`|r| < \delta`, else
                   :math:`\delta(|r| - \tfrac12\delta)`
``smooth_l1_loss`` :math:`\tfrac{1}{2\beta} r^2` if :math:`|r| < \beta`, else
                   :math:`|r| - \tfrac12\beta`
=================  =======================================================================

Huber (Huber 1964) is the one whose gradient is the residual clipped to :math:`[-\delta, \delta]`;
Smooth L1 (Girshick 2015, Fast R-CNN) is Huber divided by :math:`\beta`, so its gradient is
clipped to :math:`[-1, 1]`. They coincide only at :math:`\delta = \beta = 1`.

Torch quirk kept on purpose: the optional elementwise ``weight`` of ``mse_loss`` and ``l1_loss``
turns ``'mean'`` into a *weighted* mean :math:`\sum w_i \ell_i / \sum w_i`, while ``huber_loss``
divides :math:`\sum w_i \ell_i` by the number of elements. Deliberate difference: torch only warns
when ``input`` and ``target`` shapes differ and then broadcasts; we raise ``ValueError``.
"""

from __future__ import annotations

import torch

from course_lib.losses._checks import Reduction, check_reduction, check_same_shape, reduce


def _weighted(
    loss: torch.Tensor, weight: torch.Tensor | None, reduction: str, mean_divides_by: str
) -> torch.Tensor:
    """Reduce ``loss * weight``; ``'mean'`` divides by ``sum(weight)`` or by ``numel``."""
    check_reduction(reduction)
    if weight is None:
        return reduce(loss, reduction)
    if weight.shape != loss.shape:
        raise ValueError(
            f"weight has shape {tuple(weight.shape)} but the input has shape "
            f"{tuple(loss.shape)}; an elementwise weight must have the input's shape"
        )
    weighted = loss * weight
    if reduction == "mean" and mean_divides_by == "weight_sum":
        return weighted.sum() / weight.sum()
    return reduce(weighted, reduction)


def mse_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: Reduction = "mean",
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Mean squared error, :math:`\ell_i = (x_i - y_i)^2` (the Gaussian negative log-likelihood
    up to constants); as ``torch.nn.functional.mse_loss``.

    Args:
        input: predictions, any shape.
        target: targets, same shape as ``input``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: optional elementwise weights of ``input``'s shape; with it ``'mean'`` is
            :math:`\sum_i w_i\ell_i / \sum_i w_i` (torch's convention).

    Returns:
        The loss, reduced as asked.

    Raises:
        ValueError: on an unknown ``reduction`` or mismatched shapes.
    """
    check_reduction(reduction)
    check_same_shape(input, target)
    r = input - target
    return _weighted(r * r, weight, reduction, mean_divides_by="weight_sum")


def l1_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: Reduction = "mean",
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Mean absolute error, :math:`\ell_i = |x_i - y_i|`; as ``torch.nn.functional.l1_loss``.

    The gradient is :math:`\operatorname{sign}(x_i - y_i)`, with the subgradient 0 at a tie
    (torch's ``abs`` backward does the same).

    Args:
        input: predictions, any shape.
        target: targets, same shape as ``input``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: optional elementwise weights; with it ``'mean'`` is
            :math:`\sum_i w_i\ell_i / \sum_i w_i` (torch's convention).

    Returns:
        The loss, reduced as asked.

    Raises:
        ValueError: on an unknown ``reduction`` or mismatched shapes.
    """
    check_reduction(reduction)
    check_same_shape(input, target)
    return _weighted(torch.abs(input - target), weight, reduction, mean_divides_by="weight_sum")


def huber_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    reduction: Reduction = "mean",
    delta: float = 1.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Huber loss (Huber 1964, "Robust estimation of a location parameter").

    .. math::
        \ell_i = \begin{cases} \tfrac12 r_i^2 & |r_i| < \delta \\
                               \delta\,(|r_i| - \tfrac12\delta) & \text{otherwise} \end{cases}
        \qquad r_i = x_i - y_i,

    so :math:`\partial\ell_i/\partial x_i = \operatorname{clip}(r_i, -\delta, \delta)`: squared
    error near the target, absolute error (bounded gradient, robust to outliers) far from it.
    As ``torch.nn.functional.huber_loss``, same argument order.

    Args:
        input: predictions, any shape.
        target: targets, same shape as ``input``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        delta: where the quadratic part ends; must be positive.
        weight: optional elementwise weights; ``'mean'`` then divides
            :math:`\sum_i w_i \ell_i` by the number of elements (torch's convention, unlike
            ``mse_loss``).

    Returns:
        The loss, reduced as asked.

    Raises:
        ValueError: on an unknown ``reduction``, mismatched shapes or ``delta <= 0``.
    """
    check_reduction(reduction)
    check_same_shape(input, target)
    if not delta > 0:
        raise ValueError(f"delta={delta!r} must be positive (it is where the quadratic part ends)")
    r = input - target
    abs_r = torch.abs(r)
    # 0.5 * r * r (not 0.5 * |r|^2) so that the gradient is exactly r, also at r = 0.
    loss = torch.where(abs_r < delta, 0.5 * r * r, delta * (abs_r - 0.5 * delta))
    return _weighted(loss, weight, reduction, mean_divides_by="numel")


def smooth_l1_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: Reduction = "mean",
    beta: float = 1.0,
) -> torch.Tensor:
    r"""Smooth L1 loss (Girshick 2015, "Fast R-CNN"), i.e. Huber divided by :math:`\beta`.

    .. math::
        \ell_i = \begin{cases} \dfrac{r_i^2}{2\beta} & |r_i| < \beta \\
                               |r_i| - \tfrac12\beta & \text{otherwise} \end{cases}

    :math:`\beta = 0` is exactly the L1 loss (as in torch). As
    ``torch.nn.functional.smooth_l1_loss``.

    Args:
        input: predictions, any shape.
        target: targets, same shape as ``input``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        beta: width of the quadratic zone; must be ``>= 0``.

    Returns:
        The loss, reduced as asked.

    Raises:
        ValueError: on an unknown ``reduction``, mismatched shapes or ``beta < 0``.
    """
    check_reduction(reduction)
    check_same_shape(input, target)
    if not beta >= 0:
        raise ValueError(f"beta={beta!r} must be >= 0 (beta = 0 gives the L1 loss)")
    if beta == 0:
        # Not just the formula below at beta = 0: its unused branch r^2 / (2 * 0) would put
        # 0 * inf = nan into the gradient.
        return l1_loss(input, target, reduction=reduction)
    r = input - target
    abs_r = torch.abs(r)
    loss = torch.where(abs_r < beta, 0.5 * r * r / beta, abs_r - 0.5 * beta)
    return reduce(loss, reduction)
