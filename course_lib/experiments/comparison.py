"""The lecture's optimizer comparison table, measured instead of asserted.

The syllabus compares optimizers in words (training speed "slow" to "fastest", memory "lowest" to
"high", learning-rate sensitivity "high" to "lowest"). This module measures each column on a
real task, a small MLP on a Fashion-MNIST subset, for seven optimizers of ``course_lib.optim``:

* **speed**: optimizer steps until the training loss (a trailing mean of the minibatch losses)
  first falls below a threshold (:func:`steps_to_threshold`);
* **generalisation**: test accuracy, and the gap between accuracy on the training set and on the
  test set, both measured in eval mode after training;
* **memory**: the bytes held in the optimizer's state tensors
  (:func:`~course_lib.experiments.shootout.state_bytes`), and that as a multiple of the
  parameters' bytes;
* **time**: milliseconds per training step during the runs, and, measured apart and robustly,
  one ``optimizer.step`` next to one forward and backward pass (:func:`time_optimizer_steps`);
* **learning-rate sensitivity**: the width, in decades, of the learning rates whose final
  training loss is within a tolerance of the best one (:func:`lr_band_decades`).

The protocol has two stages, both run by the resumable grid runner
(:func:`~course_lib.experiments.runner.run_grid`) into one folder, so a rerun retrains nothing:
a learning-rate sweep on the first seed (each optimizer's usual rate times ``10**offset``), then
the other seeds at each optimizer's tuned rate, the one with the lowest validation loss in the
sweep (:func:`select_lrs`). The test set is used only for reporting, never for a choice. The
speed, band and claim-checking measures live in :mod:`course_lib.experiments.measures` (and are
re-exported here).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from course_lib.experiments.common import finite, fit_until_diverged, group_mean, load_data
from course_lib.experiments.measures import (
    check_claim,
    lr_band_decades,
    smoothed_losses,
    steps_to_threshold,
)
from course_lib.experiments.runner import load_history, run_grid, save_history
from course_lib.experiments.shootout import state_bytes

__all__ = [
    "OPTIMIZERS",
    "USUAL_LR",
    "ComparisonResult",
    "ComparisonSetup",
    "check_claim",
    "default_out_dir",
    "lr_band_decades",
    "make_optimizer",
    "parameter_bytes",
    "run_comparison",
    "select_lrs",
    "smoothed_losses",
    "steps_to_threshold",
    "summarize",
    "sweep_configs",
    "time_optimizer_steps",
    "train_one",
    "tuned_configs",
]

# Name -> (class name in course_lib.optim, fixed keyword arguments). Everything else is torch's
# default (Adagrad eps 1e-10, RMSprop alpha 0.99, Adam betas (0.9, 0.999), eps 1e-8). AdamW uses
# weight decay 0.1, a common choice in practice; torch's default of 0.01 would barely act here.
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {"weight_decay": 0.1}),
}

# Each optimizer's usual learning rate: the centre of its sweep.
USUAL_LR: dict[str, float] = {
    "sgd": 0.1,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.03,
    "rmsprop": 1e-3,
    "adam": 1e-3,
    "adamw": 1e-3,
}


@dataclass(frozen=True)
class ComparisonSetup:
    """What the comparison trains, and how much.

    Attributes:
        optimizers: names from :data:`OPTIMIZERS`.
        lr_offsets: the sweep, in decades around each optimizer's :data:`USUAL_LR`.
        seeds: the first seed runs the sweep; all of them run the tuned learning rate (the seed
            fixes the initial weights and the batch order).
        epochs: passes over the training subset per run.
        batch_size: examples per step.
        train_size: examples drawn from Fashion-MNIST's training set to train on.
        val_size: examples held out from it, to choose the learning rate.
        depth: hidden layers of the MLP.
        width: units per hidden layer.
        usual_lr: overrides of :data:`USUAL_LR`.
    """

    optimizers: tuple[str, ...] = tuple(OPTIMIZERS)
    lr_offsets: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 5
    batch_size: int = 64
    train_size: int = 4000
    val_size: int = 1000
    depth: int = 2
    width: int = 128
    usual_lr: Mapping[str, float] = field(default_factory=dict)

    def lrs(self, optimizer: str) -> list[float]:
        """The sweep of one optimizer: its usual rate times ``10**offset``, 3 significant digits."""
        center = {**USUAL_LR, **self.usual_lr}[optimizer]
        return [float(f"{center * 10**o:.3g}") for o in self.lr_offsets]

    def fixed(self) -> dict[str, Any]:
        """The configuration keys shared by every run."""
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "train_size": self.train_size,
            "val_size": self.val_size,
            "depth": self.depth,
            "width": self.width,
        }


def sweep_configs(setup: ComparisonSetup) -> list[dict[str, Any]]:
    """Stage one: every optimizer at every learning rate of its sweep, on the first seed."""
    return [
        {"optimizer": opt, "lr": lr, "seed": setup.seeds[0], **setup.fixed()}
        for opt in setup.optimizers
        for lr in setup.lrs(opt)
    ]


def tuned_configs(setup: ComparisonSetup, lrs: Mapping[str, float]) -> list[dict[str, Any]]:
    """Stage two: every optimizer at its tuned learning rate, on every seed but the first."""
    return [
        {"optimizer": opt, "lr": lrs[opt], "seed": seed, **setup.fixed()}
        for opt in setup.optimizers
        if opt in lrs
        for seed in setup.seeds[1:]
    ]


def make_optimizer(name: str, lr: float) -> Callable[[Any], torch.optim.Optimizer]:
    """A factory ``params -> optimizer`` for one of :data:`OPTIMIZERS` (the foreach path)."""
    from course_lib import optim

    cls_name, kwargs = OPTIMIZERS[name]
    cls = getattr(optim, cls_name)
    return lambda params: cls(params, lr=lr, impl="foreach", **kwargs)


def parameter_bytes(module: torch.nn.Module) -> int:
    """Bytes held by the parameters of ``module``."""
    return sum(p.numel() * p.element_size() for p in module.parameters())


def train_one(
    config: Mapping[str, Any], run_dir: Path, *, device: str | None = "cpu"
) -> dict[str, Any]:
    """Train one MLP with one optimizer and learning rate; measure the table's columns.

    Args:
        config: one configuration of :func:`sweep_configs` or :func:`tuned_configs`.
        run_dir: the run's folder; gets ``steps.csv`` and ``epochs.csv`` (no TensorBoard log).
        device: where to train (``None``: as ``course_lib.train.choose_device``).

    Returns:
        Final loss and accuracy on the training, validation and test sets (eval mode, whole
        sets), the train-test accuracy gap, the optimizer state's and the parameters' bytes,
        milliseconds per training step (on a shared machine, noisy: see
        :func:`time_optimizer_steps`), and whether the run diverged.
    """
    from course_lib.models import MLP
    from course_lib.train import choose_device, evaluate, seed_everything
    from course_lib.train.metrics import accuracy

    data = load_data(
        "fashion_mnist", seed=0, subset=config["train_size"], val_size=config["val_size"]
    )
    dev = choose_device(device)
    seed_everything(config["seed"])
    model = MLP(28 * 28, data.meta["num_classes"], depth=config["depth"], width=config["width"])
    built: list[torch.optim.Optimizer] = []  # the optimizer fit builds, to measure its state
    factory = make_optimizer(config["optimizer"], config["lr"])

    def optimizer(params: Any) -> torch.optim.Optimizer:
        built.append(factory(params))
        return built[-1]

    history, diverged = fit_until_diverged(
        model,
        data.train,
        loss_fn=torch.nn.functional.cross_entropy,
        optimizer=optimizer,
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        device=dev,
        seed=config["seed"],
        log_every=50,
        progress=False,
    )
    save_history(history, run_dir)
    steps = len(history.steps)
    result: dict[str, Any] = {
        "diverged": diverged,
        "steps": steps,
        "state_bytes": state_bytes(built[-1]),
        "param_bytes": parameter_bytes(model),
        "step_time_ms": 1e3 * history.epochs[-1]["wall_time"] / steps if history.epochs else None,
    }
    for split in ("train", "val", "test"):
        scores = evaluate(
            model,
            getattr(data, split),
            loss_fn=torch.nn.functional.cross_entropy,
            metrics={"accuracy": accuracy},
            batch_size=2048,
        )
        result[f"{split}_loss"] = None if diverged else finite(scores["loss"])
        result[f"{split}_accuracy"] = None if diverged else finite(scores["accuracy"])
    if result["train_accuracy"] is not None and result["test_accuracy"] is not None:
        result["gap"] = result["train_accuracy"] - result["test_accuracy"]
    else:
        result["gap"] = None
    return result


def select_lrs(rows: Sequence[Mapping[str, Any]], metric: str = "val_loss") -> dict[str, float]:
    """Each optimizer's learning rate with the lowest ``metric`` among ``rows``.

    Runs without a value (diverged, failed) never win. Ties go to the smaller learning rate.
    """
    best: dict[str, tuple[float, float]] = {}
    for row in rows:
        value = row.get(metric)
        if value is None or row.get("status", "done") != "done" or not math.isfinite(value):
            continue
        opt, lr = row["optimizer"], row["lr"]
        if opt not in best or (value, lr) < (best[opt][1], best[opt][0]):
            best[opt] = (lr, value)
    return {opt: lr for opt, (lr, _) in best.items()}


@dataclass(frozen=True)
class ComparisonResult:
    """What :func:`run_comparison` returns.

    Attributes:
        setup: the setup that produced it.
        rows: the results table (sweep and tuned runs), as ``results.csv`` holds it.
        lrs: each optimizer's tuned learning rate.
        out_dir: the folder of the table and of the runs' histories.
    """

    setup: ComparisonSetup
    rows: list[dict[str, Any]]
    lrs: dict[str, float]
    out_dir: Path

    def sweep(self, optimizer: str) -> list[dict[str, Any]]:
        """The sweep's rows of one optimizer, by increasing learning rate."""
        seed = self.setup.seeds[0]
        rows = [r for r in self.rows if r["optimizer"] == optimizer and r["seed"] == seed]
        return sorted(rows, key=lambda r: r["lr"])

    def tuned(self, optimizer: str) -> list[dict[str, Any]]:
        """The rows of one optimizer at its tuned learning rate, one per seed."""
        lr = self.lrs[optimizer]
        return [r for r in self.rows if r["optimizer"] == optimizer and r["lr"] == lr]

    def step_losses(self, row: Mapping[str, Any]) -> list[float]:
        """The minibatch loss of every step of one run."""
        return [s["loss"] for s in load_history(self.out_dir, row["id"], "steps")]


