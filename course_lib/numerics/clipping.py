r"""Gradient clipping by global norm and by value, with ``torch.nn.utils``'s exact semantics.

By norm, every gradient is scaled by the same factor, so the update keeps its direction:

.. math::
    \|g\| = \Big\| \big(\|g^{(1)}\|_p, \dots, \|g^{(k)}\|_p\big) \Big\|_p, \qquad
    g^{(i)} \leftarrow g^{(i)} \cdot \min\!\Big(1, \frac{c}{\|g\| + 10^{-6}}\Big).

By value, each component is clamped to :math:`[-c, c]` on its own, which changes the direction
of the update whenever some components are clipped and others are not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

TensorOrTensors = torch.Tensor | Iterable[torch.Tensor]


def _grads(parameters: TensorOrTensors) -> list[torch.Tensor]:
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters: TensorOrTensors,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> torch.Tensor:
    """Scale gradients in place so that their global ``norm_type`` norm is at most ``max_norm``.

    Same arguments and return value as ``torch.nn.utils.clip_grad_norm_``; the ``1e-6`` in the
    denominator is torch's, so results agree to the last bit in float64.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped.
        max_norm: the largest global norm allowed.
        norm_type: the p of the p-norm; ``float("inf")`` for the largest absolute value.
        error_if_nonfinite: raise if the total norm is ``nan`` or ``inf`` instead of scaling.

    Returns:
        The total norm of the gradients before clipping, as a 0-d tensor.

    Raises:
        RuntimeError: if ``error_if_nonfinite`` and the norm is not finite.
    """
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return torch.tensor(0.0)
    # Each tensor's norm first, then the norm of those norms: the same number as the norm of the
    # concatenation, without building the concatenation.
    per_tensor = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads])
    total = torch.linalg.vector_norm(per_tensor, norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(
            f"The total norm of order {norm_type} of the gradients is {total.item()}, so they "
            "cannot be clipped; check the loss for inf/nan, or pass error_if_nonfinite=False"
        )
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        # Multiplying by a factor of exactly 1 when no clipping is needed avoids a branch on a
        # device value (no host synchronisation), which is also what torch does.
        g.mul_(scale.to(g.device))
    return total


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float) -> None:
    """Clamp every gradient component in place to ``[-clip_value, clip_value]``.

    Same arguments and return value (``None``) as ``torch.nn.utils.clip_grad_value_``.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped.
        clip_value: the largest absolute value allowed.
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        g.clamp_(min=-clip_value, max=clip_value)
