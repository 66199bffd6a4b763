"""Typed per-parameter state under torch's key names, and the scalar helpers around it.

An optimizer's state for one parameter is a small ``@dataclass`` (``AdamState``,
``NAdamState``...) whose field names are exactly the keys torch keeps in ``self.state[p]``. The
dataclass is a typed *view* of that dict: both name the same tensors, which the functional cores
update in place, so nothing is ever written back and a ``state_dict`` saved by ours loads into
torch's class of the same name (and the other way round).

Scalar state (``step``, NAdam's ``mu_product``) follows torch too: a 0-d tensor on the CPU, of
torch's scalar dtype, updated in place.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import torch
from torch import Tensor

__all__ = ["TorchKeyedState", "as_float", "host_value", "new_scalar", "scalar_dtype"]


class TorchKeyedState:
    """Mixin for a state dataclass whose field names are torch's ``self.state[p]`` keys."""

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Any:
        """View ``state`` (a ``self.state[p]`` dict) as this dataclass.

        A field with a default (an optional entry such as AMSGrad's ``max_exp_avg_sq``) may be
        missing from the dict; a required one raises ``KeyError``.
        """
        kwargs = {
            f.name: state[f.name] if f.default is MISSING else state.get(f.name, f.default)
            for f in fields(cls)  # type: ignore[arg-type]
        }
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Tensor]:
        """The dict torch would keep (fields that are ``None`` are left out)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        return {k: v for k, v in values.items() if v is not None}


def scalar_dtype() -> torch.dtype:
    """The dtype torch gives scalar state: float64 only if that is the default dtype.

    This is more than tidiness: NAdam's ``mu_product`` is such a scalar, and its float32
    rounding feeds into every update.
    """
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def new_scalar(value: float) -> Tensor:
    """A 0-d scalar state tensor on the CPU, like torch's (reading a CUDA one would sync)."""
    return torch.tensor(value, dtype=scalar_dtype())


def host_value(x: Tensor) -> float:
    """A 0-d state tensor as a Python float, for scalar maths such as bias corrections.

    This is torch's choice for its non-capturable paths too. Under ``torch.compile`` each
    ``.item()`` is a graph break, unless ``torch._dynamo.config.capture_scalar_outputs = True``,
    with which the Adam-family foreach cores compile without a break (checked with torch 2.13).
    """
    return x.item()


def as_float(value: float | Tensor) -> float:
    """A hyperparameter (possibly a one-element tensor, as torch allows) as a Python float."""
    return float(value.item()) if isinstance(value, Tensor) else float(value)
