"""The pieces fit assembles before its first step: optimizer, scheduler, and small probes."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.lr_scheduler import ReduceLROnPlateau as TorchPlateau

from course_lib.schedules import ReduceLROnPlateau as CoursePlateau

__all__ = [
    "OptimizerArg",
    "SchedulerArg",
    "check_fit_arguments",
    "default_hparams",
    "is_plateau",
    "make_optimizer",
    "make_scheduler",
    "peak_memory_bytes",
    "reset_peak_memory",
]

OptimizerArg = Optimizer | Callable[[Iterable[nn.Parameter]], Optimizer]
SchedulerArg = LRScheduler | TorchPlateau | Callable[[Optimizer], Any] | None


def check_fit_arguments(settings: dict[str, Any]) -> None:
    """Validate fit's plain arguments (``settings`` is its ``locals()``).

    Raises:
        ValueError: naming the first argument out of range.
    """

    def at_least(name: str, low: int, optional: bool = False) -> None:
        value = settings[name]
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")

    at_least("epochs", 0)
    at_least("batch_size", 1)
    at_least("eval_batch_size", 1, optional=True)
    at_least("log_every", 1)
    at_least("histogram_every", 0, optional=True)
    at_least("max_steps", 1, optional=True)
    at_least("seed", 0)
    if settings["scheduler_interval"] not in ("step", "epoch"):
        raise ValueError(
            f"scheduler_interval must be 'step' or 'epoch', got {settings['scheduler_interval']!r}"
        )
    for name in ("clip_grad_norm", "clip_grad_value"):
        if settings[name] is not None and not settings[name] > 0:
            raise ValueError(f"{name} must be positive or None, got {settings[name]!r}")
    if settings["resume"] and settings["checkpoint_dir"] is None:
        raise ValueError("resume=True needs a checkpoint_dir to resume from")


def make_optimizer(optimizer: OptimizerArg, model: nn.Module) -> Optimizer:
    """Use an optimizer, or build one from a factory over the model's trainable parameters.

    A factory (``lambda params: SGD(params, lr=0.1)``) is the safer form: it is applied after
    the model has moved to its device, and a resumed run builds a fresh optimizer from it.

    Raises:
        TypeError: if the result is not an optimizer, or its ``step`` needs a closure.
    """
    if not isinstance(optimizer, Optimizer):
        if not callable(optimizer):
            raise TypeError(f"optimizer must be an Optimizer or a factory, got {optimizer!r}")
        optimizer = optimizer(p for p in model.parameters() if p.requires_grad)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"the optimizer factory returned {type(optimizer).__name__}")
    closure = inspect.signature(optimizer.step).parameters.get("closure")
    if closure is not None and closure.default is inspect.Parameter.empty:
        raise TypeError(
            f"{type(optimizer).__name__}.step needs a closure (it re-evaluates the loss, as "
            "L-BFGS and Newton's method do); fit takes one gradient per batch, so drive this "
            "optimizer from a hand-written loop"
        )
    return optimizer


def make_scheduler(scheduler: SchedulerArg, optimizer: Optimizer) -> Any | None:
    """Use a scheduler, or build one from a factory ``optimizer -> scheduler``."""
    if scheduler is None or isinstance(scheduler, (LRScheduler, TorchPlateau)):
        return scheduler
    if not callable(scheduler):
        raise TypeError(f"scheduler must be a scheduler or a factory, got {scheduler!r}")
    built = scheduler(optimizer)
    if not hasattr(built, "step") or not hasattr(built, "state_dict"):
        raise TypeError(f"the scheduler factory returned {type(built).__name__}")
    return built


def is_plateau(scheduler: Any) -> bool:
    """Whether a scheduler is stepped with a metric (torch's or course_lib's ReduceLROnPlateau)."""
    return isinstance(scheduler, (TorchPlateau, CoursePlateau))


def default_hparams(
    optimizer: Optimizer, scheduler: Any | None, settings: dict[str, Any]
) -> dict[str, Any]:
    """The hyperparameters worth a column in TensorBoard's HParams tab, read off the objects."""
    group = optimizer.param_groups[0]
    lr = group.get("initial_lr", group["lr"])
    hparams: dict[str, Any] = {
        "optimizer": type(optimizer).__name__,
        "lr": float(lr),
        "scheduler": "none" if scheduler is None else type(scheduler).__name__,
    }
    for key in ("momentum", "weight_decay"):
        if isinstance(group.get(key), (int, float)):
            hparams[key] = float(group[key])
    hparams.update({k: v for k, v in settings.items() if v is not None})
    return hparams


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window (CUDA only: a process's peak RSS cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> int | None:
    """Peak memory: CUDA's peak allocated bytes since the last reset, else the peak RSS.

    On the CPU and on MPS (whose memory is the process's) this is the process's peak resident
    set size since it started, from ``resource.getrusage``: it includes Python, torch and the
    data set, and never goes down. ``None`` where ``resource`` does not exist (Windows).
    """
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return int(peak if sys.platform == "darwin" else peak * 1024)
