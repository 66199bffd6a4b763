"""Numerically stable building blocks: log-sigmoid, log-softmax, and kink-safe sqrt and power.

Two traps recur in loss functions and each helper here avoids one of them.

1. *Overflow in the forward pass.* ``log(sigmoid(x))`` computed literally gives ``log(0) = -inf``
   for ``x = -800`` in float64 (``-104`` in float32), although the true value is just ``x``. The
   cure is to rewrite the formula so that ``exp`` only ever sees non-positive arguments.
2. *NaN in the backward pass.* ``torch.where(c, a, b)`` sends a zero gradient to the branch it
   did not pick, but zero times an infinite local derivative is ``nan``. So the unused branch
   must also be evaluated at a harmless point. This is the "double where" trick: first replace
   the input where the branch is not used, then select.
"""

from __future__ import annotations

import torch


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    r"""Stable :math:`\log\sigma(x) = -\log(1 + e^{-x})`.

    .. math::
        \log\sigma(x) = \begin{cases} x - \log(1 + e^{x}) & x < 0 \\
                                      -\log(1 + e^{-x}) & x \ge 0 \end{cases}

    Both branches call ``exp`` on a non-positive number, so nothing overflows, and ``log1p``
    keeps full precision when ``e^{\mp x}`` is tiny. Each branch is evaluated only on its own
    half-line (the other half gets 0), so its unused gradient is finite and the gradient is
    :math:`\sigma(-x)` everywhere, including exactly :math:`1/2` at :math:`x = 0`.
    """
    negative = x < 0
    x_neg = torch.where(negative, x, torch.zeros_like(x))
    x_pos = torch.where(negative, torch.zeros_like(x), x)
    return torch.where(
        negative, x_neg - torch.log1p(torch.exp(x_neg)), -torch.log1p(torch.exp(-x_pos))
    )


def log_softmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    r"""Stable :math:`\log \mathrm{softmax}(x)_i = x_i - \log\sum_j e^{x_j}` along ``dim``.

    The log-sum-exp is computed as :math:`m + \log\sum_j e^{x_j - m}` with :math:`m = \max_j x_j`:
    every exponent is :math:`\le 0`, so ``exp`` cannot overflow, and the largest term is exactly
    1, so the sum cannot underflow to 0 and its log is finite. ``m`` is detached: the result does
    not depend on it mathematically, so treating it as a constant leaves the gradient
    (:math:`\delta_{ij} - \mathrm{softmax}(x)_j`) exact and skips a useless backward path.
    """
    m = x.detach().amax(dim=dim, keepdim=True)
    # A slice that is all -inf has max -inf and x - m = nan; shift it by 0 instead.
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    shifted = x - m
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


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
    r""":math:`q^\gamma` for :math:`q \ge 0`, :math:`\gamma \ge 0`, with gradient 0 at :math:`q = 0`.

    For :math:`0 < \gamma < 1` the derivative :math:`\gamma q^{\gamma - 1}` is infinite at 0; in a
    focal loss :math:`q = 1 - p_t` reaches exactly 0 for confident logits, and the limit of the
    full gradient there is 0, so we return that instead of ``inf * 0 = nan``.
    """
    if gamma == 0:
        return torch.ones_like(q)
    positive = q > 0
    q_safe = torch.where(positive, q, torch.ones_like(q))
    return torch.where(positive, q_safe**gamma, torch.zeros_like(q))
