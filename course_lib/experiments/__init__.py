"""The course's four exercises as resumable experiment grids with tidy results and plots.

``course run <name> --preset smoke|cpu|gpu --out DIR`` (or :func:`run_experiment`) runs one:

* ``losses``: MSE / MAE / Huber on California Housing, with and without outliers;
* ``shootout``: six optimizers x a learning-rate sweep x seeds on Fashion-MNIST;
* ``schedules``: six learning-rate schedules for a 2-layer Transformer on IMDB;
* ``imbalance``: cross-entropy, class weights and focal loss at 5% pneumonia.

Each writes ``DIR/results.csv`` (one row per configuration), ``DIR/runs/<id>/`` (TensorBoard
events, ``steps.csv``, ``epochs.csv``) and ``DIR/plots/*.png|svg``. The grid runner behind it,
:func:`~course_lib.experiments.runner.run_grid`, works for any grid.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from course_lib.experiments import imbalance, losses, schedules, shootout
from course_lib.experiments.common import Experiment
from course_lib.experiments.presets import PRESET_NAMES, PRESETS, Preset, get_preset
from course_lib.experiments.runner import config_id, read_csv, run_grid
from course_lib.plotting import use_style

EXPERIMENTS: dict[str, Experiment] = {
    m.EXPERIMENT.name: m.EXPERIMENT for m in (losses, shootout, schedules, imbalance)
}

__all__ = [
    "EXPERIMENTS",
    "PRESETS",
    "PRESET_NAMES",
    "Experiment",
    "Preset",
    "config_id",
    "get_preset",
    "read_csv",
    "run_experiment",
    "run_grid",
]


def run_experiment(
    name: str,
    preset: str | Preset = "smoke",
    out_dir: str | Path = ".",
    *,
    device: str | None = None,
    seeds: Sequence[int] | None = None,
    threads: int | None = None,
    force: bool = False,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], list[Path]]:
    """Run an experiment's grid (resuming where an earlier run stopped) and draw its plots.

    Args:
        name: a key of :data:`EXPERIMENTS`.
        preset: ``"smoke"``, ``"cpu"``, ``"gpu"`` or a :class:`Preset` of one's own.
        out_dir: the experiment's folder (results table, runs, plots).
        device: ``"cpu"``, ``"cuda"``, ... ``None`` picks as ``course_lib.train`` does (the
            ``COURSE_DEVICE`` variable, else the fastest device present). The device is not
            part of a configuration's id: a grid started on one device may be finished on
            another (the table's ``device`` column says where each run trained).
        seeds: replace the preset's seeds.
        threads: torch CPU threads while it runs (then restored); ``None``: the preset's
            ``threads``, else torch's current setting.
        force: rerun configurations that already finished.
        progress: show a progress bar.

    Returns:
        The results table's rows and the plot files written.

    Raises:
        KeyError: for an unknown experiment or preset name.
    """
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)}")
    exp = EXPERIMENTS[name]
    chosen = get_preset(name, preset) if isinstance(preset, str) else preset
    if seeds is not None:
        chosen = chosen.with_seeds(seeds)
    out = Path(out_dir)
    train_one = functools.partial(exp.train_one, device=device)
    before = torch.get_num_threads()
    threads = threads if threads is not None else chosen.threads
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        rows = run_grid(exp.configs(chosen), train_one, out, force=force, progress=progress)
    finally:
        torch.set_num_threads(before)
    # The book's figure style, restored afterwards: the CLI's plots look like the site's.
    with use_style():
        plot_paths = exp.plots(rows, out)
    return rows, plot_paths
