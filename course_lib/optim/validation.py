"""Argument checks shared by the optimizers.

Each check raises ``ValueError`` naming the argument and the value it got, and says what range
is allowed, so that a typo in a notebook is caught at construction, not after an epoch of NaNs.
"""

from __future__ import annotations

import math

import torch


def _as_float(name: str, value: float | torch.Tensor) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        return float(value.item())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r} of type {type(value).__name__}")
    return float(value)


def check_non_negative(name: str, value: float | torch.Tensor) -> None:
    """Require ``value >= 0`` and finite (learning rates, weight decay, eps, momentum...)."""
    v = _as_float(name, value)
    if not math.isfinite(v) or v < 0.0:
        raise ValueError(f"Invalid {name} value: {value!r}; {name} must be a finite number >= 0")


def check_unit_interval(
    name: str, value: float | torch.Tensor, *, closed_right: bool = False
) -> None:
    """Require ``0 <= value < 1`` (or ``<= 1`` with ``closed_right``): betas, alpha, dampening."""
    v = _as_float(name, value)
    upper_ok = v <= 1.0 if closed_right else v < 1.0
    if not (v >= 0.0 and upper_ok):
        bracket = "]" if closed_right else ")"
        raise ValueError(f"Invalid {name} value: {value!r}; {name} must lie in [0, 1{bracket}")


def check_betas(betas: tuple[float, float]) -> None:
    """Require a pair ``(beta1, beta2)`` with each in ``[0, 1)``."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"Invalid betas value: {betas!r}; betas must be a pair (beta1, beta2)")
    check_unit_interval("beta parameter at index 0 (betas[0])", betas[0])
    check_unit_interval("beta parameter at index 1 (betas[1])", betas[1])


def check_positive_int(name: str, value: int) -> None:
    """Require an integer ``>= 1`` (history sizes, Lookahead's k...)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Invalid {name} value: {value!r}; {name} must be an integer >= 1")
