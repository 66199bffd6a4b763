r"""Kink-safe square root and power for losses, next to the stable log-sigmoid / log-softmax.

Two traps recur in loss functions.

1. *Overflow in the forward pass.* ``log(sigmoid(x))`` computed literally gives ``log(0) = -inf``
   for ``x = -800`` in float64 (``-104`` in float32), although the true value is just ``x``;
   ``log(softmax(x))`` likewise. The cure is to rewrite the formula so that ``exp`` only ever
   sees non-positive arguments: :func:`course_lib.numerics.log_sigmoid` and
   :func:`course_lib.numerics.log_softmax` (max-shifted log-sum-exp), re-exported here for the
   losses.
2. *NaN in the backward pass.* ``torch.where(c, a, b)`` sends a zero gradient to the branch it
   did not pick, but zero times an infinite local derivative is ``nan``. So the unused branch
   must also be evaluated at a harmless point. This is the "double where" trick: first replace
   the input where the branch is not used, then select. :func:`safe_sqrt` and :func:`safe_pow`
   use it where a loss meets :math:`\sqrt{s}` or :math:`q^\gamma` at 0.
"""

from __future__ import annotations

import torch

from course_lib.numerics.stable import log_sigmoid, log_softmax

__all__ = ["log_sigmoid", "log_softmax", "safe_pow", "safe_sqrt"]


def safe_sqrt(s: torch.Tensor) -> torch.Tensor:
    r""":math:`\sqrt{s}` for :math:`s \ge 0` whose gradient at :math:`s = 0` is 0, not ``nan``.

    :math:`d\sqrt{s}/ds = 1/(2\sqrt{s})` is infinite at 0; when ``s`` is a squared distance
    between identical points the chain rule then multiplies ``inf`` by a zero difference. We
    pick the subgradient 0 there (the distance's minimum), with the double-where trick.
    """
    positive = s > 0
    s_safe = torch.where(positive, s, torch.ones_like(s))
    return torch.where(positive, torch.sqrt(s_safe), torch.zeros_like(s))


def safe_pow(q: torch.Tensor, gamma: float) -> torch.Tensor:
    r""":math:`q^\gamma` for :math:`q, \gamma \ge 0` whose gradient at :math:`q = 0` is finite.

    For :math:`0 < \gamma < 1` the derivative :math:`\gamma q^{\gamma - 1}` is infinite at 0; in a
    focal loss :math:`q = 1 - p_t` reaches exactly 0 for saturated logits, where the full
    gradient's limit is 0, so we use the subgradient 0 there instead of ``inf * 0 = nan``. For
    :math:`\gamma \ge 1` the derivative is finite and ``q ** gamma`` is used as is;
    :math:`\gamma = 0` gives the constant 1 (:math:`0^0 = 1`: the focal factor disappears).
    """
    if gamma == 0:
        return torch.ones_like(q)
    if gamma >= 1:
        return q**gamma
    positive = q > 0
    q_safe = torch.where(positive, q, torch.ones_like(q))
    return torch.where(positive, q_safe**gamma, torch.zeros_like(q))
