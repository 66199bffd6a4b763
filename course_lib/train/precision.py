"""Mixed precision: ``amp=None | "bf16" | "fp16"`` as an autocast context and a loss scaler.

* ``"bf16"``: bfloat16 has float32's exponent range, so gradients do not underflow and no loss
  scaling is needed. Works on CUDA (Ampere or newer natively), on recent MPS, and on the CPU,
  where it is mainly a way to try mixed precision on a laptop (it is rarely faster there).
* ``"fp16"``: float16's narrow range makes small gradients underflow to zero, so the loss is
  multiplied by a large factor before ``backward`` and the gradients divided by it before the
  step (``torch.amp.GradScaler``, which also skips steps whose gradients overflowed). Only on
  CUDA and MPS: asking for it on the CPU is an error pointing at ``"bf16"`` instead of a silent
  fall back, so a run never reports a precision it did not use.

Autocast leaves the parameters, the gradients and the optimizer state in float32; only the
operations that gain from it (matrix products, convolutions) run in the low precision.
"""

from __future__ import annotations

import contextlib
from typing import Literal

import torch

__all__ = ["AMP_DTYPES", "AmpMode", "autocast", "check_amp", "make_grad_scaler"]

AmpMode = Literal["bf16", "fp16"] | None
AMP_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_amp(amp: str | None, device: torch.device) -> torch.dtype | None:
    """Validate an ``amp`` setting for a device.

    Args:
        amp: ``None`` (full precision), ``"bf16"`` or ``"fp16"``.
        device: where the model runs.

    Returns:
        The autocast dtype, or ``None`` for full precision.

    Raises:
        ValueError: for an unknown mode, or ``"fp16"`` on the CPU.
    """
    if amp is None:
        return None
    if amp not in AMP_DTYPES:
        raise ValueError(f"amp must be None, 'bf16' or 'fp16', got {amp!r}")
    if amp == "fp16" and device.type == "cpu":
        raise ValueError(
            "amp='fp16' needs loss scaling, which fit supports on CUDA and MPS only; on the CPU "
            "use amp='bf16' (same speed-up idea, float32's range, no loss scaling needed)"
        )
    return AMP_DTYPES[amp]


def autocast(device: torch.device, amp: str | None) -> contextlib.AbstractContextManager:
    """The context under which the forward pass and the loss run.

    Args:
        device: where the model runs.
        amp: ``None``, ``"bf16"`` or ``"fp16"``.

    Returns:
        ``torch.autocast`` for the device and dtype, or a context that does nothing.
    """
    dtype = check_amp(amp, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_grad_scaler(device: torch.device, amp: str | None) -> torch.amp.GradScaler | None:
    """A ``GradScaler`` for ``fp16``, else ``None`` (bf16 and float32 need no loss scaling).

    Args:
        device: where the model runs.
        amp: ``None``, ``"bf16"`` or ``"fp16"``.

    Returns:
        The scaler, or ``None``.
    """
    check_amp(amp, device)
    if amp != "fp16":
        return None
    return torch.amp.GradScaler(device.type)
