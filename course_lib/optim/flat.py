"""A list of parameter tensors seen as one flat vector (for L-BFGS and Newton).

Second-order methods work with :math:`x \\in \\mathbb{R}^n`, the concatenation of every parameter
flattened in order; these helpers move between that vector and the tensors.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["add_to_params", "flat_grad", "flat_params", "set_params"]


def flat_grad(params: Sequence[Tensor]) -> Tensor:
    """The gradients concatenated (a new tensor); a missing ``grad`` counts as zeros.

    A parameter the loss does not use has no ``grad``: its partial derivatives are zero.
    """
    return torch.cat(
        [
            p.new_zeros(p.numel())
            if p.grad is None
            else (p.grad.to_dense() if p.grad.is_sparse else p.grad).reshape(-1)
            for p in params
        ]
    )


def flat_params(params: Sequence[Tensor]) -> Tensor:
    """The parameter values concatenated (a new tensor, detached)."""
    return torch.cat([p.detach().reshape(-1) for p in params])


@torch.no_grad()
def set_params(
    params: Sequence[Tensor], x: Tensor, alpha: float = 0.0, d: Tensor | None = None
) -> None:
    """In place: parameters <- ``x + alpha * d`` (``x`` alone if ``d`` is ``None``)."""
    offset = 0
    for p in params:
        n = p.numel()
        p.copy_(x[offset : offset + n].view_as(p))
        if d is not None:
            p.add_(d[offset : offset + n].view_as(p), alpha=alpha)
        offset += n


@torch.no_grad()
def add_to_params(params: Sequence[Tensor], d: Tensor, alpha: float = 1.0) -> None:
    """In place: parameters <- parameters + ``alpha * d``."""
    offset = 0
    for p in params:
        n = p.numel()
        p.add_(d[offset : offset + n].view_as(p), alpha=alpha)
        offset += n
