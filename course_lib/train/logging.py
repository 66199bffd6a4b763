"""TensorBoard logging for a training run (``torch.utils.tensorboard.SummaryWriter``).

Tags, all against the global step (so that epoch values line up with step values):

* every ``log_every`` steps: ``train/loss``, ``train/lr``, ``train/grad_norm`` (the global
  gradient 2-norm before clipping) and ``grad_norm/<layer>`` for each module that owns
  parameters (``<layer>`` is the module's name, e.g. ``0`` or ``encoder.fc1``; its weight and
  bias count together);
* every ``histogram_every`` steps: ``weights/<parameter>`` and ``gradients/<parameter>``
  (30 equal-width bins between the tensor's finite minimum and maximum);
* every epoch: ``train/epoch_loss``, ``train/<metric>``, ``val/loss``, ``val/<metric>``,
  ``time/wall_time``, ``memory/peak_bytes``;
* at the end: the hyperparameters with the final epoch's values (the HParams tab), written
  into the same run folder rather than into a new sub-run as ``add_hparams`` would.

Each call writes *one* event holding all its values, not one event per value as
``add_scalar`` does: every event is handed to the writer's background thread, which (without
TensorFlow installed) checksums it in pure Python while holding the GIL, so on a laptop CPU
the number and size of events, not the values, are the cost of logging.

Open the logs with ``tensorboard --logdir <log_dir>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tensorboard.compat.proto.summary_pb2 import Summary
from torch import Tensor, nn
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import histogram_raw
from torch.utils.tensorboard.summary import hparams as hparams_summary

__all__ = ["HISTOGRAM_BINS", "TensorBoardLogger", "layer_name", "layer_norms"]

# TensorBoard redraws every histogram with 30 buckets, so more bins would only cost bytes.
HISTOGRAM_BINS = 30


def layer_name(parameter_name: str) -> str:
    """The module that owns a parameter: ``"encoder.fc1.weight"`` -> ``"encoder.fc1"``."""
    return parameter_name.rpartition(".")[0] or parameter_name


def layer_norms(names: Sequence[str], norms: Sequence[float]) -> dict[str, float]:
    """Per-layer 2-norms from per-parameter 2-norms: the root of the sum of their squares."""
    squares: dict[str, float] = {}
    for name, norm in zip(names, norms, strict=True):
        layer = layer_name(name)
        squares[layer] = squares.get(layer, 0.0) + norm * norm
    return {layer: math.sqrt(s) for layer, s in squares.items()}


def _hparam_value(value: Any) -> int | float | str | bool:
    # The HParams plugin takes numbers, strings and booleans; anything else is shown as text.
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def _histogram(tag: str, values: Tensor) -> Summary.Value | None:
    """One histogram, binned by torch where the tensor lives; only the bins reach the host.

    ``SummaryWriter.add_histogram`` would copy the tensor to the host, widen it to float64
    and sort it (its default bins are exponential), which on a CPU cost several percent of
    an MLP's epoch for one pass over its parameters.
    """
    v = values.detach().float().flatten()
    if v.device.type != "cpu" and torch.are_deterministic_algorithms_enabled():
        v = v.cpu()  # histc has no deterministic GPU kernel, and would raise
    if v.numel() == 0:
        return None
    low, high, total, squares = torch.stack([v.min(), v.max(), v.sum(), v.dot(v)]).tolist()
    if not (math.isfinite(low) and math.isfinite(high)):
        v = v[torch.isfinite(v)]  # rare (a diverging run): bin the finite values only
        if v.numel() == 0:
            return None
        low, high, total, squares = torch.stack([v.min(), v.max(), v.sum(), v.dot(v)]).tolist()
    if high <= low:  # a constant tensor (e.g. biases at 0): one narrow range
        high = low + max(abs(low), 1.0) * 1e-6
    counts = torch.histc(v, bins=HISTOGRAM_BINS, min=low, max=high)
    limits = torch.linspace(low, high, HISTOGRAM_BINS + 1)[1:]  # right edges
    summary = histogram_raw(
        tag, low, high, v.numel(), total, squares, limits.tolist(), counts.tolist()
    )
    return summary.value[0]


class TensorBoardLogger:
    """Writes a run's scalars, histograms and hyperparameters to one TensorBoard folder.

    Args:
        log_dir: the run's folder (created if needed).
        purge_step: when resuming, hide the events an earlier (crashed) run wrote at this
            step and later, so that the curves do not double back.
    """

    def __init__(self, log_dir: str | Path, purge_step: int | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=purge_step)

    def add_scalars(self, values: Mapping[str, float], step: int | None) -> None:
        """Scalars under their full tags, as a single event."""
        summary = Summary(
            value=[Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()]
        )
        self.writer.file_writer.add_summary(summary, step)

    def log_step(
        self, step: int, values: Mapping[str, float], layers: Mapping[str, float] | None = None
    ) -> None:
        """Step scalars as ``train/<key>``, per-layer gradient norms as ``grad_norm/<layer>``."""
        tags = {f"train/{key}": value for key, value in values.items()}
        tags.update({f"grad_norm/{layer}": value for layer, value in (layers or {}).items()})
        self.add_scalars(tags, step)

    def log_histograms(self, model: nn.Module, step: int) -> None:
        """Histograms of every trainable parameter and of its gradient (where it has one)."""
        values = []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            values.append(_histogram(f"weights/{name}", p))
            if p.grad is not None:
                values.append(_histogram(f"gradients/{name}", p.grad))
        summary = Summary(value=[v for v in values if v is not None])
        self.writer.file_writer.add_summary(summary, step)

    def log_epoch(self, row: Mapping[str, Any], step: int) -> None:
        """An epoch row of the history: ``train_x`` -> ``train/x``, ``val_x`` -> ``val/x``."""
        tags = {}
        for key, value in row.items():
            if value is None or key in ("epoch", "step"):
                continue
            if key == "train_loss":
                tag = "train/epoch_loss"  # train/loss is the per-step curve
            elif key.startswith(("train_", "val_")):
                tag = key.replace("_", "/", 1)
            elif key == "wall_time":
                tag = "time/wall_time"
            elif key == "peak_memory_bytes":
                tag = "memory/peak_bytes"
            else:
                tag = f"epoch/{key}"
            tags[tag] = value
        self.add_scalars(tags, step)

    def log_hparams(self, hparams: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        """Hyperparameters and final results, for TensorBoard's HParams tab.

        Args:
            hparams: settings of the run (non-numbers are shown as text).
            metrics: final values, logged as ``hparam/<name>`` scalars.
        """
        clean = {k: _hparam_value(v) for k, v in hparams.items()}
        tagged = {f"hparam/{k}": float(v) for k, v in metrics.items() if v is not None}
        for summary in hparams_summary(clean, tagged):
            self.writer.file_writer.add_summary(summary)
        self.add_scalars(tagged, None)

    def close(self) -> None:
        """Flush everything to disk and close the event file."""
        self.writer.close()
