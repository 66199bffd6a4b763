"""How big each experiment runs: the ``smoke``, ``cpu`` and ``gpu`` presets.

* ``smoke``: seconds per experiment (tiny subsets, one epoch, one seed, two or three runs), for
  continuous integration: it checks the plumbing, not the science.
* ``cpu``: what a student runs on a laptop. Sized by measurement on a 2-core machine to finish
  within :attr:`Preset.target_seconds` while still showing the exercise's effect
  (``bench/presets.py`` times them and prints the headline result).
* ``gpu``: the syllabus's scale (ResNet-18 on all of Fashion-MNIST, longer runs), meant to take
  under ten minutes per experiment on one recent data-centre GPU. The code is the same; only the
  sizes change.

A preset is data: the experiment module turns it into a grid of plain configurations (see
``configs(preset)`` in each module), and every size that changes a result is a column of the
results table, so a table says what produced it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PRESET_NAMES = ("smoke", "cpu", "gpu")


@dataclass(frozen=True)
class Preset:
    """The sizes of one experiment at one scale.

    Attributes:
        name: ``"smoke"``, ``"cpu"`` or ``"gpu"``.
        epochs: passes over the training set per run.
        batch_size: examples per step.
        seeds: one run per seed for every point of the grid (model init and data order).
        data: options for ``course_lib.data.load`` (subset sizes, sequence length, ...).
        model: model hyperparameters (``name`` plus the constructor's keyword arguments).
        grid: what the experiment sweeps and its fixed hyperparameters (losses, learning
            rates, schedules, ...); each experiment module documents its keys.
        target_seconds: the wall time the whole experiment should stay under on its reference
            machine (2 CPU cores for ``cpu``, one GPU for ``gpu``); ``None``: no target.
        amp: mixed precision for ``course_lib.train.fit``: ``None``, ``"bf16"`` or
            ``"fp16"``. The ``gpu`` presets use ``"bf16"`` when the device is CUDA; on a CPU
            the experiments train in float32 whatever this says (bf16 is slower there).
        threads: torch CPU threads while the experiment runs (restored afterwards); ``None``
            keeps torch's setting. The ``losses`` presets use 1: a tiny MLP's steps take about
            a millisecond, too short to share between threads, and on a machine where other
            processes hold a core a second thread made runs up to 70 times slower (measured).
    """

    name: str
    epochs: int
    batch_size: int
    seeds: tuple[int, ...] = (0,)
    data: Mapping[str, Any] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, Any] = field(default_factory=dict)
    target_seconds: float | None = None
    amp: str | None = None
    threads: int | None = None

    def with_seeds(self, seeds: Sequence[int]) -> Preset:
        """A copy of this preset with other seeds (the CLI's ``--seeds``)."""
        if not seeds:
            raise ValueError("seeds must name at least one seed")
        return dataclasses.replace(self, seeds=tuple(int(s) for s in seeds))


def _decades(center: float, offsets: Sequence[float]) -> list[float]:
    # A log grid around a usual value: offsets in decades, rounded to 3 significant digits so
    # that the values (and the run ids hashed from them) read cleanly.
    return [float(f"{center * 10**o:.3g}") for o in offsets]


# Each optimizer's usual learning rate: the centre of its sweep.
USUAL_LR = {
    "sgd": 0.1,
    "momentum": 0.03,
    "nesterov": 0.03,
    "rmsprop": 1e-3,
    "adam": 1e-3,
    "adamw": 1e-3,
}


def shootout_lrs(offsets: Sequence[float]) -> dict[str, list[float]]:
    """Every optimizer's learning-rate sweep: its usual value times ``10**offset``."""
    return {opt: _decades(lr, offsets) for opt, lr in USUAL_LR.items()}


PRESETS: dict[str, dict[str, Preset]] = {
    "losses": {
        "smoke": Preset(
            "smoke",
            epochs=1,
            batch_size=256,
            data={"train_subset": 1024},
            model={"depth": 2, "width": 32},
            grid={"losses": ["mse", "huber"], "outlier_fractions": [0.05], "lr": 3e-3},
            target_seconds=10,
            threads=1,
        ),
        "cpu": Preset(
            "cpu",
            epochs=12,
            batch_size=128,
            seeds=(0, 1, 2),
            model={"depth": 2, "width": 64},
            grid={"losses": ["mse", "mae", "huber"], "outlier_fractions": [0.0, 0.05], "lr": 3e-3},
            target_seconds=60,
            threads=1,
        ),
        "gpu": Preset(
            "gpu",
            epochs=60,
            batch_size=256,
            seeds=(0, 1, 2),
            model={"depth": 3, "width": 256},
            grid={
                "losses": ["mse", "mae", "huber"],
                "outlier_fractions": [0.0, 0.01, 0.05, 0.1],
                "lr": 1e-3,
            },
            target_seconds=600,
        ),
    },
    "shootout": {
        "smoke": Preset(
            "smoke",
            epochs=1,
            batch_size=128,
            data={"subset": 512, "val_size": 256, "test_subset": 512},
            model={"name": "mlp", "depth": 1, "width": 32},
            grid={"lrs": {"sgd": [0.1], "adam": [1e-3]}},
            target_seconds=10,
        ),
        "cpu": Preset(
            "cpu",
            epochs=5,
            batch_size=128,
            seeds=(0, 1),
            data={"subset": 10_000, "val_size": 5_000},
            model={"name": "mlp", "depth": 2, "width": 256},
            grid={"lrs": shootout_lrs([-1.0, -0.5, 0.0, 0.5, 1.0])},
            target_seconds=300,
        ),
        "gpu": Preset(
            "gpu",
            epochs=8,
            batch_size=256,
            data={"val_size": 5_000},
            model={"name": "resnet18", "width": 64},
            grid={"lrs": shootout_lrs([-1.0, 0.0, 1.0])},
            target_seconds=600,
            amp="bf16",
        ),
    },
    "schedules": {
        "smoke": Preset(
            "smoke",
            epochs=1,
            batch_size=32,
            data={
                "max_len": 32,
                "vocab_size": 500,
                "subset": 256,
                "val_size": 256,
                "test_subset": 256,
            },
            model={"d_model": 16, "n_heads": 2, "n_layers": 2, "d_ff": 32},
            grid={"schedules": ["constant", "warmup_cosine"], "lr": 1e-3, "warmup": 0.1},
            target_seconds=10,
        ),
        "cpu": Preset(
            "cpu",
            epochs=3,
            batch_size=64,
            data={
                "max_len": 128,
                "vocab_size": 10_000,
                "subset": 4_000,
                "val_size": 1_000,
                "test_subset": 2_000,
            },
            model={"d_model": 64, "n_heads": 4, "n_layers": 2, "d_ff": 128},
            grid={
                "schedules": [
                    "constant",
                    "step",
                    "exponential",
                    "cosine",
                    "warmup_cosine",
                    "one_cycle",
                ],
                "lr": 1e-2,
                "warmup": 0.1,
            },
            target_seconds=300,
        ),
        "gpu": Preset(
            "gpu",
            epochs=6,
            batch_size=64,
            seeds=(0, 1),
            data={"max_len": 256, "vocab_size": 20_000},
            model={"d_model": 128, "n_heads": 4, "n_layers": 2, "d_ff": 512},
            grid={
                "schedules": [
                    "constant",
                    "step",
                    "exponential",
                    "cosine",
                    "warmup_cosine",
                    "one_cycle",
                ],
                "lr": 5e-3,
                "warmup": 0.1,
            },
            target_seconds=600,
            amp="bf16",
        ),
    },
    "imbalance": {
        "smoke": Preset(
            "smoke",
            epochs=1,
            batch_size=64,
            data={"positive_rate": 0.05},
            model={"channels": [8, 16]},
            grid={"losses": ["ce", "focal"], "gammas": [2.0], "lr": 1e-3},
            target_seconds=10,
        ),
        "cpu": Preset(
            "cpu",
            epochs=10,
            batch_size=64,
            seeds=(0, 1, 2),
            data={"positive_rate": 0.05},
            model={"channels": [16, 32]},
            grid={
                "losses": ["ce", "weighted_ce", "focal"],
                "gammas": [0.0, 1.0, 2.0, 5.0],
                "lr": 1e-3,
            },
            target_seconds=180,
        ),
        "gpu": Preset(
            "gpu",
            epochs=40,
            batch_size=128,
            seeds=(0, 1, 2, 3, 4),
            data={"positive_rate": 0.05},
            model={"channels": [32, 64, 128]},
            grid={
                "losses": ["ce", "weighted_ce", "focal"],
                "gammas": [0.0, 0.5, 1.0, 2.0, 5.0],
                "lr": 1e-3,
            },
            target_seconds=600,
        ),
    },
}


def get_preset(experiment: str, name: str) -> Preset:
    """The preset ``name`` of ``experiment``.

    Raises:
        KeyError: naming the experiments or presets there are, if either is unknown.
    """
    if experiment not in PRESETS:
        raise KeyError(f"unknown experiment {experiment!r}; choose from {sorted(PRESETS)}")
    if name not in PRESETS[experiment]:
        raise KeyError(f"unknown preset {name!r}; choose from {list(PRESET_NAMES)}")
    return PRESETS[experiment][name]
