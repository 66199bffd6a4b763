"""Argument checks and the reduction step that every loss shares.

A loss first computes one value per example (or per element); the ``reduction`` argument then
says what to hand back, exactly as in ``torch.nn.functional``:

* ``"none"``: the per-example values, unchanged;
* ``"sum"``: their sum;
* ``"mean"``: their mean (an empty batch gives ``nan``, as ``0 / 0`` does in torch).

Each check raises :class:`ValueError` that names the argument, says what it got and what to do,
so that a typo in a notebook fails at the call, not after an epoch of NaNs.
"""

from __future__ import annotations

from typing import Literal

import torch

Reduction = Literal["none", "mean", "sum"]
REDUCTIONS: tuple[str, ...] = ("none", "mean", "sum")


def check_reduction(reduction: str) -> None:
    """Require one of ``'none'``, ``'mean'``, ``'sum'``."""
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction={reduction!r} is not supported; use one of 'none', 'mean' or 'sum'"
        )


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply ``reduction`` to a tensor of per-element losses (mean of nothing is ``nan``)."""
    check_reduction(reduction)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


def check_same_shape(
    input: torch.Tensor, target: torch.Tensor, names: tuple[str, str] = ("input", "target")
) -> None:
    """Require equal shapes (torch only warns here, then broadcasts, which is rarely meant)."""
    if input.shape != target.shape:
        raise ValueError(
            f"{names[0]} has shape {tuple(input.shape)} but {names[1]} has shape "
            f"{tuple(target.shape)}; they must have the same shape (reshape or squeeze the "
            f"{names[1]}, e.g. {names[1]}.view_as({names[0]}), rather than rely on broadcasting)"
        )


def check_broadcastable_to(name: str, tensor: torch.Tensor, shape: torch.Size) -> None:
    """Require that ``tensor`` broadcasts to ``shape`` without enlarging it."""
    try:
        ok = torch.broadcast_shapes(tensor.shape, shape) == shape
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} has shape {tuple(tensor.shape)}, which does not broadcast to the input's "
            f"shape {tuple(shape)}; give it that shape or one that broadcasts to it"
        )


def check_class_weight(weight: torch.Tensor | None, num_classes: int) -> None:
    """Require a per-class weight vector of length ``num_classes`` (or ``None``)."""
    if weight is not None and (weight.dim() != 1 or weight.numel() != num_classes):
        raise ValueError(
            f"weight has shape {tuple(weight.shape)}; it must be a 1-D tensor with one entry "
            f"per class, i.e. shape ({num_classes},)"
        )


def check_class_indices(
    target: torch.Tensor, num_classes: int, ignore_index: int | None = None
) -> None:
    """Require integer class indices in ``[0, num_classes)`` (``ignore_index`` is allowed)."""
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError(
            f"class-index target must be an integer tensor (torch.long), got {target.dtype}; "
            "convert it with target.long(), or pass class probabilities with the input's shape"
        )
    used = target if ignore_index is None else target[target != ignore_index]
    bad = (used < 0) | (used >= num_classes)
    if bool(bad.any()):
        raise ValueError(
            f"target contains class index {int(used[bad][0])}, outside [0, {num_classes}) "
            f"(and not ignore_index={ignore_index}); targets must be class indices of the input"
        )