def default_out_dir(name: str = "optimizer-comparison", start: Path | None = None) -> Path:
    """``<repository>/_build/experiments/<name>``, the repository found above ``start``.

    The repository is the first folder, going up from ``start`` (the working directory by
    default, which is the chapter's folder when the book builds), that holds ``_config.yml``
    and ``course_lib/``; without one, ``start/_build/experiments/<name>``.
    """
    here = Path.cwd() if start is None else Path(start)
    here = here.resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "course_lib").is_dir():
            return folder / "_build" / "experiments" / name
    return here / "_build" / "experiments" / name


def run_comparison(
    setup: ComparisonSetup,
    out_dir: str | Path,
    *,
    device: str | None = "cpu",
    threads: int | None = 1,
    progress: bool = False,
) -> ComparisonResult:
    """Run the sweep, choose each optimizer's learning rate, run the other seeds at it.

    Resumable: finished runs under ``out_dir`` are read back, not retrained.

    Args:
        setup: the comparison's sizes.
        out_dir: where ``results.csv`` and ``runs/`` go.
        device: where to train; not part of a run's id.
        threads: torch CPU threads while it runs (restored after); ``None`` leaves them. One
            thread is fastest for a model this small on a shared machine.
        progress: show a progress bar.
    """
    out = Path(out_dir)

    def train(config: Mapping[str, Any], run_dir: Path) -> dict[str, Any]:
        return train_one(config, run_dir, device=device)

    before = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        sweep = sweep_configs(setup)
        rows = run_grid(sweep, train, out, progress=progress)
        lrs = select_lrs(rows)
        rows = run_grid([*sweep, *tuned_configs(setup, lrs)], train, out, progress=progress)
    finally:
        torch.set_num_threads(before)
    return ComparisonResult(setup, rows, lrs, out)


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)
    return mean, math.sqrt(var)


