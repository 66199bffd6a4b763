r"""Numerically stable reductions next to the naive forms the chapters contrast them with.

The naive forms are kept on purpose: a reader sees them overflow or cancel, then sees the fix.

* :math:`\log\sum_i e^{x_i}` overflows for :math:`x_i \gtrsim 89` in float32. Shifting by the
  maximum, :math:`m + \log\sum_i e^{x_i - m}`, keeps every exponent :math:`\le 0`.
* :math:`\log\sigma(x) = -\log(1 + e^{-x})` overflows for very negative :math:`x`; the stable form
  is :math:`\min(x, 0) - \log(1 + e^{-|x|})`.
* :math:`\operatorname{Var}[x] = E[x^2] - E[x]^2` subtracts two nearly equal numbers when the mean
  is large compared with the spread (catastrophic cancellation); subtracting the mean first
  (two passes) does not.
"""

from __future__ import annotations

import torch


def logsumexp_naive(x: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    r""":math:`\log\sum_i e^{x_i}` computed literally; overflows to ``inf`` for large inputs."""
    return torch.log(torch.exp(x).sum(dim=dim, keepdim=keepdim))


def logsumexp(x: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    r"""Stable :math:`\log\sum_i e^{x_i} = m + \log\sum_i e^{x_i - m}` with :math:`m = \max_i x_i`.

    Matches ``torch.logsumexp`` in value and gradient, including rows that are all ``-inf``
    (result ``-inf``) and rows containing ``+inf`` (result ``+inf``).

    Args:
        x: input tensor.
        dim: dimension to reduce.
        keepdim: keep the reduced dimension with size 1.

    Returns:
        The log-sum-exp along ``dim``.
    """
    m = x.amax(dim=dim, keepdim=True)
    # An infinite maximum would give inf - inf = nan in the shift; shifting by 0 instead keeps the
    # exact answer (-inf for an all -inf row, +inf when some entry is +inf). The shift is a
    # constant for the gradient (detached): the true gradient, softmax(x), does not depend on it.
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m).detach()
    out = torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True)) + m
    return out if keepdim else out.squeeze(dim)


def softmax_naive(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r""":math:`e^{x_i} / \sum_j e^{x_j}` computed literally: ``nan`` once ``exp`` overflows."""
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Stable softmax, :math:`e^{x_i - m} / \sum_j e^{x_j - m}`; matches ``torch.softmax``."""
    e = torch.exp(x - x.amax(dim=dim, keepdim=True).detach())
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax_naive(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``log(softmax_naive(x))``: ``-inf`` (and ``nan`` gradients) once a probability underflows."""
    return torch.log(softmax_naive(x, dim=dim))


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Stable :math:`(x_i - m) - \log \sum_j e^{x_j - m}` with :math:`m = \max_j x_j`.

    Subtracting the maximum *before* the final subtraction matters: ``x - logsumexp(x)`` would
    subtract two numbers of size :math:`|m|` and lose the low digits (about 1e-5 absolute for
    float32 logits near 1000). Matches ``torch.log_softmax``.
    """
    shifted = x - x.amax(dim=dim, keepdim=True).detach()
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def log_sigmoid_naive(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\log \frac{1}{1 + e^{-x}}` computed literally: ``-inf`` for :math:`x \lesssim -710`
    in float64 (``-104`` in float32) where the true value is about :math:`x`."""
    return torch.log(1.0 / (1.0 + torch.exp(-x)))


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    r"""Stable :math:`\log\sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})`; matches
    ``torch.nn.functional.logsigmoid`` in value and gradient."""
    # torch.minimum splits the gradient evenly on a tie, which gives the true derivative 1/2 at
    # x = 0 (|x| has gradient 0 there); clamp would give 1 or 0.
    return torch.minimum(x, torch.zeros_like(x)) - torch.log1p(torch.exp(-x.abs()))


def log1p_naive(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\log(1 + x)` computed literally: for :math:`|x|` below machine epsilon, ``1 + x``
    rounds to 1 and the result is 0 instead of about :math:`x`. ``torch.log1p`` is the fix."""
    return torch.log(1.0 + x)


def variance_naive(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Population variance as :math:`E[x^2] - E[x]^2`: cancels catastrophically (it can even come
    out negative) when :math:`|E[x]|` is large compared with the standard deviation."""
    return (x * x).mean(dim=dim) - x.mean(dim=dim) ** 2


def variance_two_pass(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Population variance as :math:`E[(x - E[x])^2]`: the mean is removed before squaring, so
    nothing large is subtracted from anything large. Matches ``torch.var(x, correction=0)``."""
    centred = x - x.mean(dim=dim, keepdim=True)
    return (centred * centred).mean(dim=dim)
