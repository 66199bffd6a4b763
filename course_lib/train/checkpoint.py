"""Checkpoints that resume a run *exactly*: same weights, to the last bit, as if never stopped.

Resuming exactly needs more than the weights: the optimizer's state (momentum, Adam's moments
and step count), the scheduler's position, the fp16 loss scale, the random generators (the
next dropout mask), the history so far, and where the run was (epoch and step). The batch
order needs nothing: :func:`course_lib.train.batches.epoch_permutation` derives each epoch's
order from ``(seed, epoch)`` alone.

Everything is saved as tensors and plain Python values, so :func:`load_checkpoint` reads it
with ``torch.load(weights_only=True)``, which cannot run code hidden in a file. The file is
written to a temporary name and then renamed, so a run killed while saving leaves the previous
checkpoint intact, never a truncated one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from course_lib.train.history import History
from course_lib.train.seed import get_rng_states, set_rng_states

__all__ = [
    "CHECKPOINT_NAME",
    "Checkpoint",
    "check_resumable",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_NAME = "last.pt"
_FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """Where a saved run was, returned by :func:`load_checkpoint`.

    Attributes:
        epoch: the number of epochs completed.
        step: the number of optimizer steps taken.
        history: the run's history up to the checkpoint.
        config: the run settings saved with it (e.g. seed and batch size), to check that a
            resumed run uses the same ones.
    """

    epoch: int
    step: int
    history: History
    config: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | Path,
    *,
    model: nn.Module,
    optimizer: Optimizer,
    scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    history: History | None = None,
    epoch: int,
    step: int,
    config: dict[str, Any] | None = None,
) -> Path:
    """Save everything needed to resume a run exactly, atomically.

    Call it at a point the loop can restart from (fit calls it at the end of each epoch): the
    random generators are captured at the moment of the call.

    Args:
        path: the file to write (its folder is created).
        model: its ``state_dict`` (parameters and buffers such as BatchNorm statistics).
        optimizer: its ``state_dict``.
        scheduler: an lr scheduler, or ``None``.
        scaler: an fp16 ``GradScaler``, or ``None``.
        history: the history so far, or ``None``.
        epoch: epochs completed.
        step: optimizer steps taken.
        config: plain settings to store alongside (numbers, strings).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format_version": _FORMAT_VERSION,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scaler": None if scaler is None else scaler.state_dict(),
        "rng": get_rng_states(),
        "history": (History() if history is None else history).to_dict(),
        "epoch": int(epoch),
        "step": int(step),
        "config": dict(config or {}),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic on POSIX and Windows: readers see the old file or the new
    return path


def load_checkpoint(
    path: str | Path,
    *,
    model: nn.Module,
    optimizer: Optimizer | None = None,
    scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    restore_rng: bool = True,
) -> Checkpoint:
    """Load a checkpoint into existing objects, in place.

    Args:
        path: a file written by :func:`save_checkpoint`.
        model: receives the saved weights (same architecture; it may be on any device).
        optimizer: receives the saved state (moved to its parameters' devices), or ``None``.
        scheduler: receives the saved state, or ``None``.
        scaler: receives the saved loss scale, or ``None``.
        restore_rng: set the global random generators to their saved state.

    Returns:
        The position, history and settings saved with it.

    Raises:
        FileNotFoundError: if there is no such file.
        ValueError: if a scheduler or scaler is given but none was saved.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    # map_location="cpu": load_state_dict then copies weights and optimizer state to wherever
    # the model lives, so a checkpoint from a GPU loads on a laptop and the other way round.
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    for name, obj in (("scheduler", scheduler), ("scaler", scaler)):
        if obj is None:
            continue
        if state[name] is None:
            raise ValueError(f"{path} holds no {name} state, but a {name} was given")
        obj.load_state_dict(state[name])
    if restore_rng:
        set_rng_states(state["rng"])
    return Checkpoint(
        epoch=state["epoch"],
        step=state["step"],
        history=History.from_dict(state["history"]),
        config=state["config"],
    )


def check_resumable(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    """Refuse to resume when a setting the exact resume depends on has changed.

    Args:
        saved: the ``config`` stored in the checkpoint.
        current: the same settings now (e.g. seed, batch size, training set size).
        path: the checkpoint, for the message.

    Raises:
        ValueError: listing each changed setting with its old and new value.
    """
    changed = {k: (saved[k], v) for k, v in current.items() if k in saved and saved[k] != v}
    if changed:
        detail = ", ".join(f"{k}: {old!r} then, {new!r} now" for k, (old, new) in changed.items())
        raise ValueError(
            f"Cannot resume exactly from {path}: {detail}. Use the original settings, or a new "
            "checkpoint_dir (or resume=False) to start over."
        )
