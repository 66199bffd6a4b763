"""The case study: six optimizers x three learning-rate schedules x seeds, SmallCNN, Fashion-MNIST.

Every optimizer of the course that a practitioner would reach for on an image classifier
(SGD with heavy-ball momentum, Nesterov momentum, Adam, AdamW, RAdam and Lookahead around Adam)
trains the same :class:`~course_lib.models.SmallCNN` from the same initial weights (the seed
fixes the weights and the batch order, so runs with one seed are *paired*) under three
learning-rate schedules: ``constant``, ``cosine`` decay to zero and ``warmup_cosine`` (a linear
warm-up over the first 10% of the steps, then cosine). Each optimizer runs at its usual peak
learning rate (:data:`OPTIMIZERS`); the learning-rate sweep is the shootout's job
(:mod:`course_lib.experiments.shootout`).

The results table has one row per optimizer x schedule x seed; :func:`summarize` turns it into a
mean and a t-based confidence interval over seeds per cell (:func:`t_interval`), and
:func:`paired_difference` compares two cells seed by seed.

Run it at a chosen scale (resumable: finished runs are read back)::

    python -m course_lib.experiments.case_study --preset cpu --out runs/case-study-cpu

or from Python, ``run_case_study("cpu", out_dir)``. The presets (:data:`PRESETS`) are
``smoke`` (seconds), ``build`` (the book's page, about two minutes on two cores), ``cpu`` (a
laptop, tens of minutes) and ``gpu`` (all of Fashion-MNIST, one GPU). :data:`EXPERIMENT` is the
record the experiment registry takes.
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from course_lib.experiments.common import (
    Experiment,
    amp_for,
    finite,
    fit_until_diverged,
    load_data,
    predict,
    take,
)
from course_lib.experiments.presets import Preset
from course_lib.experiments.runner import run_grid, save_history
from course_lib.experiments.schedules import schedule_multiplier

# Name -> (class name in course_lib.optim, fixed keyword arguments, usual peak learning rate).
OPTIMIZERS: dict[str, tuple[str, dict[str, Any], float]] = {
    "momentum": ("SGD", {"momentum": 0.9}, 0.05),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}, 0.05),
    "adam": ("Adam", {}, 2e-3),
    "adamw": ("AdamW", {"weight_decay": 0.05}, 2e-3),
    "radam": ("RAdam", {}, 2e-3),
    "lookahead_adam": ("Adam", {}, 2e-3),  # wrapped in Lookahead(k=5, alpha=0.5)
}
LOOKAHEAD = {"k": 5, "alpha": 0.5}
SCHEDULES = ("constant", "cosine", "warmup_cosine")

PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        "smoke",
        epochs=1,
        batch_size=64,
        seeds=(0,),
        data={"subset": 256, "val_size": 128, "test_subset": 256},
        model={"channels": [4, 8]},
        grid={"optimizers": ["momentum", "lookahead_adam"], "schedules": ["cosine"]},
        target_seconds=10,
        threads=1,
    ),
    "build": Preset(
        "build",
        epochs=3,
        batch_size=64,
        seeds=(0, 1, 2),
        data={"subset": 2000, "val_size": 1000, "test_subset": 2000},
        model={"channels": [8, 16]},
        grid={"optimizers": list(OPTIMIZERS), "schedules": list(SCHEDULES)},
        target_seconds=150,
        threads=1,
    ),
    "cpu": Preset(
        "cpu",
        epochs=5,
        batch_size=128,
        seeds=(0, 1, 2),
        data={"subset": 10_000, "val_size": 5_000, "test_subset": None},
        model={"channels": [16, 32]},
        grid={"optimizers": list(OPTIMIZERS), "schedules": list(SCHEDULES)},
        target_seconds=1800,
        threads=None,
    ),
    "gpu": Preset(
        "gpu",
        epochs=15,
        batch_size=128,
        seeds=(0, 1, 2, 3, 4),
        data={"subset": None, "val_size": 5_000, "test_subset": None},
        model={"channels": [32, 64]},
        grid={"optimizers": list(OPTIMIZERS), "schedules": list(SCHEDULES)},
        target_seconds=1800,
        amp="bf16",
    ),
}


def configs(preset: Preset) -> list[dict[str, Any]]:
    """One plain configuration per optimizer x schedule x seed (every size a column).

    ``preset.grid`` holds ``optimizers`` (names of :data:`OPTIMIZERS`), ``schedules`` (names
    understood by :func:`~course_lib.experiments.schedules.schedule_multiplier`) and optionally
    ``lrs`` (a mapping that overrides an optimizer's usual peak rate) and ``warmup`` (the
    warm-up fraction, default 0.1).

    Raises:
        ValueError: for an unknown optimizer or schedule name.
    """
    grid = preset.grid
    warmup = float(grid.get("warmup", 0.1))
    lrs = dict(grid.get("lrs", {}))
    for name in grid["optimizers"]:
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")
    for name in grid["schedules"]:
        schedule_multiplier(name, 100, warmup)  # fail early on an unknown name
    fixed = {
        "warmup": warmup,
        "epochs": preset.epochs,
        "batch_size": preset.batch_size,
        "channels": list(preset.model["channels"]),
        **{k: preset.data.get(k) for k in ("subset", "val_size", "test_subset")},
        "amp": preset.amp,
    }
    return [
        {
            "optimizer": opt,
            "schedule": sched,
            "lr": float(lrs.get(opt, OPTIMIZERS[opt][2])),
            "seed": seed,
            **fixed,
        }
        for opt in grid["optimizers"]
        for sched in grid["schedules"]
        for seed in preset.seeds
    ]


def make_optimizer(name: str, lr: float) -> Callable[[Any], torch.optim.Optimizer]:
    """A factory ``params -> optimizer`` for one of :data:`OPTIMIZERS` (the foreach path).

    ``lookahead_adam`` is :class:`~course_lib.optim.Lookahead` (``k=5``, ``alpha=0.5``) around
    Adam; a schedule set on the wrapper changes the inner optimizer's rate (they share
    parameter groups).
    """
    from course_lib import optim

    cls_name, kwargs, _ = OPTIMIZERS[name]
    cls = getattr(optim, cls_name)

    def build(params: Any) -> torch.optim.Optimizer:
        inner = cls(params, lr=lr, impl="foreach", **kwargs)
        if name.startswith("lookahead_"):
            return optim.Lookahead(inner, **LOOKAHEAD)
        return inner

    return build


def train_one(
    config: Mapping[str, Any], run_dir: Path, *, device: str | None = None
) -> dict[str, Any]:
    """Train one SmallCNN with one optimizer under one schedule; return its accuracies.

    Args:
        config: one configuration of :func:`configs`.
        run_dir: the run's folder (TensorBoard events, ``steps.csv``, ``epochs.csv``).
        device: ``"cpu"``, ``"cuda"``, ... (``None``: ``course_lib.train``'s choice).

    Returns:
        ``test_accuracy``, ``val_accuracy``, ``best_val_accuracy``, ``train_loss``,
        ``val_loss``, ``time_per_epoch_s``, ``diverged`` and ``device`` (``None`` for a value
        that is not finite).
    """
    from course_lib.models import SmallCNN
    from course_lib.schedules import ScheduleLR
    from course_lib.train import choose_device, seed_everything
    from course_lib.train.metrics import accuracy

    options = {k: config[k] for k in ("subset", "val_size") if config.get(k) is not None}
    data = load_data("fashion_mnist", seed=0, **options)
    dev = choose_device(device)
    seed_everything(config["seed"])
    model = SmallCNN(1, data.meta["num_classes"], channels=tuple(config["channels"]), image_size=28)
    total = config["epochs"] * math.ceil(len(data.train.y) / config["batch_size"])
    multiplier = schedule_multiplier(config["schedule"], total, config["warmup"])
    history, diverged = fit_until_diverged(
        model,
        data.train,
        val=data.val,
        loss_fn=torch.nn.functional.cross_entropy,
        optimizer=make_optimizer(config["optimizer"], config["lr"]),
        scheduler=lambda opt: ScheduleLR(opt, multiplier),
        scheduler_interval="step",
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        eval_batch_size=1024,
        metrics={"accuracy": accuracy},
        device=dev,
        seed=config["seed"],
        amp=amp_for(config.get("amp"), dev),
        log_dir=run_dir,
        hparams=dict(config),
        progress=False,
    )
    save_history(history, run_dir)
    if diverged:
        return {"diverged": True, "device": dev.type}
    test_x, test_y = take(data.test, config.get("test_subset"), seed=0)
    last = history.epochs[-1]
    return {
        "test_accuracy": finite(accuracy(predict(model, test_x, dev), test_y)),
        "val_accuracy": finite(last["val_accuracy"]),
        "best_val_accuracy": max(finite(e["val_accuracy"]) or 0.0 for e in history.epochs),
        "train_loss": finite(last["train_loss"]),
        "val_loss": finite(last["val_loss"]),
        "time_per_epoch_s": last["wall_time"] / len(history.epochs),
        "diverged": False,
        "device": dev.type,
    }


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of the mean of ``values`` (independent draws).

    The interval is ``mean +- t_{(1+level)/2, n-1} * s / sqrt(n)`` with ``s`` the sample
    standard deviation: the usual interval for a handful of seeds, whose spread is estimated
    from the seeds themselves. With one value the interval is infinite; with identical values
    it has zero width.

    Args:
        values: one number per seed.
        level: the confidence level, in ``(0, 1)``.

    Returns:
        ``(mean, low, high)``.

    Raises:
        ValueError: for no values or a level outside ``(0, 1)``.
    """
    from scipy import stats

    if not values:
        raise ValueError("t_interval needs at least one value")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    xs = [float(v) for v in values]
    mean = statistics.fmean(xs)
    if len(xs) == 1:
        return mean, -math.inf, math.inf
    half = float(stats.t.ppf((1 + level) / 2, len(xs) - 1)) * statistics.stdev(xs) / len(xs) ** 0.5
    return mean, mean - half, mean + half


def _values(rows: Sequence[Mapping[str, Any]], metric: str) -> dict[tuple[str, str], dict]:
    cells: dict[tuple[str, str], dict[int, float]] = {}
    for row in rows:
        if row.get("status", "done") != "done":
            continue
        cell = cells.setdefault((row["optimizer"], row["schedule"]), {})
        value = row.get(metric)
        # A diverged run counts as chance level would mislead; it is left out and visible as n.
        if value is not None and not row.get("diverged"):
            cell[int(row["seed"])] = float(value)
    return cells


def summarize(
    rows: Sequence[Mapping[str, Any]], metric: str = "test_accuracy", level: float = 0.95
) -> list[dict[str, Any]]:
    """Mean and t interval over seeds of ``metric`` for every optimizer x schedule cell.

    Returns:
        One dict per cell, in the grid's order: ``optimizer``, ``schedule``, ``n`` (seeds
        with a finite value), ``mean``, ``low``, ``high``, ``half_width``.
    """
    out = []
    for (opt, sched), by_seed in _values(rows, metric).items():
        if not by_seed:
            continue
        mean, low, high = t_interval(list(by_seed.values()), level)
        out.append(
            {
                "optimizer": opt,
                "schedule": sched,
                "n": len(by_seed),
                "mean": mean,
                "low": low,
                "high": high,
                "half_width": (high - low) / 2,
            }
        )
    return out


def paired_difference(
    rows: Sequence[Mapping[str, Any]],
    a: tuple[str, str],
    b: tuple[str, str],
    metric: str = "test_accuracy",
    level: float = 0.95,
) -> tuple[float, float, float, int]:
    """The t interval of ``metric(a) - metric(b)`` over the seeds both cells finished.

    Runs with one seed start from the same weights and see the same batches, so the
    difference seed by seed removes most of the luck the two cells share; this interval is
    usually much narrower than the two cells' own intervals suggest.

    Args:
        rows: the results table.
        a: ``(optimizer, schedule)`` of the first cell.
        b: ``(optimizer, schedule)`` of the second.
        metric: the column to compare.
        level: the confidence level.

    Returns:
        ``(mean difference, low, high, number of paired seeds)``.

    Raises:
        ValueError: if the two cells share no seed.
    """
    cells = _values(rows, metric)
    va, vb = cells.get(a, {}), cells.get(b, {})
    seeds = sorted(set(va) & set(vb))
    if not seeds:
        raise ValueError(f"cells {a} and {b} share no finished seed")
    mean, low, high = t_interval([va[s] - vb[s] for s in seeds], level)
    return mean, low, high, len(seeds)


def headline(rows: Sequence[Mapping[str, Any]]) -> str:
    """The best cell by mean test accuracy, with its 95% interval, and the worst."""
    table = sorted(summarize(rows), key=lambda c: c["mean"], reverse=True)
    if not table:
        return "no finished runs"
    best, worst = table[0], table[-1]
    return (
        f"best {best['optimizer']}+{best['schedule']} {best['mean']:.3f} "
        f"[{best['low']:.3f}, {best['high']:.3f}] (n={best['n']}); "
        f"worst {worst['optimizer']}+{worst['schedule']} {worst['mean']:.3f}"
    )


def plot_intervals(ax: Any, table: Sequence[Mapping[str, Any]]) -> None:
    """Mean and interval per optimizer (x axis), one marker per schedule, on ``ax``."""
    optimizers = list(dict.fromkeys(c["optimizer"] for c in table))
    schedules = list(dict.fromkeys(c["schedule"] for c in table))
    width = 0.6 / max(len(schedules), 1)
    for j, sched in enumerate(schedules):
        cells = {c["optimizer"]: c for c in table if c["schedule"] == sched}
        xs, means, errs = [], [], []
        for i, opt in enumerate(optimizers):
            if opt in cells:
                c = cells[opt]
                xs.append(i + (j - (len(schedules) - 1) / 2) * width)
                means.append(c["mean"])
                half = c["half_width"]
                errs.append(half if math.isfinite(half) else 0.0)
        ax.errorbar(xs, means, yerr=errs, fmt="o", capsize=3, label=sched)
    ax.set_xticks(range(len(optimizers)), optimizers)
    if schedules:
        ax.legend(fontsize="small", frameon=True, framealpha=0.9)


def plots(rows: Sequence[Mapping[str, Any]], out_dir: Path) -> list[Path]:
    """Test accuracy per optimizer and schedule with 95% t intervals over seeds."""
    from matplotlib.figure import Figure

    from course_lib.experiments.plots import save

    fig = Figure(figsize=(9, 4), layout="constrained")
    ax = fig.subplots()
    plot_intervals(ax, summarize(rows))
    ax.set(ylabel="test accuracy", title="Fashion-MNIST, SmallCNN: mean and 95% t interval")
    return save(fig, Path(out_dir), "test_accuracy_intervals")


EXPERIMENT = Experiment(
    name="case-study",
    title="Momentum, Nesterov, Adam, AdamW, RAdam, Lookahead x schedules, SmallCNN, Fashion-MNIST",
    configs=configs,
    train_one=train_one,
    plots=plots,
    headline=headline,
)


def experiment_dir(name: str, start: str | Path | None = None) -> Path:
    """``<repository>/_build/experiments/<name>``, the repository found above ``start``.

    The repository is the first folder, going up from ``start`` (the working directory by
    default, which is the chapter's folder while the book builds), that holds ``_config.yml``;
    without one, ``start/_build/experiments/<name>``.
    """
    here = (Path.cwd() if start is None else Path(start)).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file():
            return folder / "_build" / "experiments" / name
    return here / "_build" / "experiments" / name


def run_case_study(
    preset: str | Preset = "build",
    out_dir: str | Path = "runs/case-study",
    *,
    device: str | None = None,
    seeds: Sequence[int] | None = None,
    threads: int | None = None,
    force: bool = False,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Run the case study's grid at a preset, resumably; return the results table's rows.

    Args:
        preset: a key of :data:`PRESETS` or a :class:`~course_lib.experiments.presets.Preset`.
        out_dir: the grid's folder (``results.csv``, ``runs/``).
        device: where to train (``None``: the fastest device present); not part of a run's id.
        seeds: replace the preset's seeds.
        threads: torch CPU threads while it runs (restored after); ``None``: the preset's.
        force: rerun finished configurations.
        progress: show a progress bar.

    Raises:
        KeyError: for an unknown preset name.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise KeyError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        preset = PRESETS[preset]
    if seeds is not None:
        preset = preset.with_seeds(seeds)
    before = torch.get_num_threads()
    threads = threads if threads is not None else preset.threads
    train = functools.partial(train_one, device=device)
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        return run_grid(configs(preset), train, Path(out_dir), force=force, progress=progress)
    finally:
        torch.set_num_threads(before)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m course_lib.experiments.case_study --preset cpu --out DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--out", default=None, help="default: runs/case-study-<preset>")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the fastest)")
    parser.add_argument("--seeds", default=None, help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out or f"runs/case-study-{args.preset}")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    rows = run_case_study(
        args.preset,
        out,
        device=args.device,
        seeds=seeds,
        threads=args.threads,
        force=args.force,
        progress=True,
    )
    paths = plots(rows, out)
    print(f"{len(rows)} runs in {out}/ (results.csv); plots: {', '.join(map(str, paths))}")
    print(headline(rows))


if __name__ == "__main__":
    main()