def summarize(
    result: ComparisonResult, *, threshold: float, window: int = 20, tol: float = 0.25
) -> list[dict[str, Any]]:
    """One row per optimizer: mean and standard deviation over seeds of every column.

    Args:
        result: from :func:`run_comparison`.
        threshold: the training loss of the speed column (:func:`steps_to_threshold`).
        window: steps in the trailing mean of the speed column.
        tol: the relative tolerance of the learning-rate band (:func:`lr_band_decades`), on
            the final training loss of the sweep.

    Returns:
        Rows with ``optimizer``, ``lr``, ``<metric>_mean`` and ``<metric>_std`` for
        ``test_accuracy``, ``train_accuracy``, ``gap``, ``train_loss`` and ``step_time_ms``;
        ``steps_mean``/``steps_std`` to the threshold with
        ``reached`` (how many seeds got there); ``state_bytes``, ``state_ratio`` (state over
        parameter bytes); ``lr_band`` (decades) and ``seeds``.
    """
    table = []
    for opt in result.setup.optimizers:
        if opt not in result.lrs:
            continue
        tuned = [r for r in result.tuned(opt) if r.get("status") == "done"]
        row: dict[str, Any] = {"optimizer": opt, "lr": result.lrs[opt], "seeds": len(tuned)}
        for metric in (
            "test_accuracy",
            "train_accuracy",
            "gap",
            "train_loss",
            "step_time_ms",
        ):
            stats = group_mean(tuned, ("optimizer",), metric).get((opt,))
            row[f"{metric}_mean"], row[f"{metric}_std"] = stats[:2] if stats else (None, None)
        reached = [
            s
            for r in tuned
            if (s := steps_to_threshold(result.step_losses(r), threshold, window)) is not None
        ]
        row["reached"] = len(reached)
        row["steps_mean"], row["steps_std"] = _mean_std(reached) if reached else (None, None)
        row["state_bytes"] = tuned[0]["state_bytes"] if tuned else None
        row["state_ratio"] = row["state_bytes"] / tuned[0]["param_bytes"] if tuned else None
        sweep = result.sweep(opt)
        row["lr_band"] = lr_band_decades(
            [r["lr"] for r in sweep], [r.get("train_loss") for r in sweep], tol
        )
        table.append(row)
    return table


