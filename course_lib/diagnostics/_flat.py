"""Flat vectors and lists of tensors: solvers see one vector, the model sees its shapes."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def flatten(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenate tensors into one 1-D vector, in order (row-major within each tensor)."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(flat: torch.Tensor, like: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Split a 1-D vector into views shaped like ``like`` (the inverse of :func:`flatten`)."""
    sizes = [t.numel() for t in like]
    if flat.numel() != sum(sizes):
        raise ValueError(f"a flat vector of {flat.numel()} entries cannot fill {sum(sizes)}")
    return tuple(part.view_as(t) for part, t in zip(torch.split(flat, sizes), like, strict=True))
