"""What the four experiments share: their registry record, cached data, and prediction."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from course_lib.experiments.presets import Preset

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Experiment:
    """One exercise of the course as a runnable grid.

    Attributes:
        name: the registry key and CLI name (``course run <name>``).
        title: one line for listings.
        configs: ``configs(preset) -> list of plain configurations`` (the grid).
        train_one: ``train_one(config, run_dir, *, device=None) -> metrics``: trains one
            configuration, logs to TensorBoard in ``run_dir`` and writes its history CSVs there.
        plots: ``plots(rows, out_dir) -> files``: the standard figures (PNG and SVG) from the
            results table (and the runs' histories under ``out_dir/runs``).
        headline: ``headline(rows) -> text``: the one-line result that shows the exercise's
            effect, for the CLI and the benchmark.
    """

    name: str
    title: str
    configs: Callable[[Preset], list[dict[str, Any]]]
    train_one: Callable[..., Mapping[str, Any]]
    plots: Callable[[Sequence[Row], Path], list[Path]]
    headline: Callable[[Sequence[Row]], str]


@functools.lru_cache(maxsize=4)
def _load(name: str, seed: int, options: str) -> Any:
    from course_lib import data

    return data.load(name, seed=seed, **json.loads(options))


def load_data(name: str, *, seed: int = 0, **options: Any) -> Any:
    """``course_lib.data.load``, cached in this process for the grid's many runs.

    A grid trains tens of models on the same data; parsing and tokenising it once instead of
    once per run saves most of a small experiment's time. The splits are shared between runs,
    so callers must not modify their tensors in place.
    """
    return _load(name, seed, json.dumps(options, sort_keys=True))


def take(split: Any, n: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The tensors ``(x, y)`` of ``n`` examples of a split, drawn at random (all if ``None``).

    Used to evaluate on part of a large test set in the small presets; the draw depends only on
    ``seed``, so every run of a grid is scored on the same examples.
    """
    x, y = split.x, split.y
    if n is None or n >= len(y):
        return x, y
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx], y[idx]


@torch.no_grad()
def predict(
    model: torch.nn.Module, x: torch.Tensor, device: torch.device, batch_size: int = 1024
) -> torch.Tensor:
    """The model's outputs on ``x`` in evaluation mode, in float32 on the CPU."""
    model.eval()
    outs = [
        model(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)
    ]
    return torch.cat(outs)


def amp_for(amp: str | None, device: torch.device) -> str | None:
    """The preset's mixed precision on CUDA; full precision elsewhere (bf16 is slow on CPUs)."""
    return amp if device.type == "cuda" else None


def finite(value: float) -> float | None:
    """``value`` as a float, or ``None`` when it is NaN or infinite (an empty table cell)."""
    value = float(value)
    return value if math.isfinite(value) else None


def group_mean(
    rows: Sequence[Row], keys: Sequence[str], value: str
) -> dict[tuple[Any, ...], tuple[float, float, int]]:
    """Mean, standard deviation and count of ``value`` over the rows sharing ``keys`` (seeds).

    Rows whose value is missing (a failed or diverged run) are left out of the statistics.
    """
    groups: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        v = row.get(value)
        if v is not None and row.get("status", "done") == "done":
            groups.setdefault(tuple(row[k] for k in keys), []).append(float(v))
    stats = {}
    for key, vals in groups.items():
        mean = sum(vals) / len(vals)
        var = sum((v - mean) ** 2 for v in vals) / max(len(vals) - 1, 1)
        stats[key] = (mean, math.sqrt(var), len(vals))
    return stats


def fit_until_diverged(model: torch.nn.Module, train: Any, **kwargs: Any) -> tuple[Any, bool]:
    """``course_lib.train.fit``, but a run whose loss became NaN or infinite is a result.

    ``fit`` stops at the first non-finite loss with a ``FloatingPointError``; in a learning-rate
    sweep that is an expected outcome of the largest rates (the lr-sensitivity plot shows it),
    not a failure of the run.

    Returns:
        The history (up to the divergence) and whether the run diverged.
    """
    from course_lib.train import fit

    try:
        return fit(model, train, **kwargs), False
    except FloatingPointError as err:
        history = getattr(err, "history", None)
        if history is None:
            raise
        return history, True