def time_optimizer_steps(
    names: Sequence[str],
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int = 20,
    rounds: int = 5,
    lr: float = 1e-3,
) -> dict[str, float]:
    """Seconds per ``optimizer.step`` of each optimizer on ``model``, and per forward-backward.

    Each optimizer steps a copy of ``model`` whose gradients were computed once on ``(x, y)``.
    The optimizers take turns, ``steps`` steps each per round, and each one's time is the best
    round's mean: on a machine shared with other work, turns spread a slow spell over all
    optimizers and the minimum discards it. The key ``"forward_backward"`` holds the same
    measure for one forward and backward pass (cross-entropy) of the model on the batch.

    Args:
        names: optimizers of :data:`OPTIMIZERS`.
        model: the model (copied, never modified).
        x: an input batch.
        y: its class labels.
        steps: optimizer steps per turn.
        rounds: turns per optimizer.
        lr: the learning rate (it does not change the work done).
    """
    import copy

    def fresh() -> torch.nn.Module:
        m = copy.deepcopy(model)
        torch.nn.functional.cross_entropy(m(x), y).backward()
        return m

    def forward_backward(m: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            m.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(m(x), y).backward()

        return run

    work: dict[str, Callable[[], Any]] = {"forward_backward": forward_backward(fresh())}
    for name in names:
        work[name] = make_optimizer(name, lr)(fresh().parameters()).step
    for run in work.values():  # warm-up: allocate state, first-call overheads
        run()
    best = dict.fromkeys(work, math.inf)
    for _, (name, run) in itertools.product(range(rounds), work.items()):
        start = time.perf_counter()
        for _ in range(steps):
            run()
        best[name] = min(best[name], (time.perf_counter() - start) / steps)
    return best
