"""Shapes and target look-ups shared by the multi-class losses (cross-entropy, softmax focal).

Torch's layout: the class dimension is dimension 1, except for a single unbatched example.

==========================  ==========================  =================================
input (logits)              class-index target           class-probability target
==========================  ==========================  =================================
``(C,)``                    ``()``                       ``(C,)``
``(N, C)``                  ``(N,)``                     ``(N, C)``
``(N, C, d1, ..., dK)``     ``(N, d1, ..., dK)``         ``(N, C, d1, ..., dK)``
==========================  ==========================  =================================

A target with exactly the input's shape holds probabilities; otherwise it holds class indices.
"""

from __future__ import annotations

import torch

from course_lib.losses._checks import check_class_indices, check_class_weight


def class_dim(input: torch.Tensor) -> int:
    """The class dimension: 0 for an unbatched ``(C,)`` input, else 1."""
    if input.dim() == 0:
        raise ValueError(
            "input must have a class dimension: shape (C,), (N, C) or (N, C, d1, ...), got a "
            "0-dimensional tensor"
        )
    return 0 if input.dim() == 1 else 1


def class_index_shape(input: torch.Tensor) -> tuple[int, ...]:
    """The shape a class-index target must have: the input's shape without the class dim."""
    dim = class_dim(input)
    return tuple(input.shape[:dim]) + tuple(input.shape[dim + 1 :])


def class_weight_view(weight: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
    """Reshape a ``(C,)`` weight so that it broadcasts along the input's class dimension."""
    shape = [1] * input.dim()
    shape[class_dim(input)] = weight.numel()
    return weight.view(shape)


def check_index_target(
    input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, ignore_index: int
) -> None:
    """Validate a class-index target (shape, dtype, range) and a per-class weight."""
    num_classes = input.shape[class_dim(input)]
    expected = class_index_shape(input)
    if tuple(target.shape) != expected:
        raise ValueError(
            f"input has shape {tuple(input.shape)} (class dimension {class_dim(input)}), so a "
            f"target must be class indices of shape {expected} or class probabilities of shape "
            f"{tuple(input.shape)}; got target shape {tuple(target.shape)}"
        )
    check_class_weight(weight, num_classes)
    check_class_indices(target, num_classes, ignore_index)


def gather_target(
    log_p: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, ignore_index: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick each example's target entries, with ignored examples zeroed.

    Args:
        log_p: log-probabilities, the input's shape.
        target: class indices (already validated), the input's shape without the class dim.
        weight: per-class weights ``(C,)`` or ``None``.
        ignore_index: target value whose examples contribute nothing.

    Returns:
        ``(log_p_t, w_t)``: the log-probability of each example's target class and its class
        weight (1 without ``weight``), both 0 where the target is ``ignore_index``. Ignored
        examples thus get zero loss, zero gradient and zero weight in a weighted mean.
    """
    dim = class_dim(log_p)
    valid = target != ignore_index
    # An ignored target may be any integer (-100 by default): replace it by a valid index so
    # that gather cannot go out of bounds, then zero its result.
    safe_target = torch.where(valid, target, torch.zeros_like(target))
    picked = log_p.gather(dim, safe_target.unsqueeze(dim)).squeeze(dim)
    log_p_t = torch.where(valid, picked, torch.zeros_like(picked))
    if weight is None:
        w_t = valid.to(log_p.dtype)
    else:
        w_picked = weight[safe_target]
        w_t = torch.where(valid, w_picked, torch.zeros_like(w_picked))
    return log_p_t, w_t
