r"""Multi-class cross-entropy on logits, with class indices or class probabilities as targets.

For logits :math:`x \in \mathbb{R}^C` the model's log-probabilities are
:math:`\log p_c = x_c - \log\sum_j e^{x_j}` (log-softmax, computed with the max-shifted
log-sum-exp so that no ``exp`` overflows). The cross-entropy against a target distribution
:math:`q` is :math:`-\sum_c q_c \log p_c`; a class index :math:`y` is the one-hot :math:`q`.

Label smoothing (Szegedy et al. 2016, "Rethinking the Inception Architecture") replaces
:math:`q` by :math:`(1 - \varepsilon)\,q + \varepsilon / C`.

Torch's normalisation of ``'mean'`` differs between the two target kinds, and we keep it:

* class indices: :math:`\sum_i \ell_i / \sum_i w_{y_i}` over non-ignored examples (a *weighted*
  mean; plain count without ``weight``); all examples ignored gives ``0 / 0 = nan``;
* class probabilities: :math:`\sum_i \ell_i` divided by the number of examples
  (:math:`N \cdot d_1 \cdots d_K`), whatever the weights.
"""

from __future__ import annotations

import torch

from course_lib.losses._checks import Reduction, check_class_weight, check_reduction, reduce
from course_lib.losses._class_targets import (
    check_index_target,
    class_dim,
    class_index_shape,
    class_weight_view,
    gather_target,
)
from course_lib.losses._stable import log_softmax


def cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    r"""Cross-entropy between logits and a target; as ``torch.nn.functional.cross_entropy``.

    Class-index target :math:`y_i` (per example, with class weights :math:`w`, smoothing
    :math:`\varepsilon`, :math:`C` classes):

    .. math::
        \ell_i = -(1 - \varepsilon)\, w_{y_i} \log p_{i, y_i}
                 - \frac{\varepsilon}{C} \sum_c w_c \log p_{i, c},

    and :math:`\ell_i = 0` where :math:`y_i` is ``ignore_index``. ``'mean'`` is
    :math:`\sum_i \ell_i / \sum_{i\ \text{not ignored}} w_{y_i}`.

    Class-probability target :math:`q_{i, c}`:

    .. math::
        \ell_i = -\sum_c w_c\, \tilde q_{i,c} \log p_{i, c}, \qquad
        \tilde q = (1 - \varepsilon)\, q + \varepsilon / C,

    and ``'mean'`` is :math:`\sum_i \ell_i / N` (``ignore_index`` does not apply).

    Args:
        input: logits of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dK)``.
        target: class indices (integer tensor, the input's shape without the class dimension)
            or class probabilities (floating tensor of the input's shape).
        weight: optional per-class weights, shape ``(C,)``.
        ignore_index: class-index target value that is skipped (no loss, no gradient, not
            counted in the mean); it may also be a valid class.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        label_smoothing: :math:`\varepsilon \in [0, 1]`.

    Returns:
        The loss: per example (the input's shape without the class dimension) for ``'none'``,
        else a scalar.

    Raises:
        ValueError: on an unknown ``reduction``, a target of the wrong shape or dtype, a class
            index out of range, a weight not of shape ``(C,)``, or ``label_smoothing`` outside
            [0, 1].
    """
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing={label_smoothing!r} must lie in [0, 1]")
    dim = class_dim(input)
    num_classes = input.shape[dim]
    log_p = log_softmax(input, dim)
    eps = label_smoothing

    if target.shape == input.shape:
        # Class probabilities.
        if not target.is_floating_point():
            raise ValueError(
                f"a target with the input's shape {tuple(input.shape)} holds class "
                f"probabilities and must be floating point, got {target.dtype}; class "
                f"indices drop the class dimension: shape {class_index_shape(input)}"
            )
        check_class_weight(weight, num_classes)
        q = target * (1 - eps) + eps / num_classes if eps > 0 else target
        terms = log_p * q
        if weight is not None:
            terms = terms * class_weight_view(weight, input)
        if reduction == "none":
            return -terms.sum(dim)
        if reduction == "sum":
            return -terms.sum()
        # Divide by the number of examples; an empty batch gives 0 / 0 = nan, as torch.
        return -terms.sum() / (input.numel() / num_classes)

    # Class indices.
    check_index_target(input, target, weight, ignore_index)
    log_p_t, w_t = gather_target(log_p, target, weight, ignore_index)
    loss = -w_t * log_p_t
    if eps > 0:
        # The uniform part of the smoothed target: -(eps / C) * sum_c w_c log p_c.
        weighted = log_p if weight is None else log_p * class_weight_view(weight, input)
        smooth = -weighted.sum(dim)
        smooth = torch.where(target != ignore_index, smooth, torch.zeros_like(smooth))
        loss = (1 - eps) * loss + (eps / num_classes) * smooth
    if reduction == "mean":
        # The weighted mean, normalised by the target classes' weights (nll_loss convention).
        return loss.sum() / w_t.sum()
    return reduce(loss, reduction)
