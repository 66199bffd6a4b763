r"""Binary cross-entropy, on probabilities and (the stable way) on logits.

For a predicted probability :math:`p` and a target :math:`y \in [0, 1]` the binary
cross-entropy is the negative Bernoulli log-likelihood

.. math:: \ell = -\big(y \log p + (1 - y)\log(1 - p)\big).

Computing it from probabilities loses information: ``sigmoid(40.0)`` is exactly ``1.0`` in
float64, so ``log(1 - p)`` is ``-inf``. Torch's :func:`binary_cross_entropy` therefore clamps
each log at :math:`-100`. The better cure is to never form :math:`p`:
:func:`binary_cross_entropy_with_logits` takes the logit :math:`x` and uses
:math:`\log p = \log\sigma(x)`, :math:`\log(1 - p) = \log\sigma(x) - x`.
"""

from __future__ import annotations

from typing import Any

import torch

from course_lib.losses._checks import (
    Reduction,
    check_broadcastable_to,
    check_reduction,
    check_same_shape,
    reduce,
)
from course_lib.losses._stable import log_sigmoid

LOG_CLAMP = -100.0  # torch clamps log(p) and log(1 - p) at -100 in binary_cross_entropy
# Torch's backward clamps the denominator p (1 - p) at its constant EPSILON = 1e-12, which is a
# float32 constant: in float64 the clamp is float32(1e-12) = 9.999999960041972e-13.
GRAD_EPS = torch.tensor(1e-12, dtype=torch.float32).item()


class _BinaryCrossEntropy(torch.autograd.Function):
    r"""BCE with torch's own backward formulas, which are not the derivative of its forward.

    Torch's forward clamps the logs at -100, whose derivative would be 0 beyond the clamp;
    torch's backward instead uses the unclamped derivative
    :math:`\partial\ell/\partial p = (p - y) / \max(p(1-p), \epsilon)` with
    :math:`\epsilon` = ``GRAD_EPS`` (huge but finite at :math:`p \in \{0, 1\}`) and
    :math:`\partial\ell/\partial y = -\operatorname{logit}(p)` (infinite at
    :math:`p \in \{0, 1\}`). We write both out so that gradients match torch's.
    """

    @staticmethod
    def forward(
        ctx: Any, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None
    ) -> torch.Tensor:
        ctx.save_for_backward(input, target, weight)
        log_p = torch.clamp(torch.log(input), min=LOG_CLAMP)
        log_1mp = torch.clamp(torch.log1p(-input), min=LOG_CLAMP)
        loss = (target - 1) * log_1mp - target * log_p
        return loss if weight is None else loss * weight

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        input, target, weight = ctx.saved_tensors
        scale = grad if weight is None else grad * weight
        grad_input = grad_target = None
        if ctx.needs_input_grad[0]:
            grad_input = scale * (input - target) / torch.clamp(input * (1 - input), min=GRAD_EPS)
        if ctx.needs_input_grad[1]:
            grad_target = -scale * torch.log(input / (1 - input))
        return grad_input, grad_target, None


def binary_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    r"""Binary cross-entropy on probabilities; as ``torch.nn.functional.binary_cross_entropy``.

    .. math::
        \ell_i = -w_i\big(y_i \max(\log p_i, -100) + (1 - y_i)\max(\log(1 - p_i), -100)\big)

    The clamp at :math:`-100` is torch's: it keeps the loss finite when :math:`p` is exactly 0 or
    1. Gradients follow torch's backward formulas (see the module's ``_BinaryCrossEntropy``);
    ``weight`` receives no gradient, as in torch. Prefer :func:`binary_cross_entropy_with_logits`.

    Args:
        input: probabilities in :math:`[0, 1]`, any shape.
        target: targets in :math:`[0, 1]`, same shape.
        weight: optional rescaling, broadcastable to ``input``'s shape. ``'mean'`` divides
            :math:`\sum_i w_i\ell_i` by the number of elements, not by :math:`\sum_i w_i`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss, reduced as asked.

    Raises:
        ValueError: on an unknown ``reduction``, mismatched shapes, or an input outside [0, 1].
    """
    check_reduction(reduction)
    check_same_shape(input, target)
    if weight is not None:
        check_broadcastable_to("weight", weight, input.shape)
        weight = weight.expand(input.shape)
    if bool(((input < 0) | (input > 1)).any()):
        raise ValueError(
            "binary_cross_entropy expects probabilities in [0, 1]; for raw scores (logits) use "
            "binary_cross_entropy_with_logits, which is also numerically stable"
        )
    return reduce(_BinaryCrossEntropy.apply(input, target, weight), reduction)


def binary_cross_entropy_with_logits(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    reduction: Reduction = "mean",
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Binary cross-entropy on logits; as ``torch.nn.functional.binary_cross_entropy_with_logits``.

    With :math:`p = \sigma(x)`, :math:`\log p = \log\sigma(x)` and
    :math:`\log(1-p) = \log\sigma(x) - x`, so

    .. math::
        \ell_i = w_i\Big((1 - y_i)\,x_i - \big(1 + (q_i - 1)\,y_i\big)\log\sigma(x_i)\Big),

    where :math:`q` is ``pos_weight`` (1 without it): it multiplies the positive term
    :math:`-y\log p` only, trading recall for precision in multi-label problems. The stable
    :func:`course_lib.numerics.log_sigmoid` keeps value and gradient
    (:math:`w_i((1 + (q_i - 1)y_i)\sigma(x_i) - q_i y_i)`) finite for any finite logit.

    Args:
        input: logits, any shape.
        target: targets in :math:`[0, 1]`, same shape.
        weight: optional rescaling, broadcastable to ``input``'s shape (no gradient, as torch).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; ``'mean'`` divides by the number of
            elements.
        pos_weight: optional weight of positive examples, broadcastable to ``input``'s shape
            (e.g. shape ``(C,)`` for a ``(N, C)`` multi-label input); no gradient, as torch.

    Returns:
        The loss, reduced as asked.

    Raises:
        ValueError: on an unknown ``reduction`` or mismatched shapes.
    """
    check_reduction(reduction)
    check_same_shape(input, target)
    log_p = log_sigmoid(input)
    if pos_weight is None:
        loss = (1 - target) * input - log_p
    else:
        check_broadcastable_to("pos_weight", pos_weight, input.shape)
        log_weight = 1 + (pos_weight.detach() - 1) * target
        loss = (1 - target) * input - log_weight * log_p
    if weight is not None:
        check_broadcastable_to("weight", weight, input.shape)
        loss = loss * weight.detach()
    return reduce(loss, reduction)
