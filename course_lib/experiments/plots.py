"""The standard figures of each experiment, drawn from its results table and run histories.

Every function takes the table's rows and the experiment's output folder, writes each figure
as PNG and SVG into ``out_dir/plots/`` and returns the files written. Figures are
``matplotlib.figure.Figure`` objects rendered without pyplot, so nothing global changes (no
backend switch, no open-figure registry) and plotting works on a machine without a display.
Curves come from the ``epochs.csv`` / ``steps.csv`` each run writes; where a grid point has
several seeds, the curve is seed-averaged step by step and bars show the mean with the seeds'
standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from course_lib.experiments.common import group_mean
from course_lib.experiments.runner import load_history
from course_lib.plotting import save_figure

Row = Mapping[str, Any]
FORMATS = ("png", "svg")


def save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """Write ``fig`` as ``out_dir/plots/<name>.png`` and ``.svg``; return both paths.

    Through the book's :func:`~course_lib.plotting.save_figure`, so a rerun with the same results
    writes byte-identical files.
    """
    return save_figure(fig, Path(out_dir) / "plots" / name, FORMATS, dpi=120)


def _legend(ax: Any) -> None:
    # Only when something is labelled: an empty grid (every run failed) still gets its figure.
    if ax.get_legend_handles_labels()[0]:
        # A framed legend: the book style drops the frame, and a legend drawn over a bar of its
        # own colour would hide that entry's swatch.
        ax.legend(fontsize="small", frameon=True, framealpha=0.9)


def _done(rows: Sequence[Row]) -> list[Row]:
    return [r for r in rows if r.get("status", "done") == "done"]


def mean_curve(
    rows: Sequence[Row], out_dir: Path, key: str, kind: str = "epochs", x: str = "epoch"
) -> tuple[list[float], list[float]]:
    """The seed-averaged curve ``key`` against ``x`` over the runs in ``rows`` (shortest run)."""
    curves = []
    for row in rows:
        hist = [h for h in load_history(out_dir, row["id"], kind) if h.get(key) is not None]
        if hist:
            curves.append(hist)
    if not curves:
        return [], []
    n = min(len(c) for c in curves)
    xs = [float(curves[0][i][x]) for i in range(n)]
    ys = [sum(float(c[i][key]) for c in curves) / len(curves) for i in range(n)]
    return xs, ys


def ema(values: Sequence[float], beta: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard-style smoothing)."""
    out, avg = [], 0.0
    for t, v in enumerate(values, start=1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta**t))
    return out


def grouped_bars(
    ax: Any, rows: Sequence[Row], group: str, bar: str, value: str, ylabel: str
) -> None:
    """Bars of mean ``value`` (error bar: std over seeds), one cluster per ``group`` value."""
    stats = group_mean(rows, (group, bar), value)
    groups = list(dict.fromkeys(r[group] for r in rows))
    bars = list(dict.fromkeys(r[bar] for r in rows))
    width = 0.8 / max(len(bars), 1)
    for j, b in enumerate(bars):
        xs = [i + (j - (len(bars) - 1) / 2) * width for i in range(len(groups))]
        cells = [stats.get((g, b), (math.nan, 0.0, 0)) for g in groups]
        ax.bar(xs, [c[0] for c in cells], width, yerr=[c[1] for c in cells], label=str(b))
    ax.set_xticks(range(len(groups)), [f"{group}={g}" for g in groups])
    ax.set_ylabel(ylabel)
    _legend(ax)


def losses_plots(rows: Sequence[Row], out_dir: Path) -> list[Path]:
    """Clean test MAE and MSE per loss and outlier fraction; validation MAE curves."""
    rows = _done(rows)
    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("test_mae", "test_mse"), strict=True):
        grouped_bars(ax, rows, "outlier_fraction", "loss", metric, f"{metric} (clean targets)")
    fig.suptitle("Training loss vs outliers in the training targets (California Housing)")
    paths = save(fig, out_dir, "test_error_by_loss")

    fracs = list(dict.fromkeys(r["outlier_fraction"] for r in rows))
    fig = Figure(figsize=(5 * max(len(fracs), 1), 4), layout="constrained")
    axes = fig.subplots(1, max(len(fracs), 1), squeeze=False)[0]
    for ax, frac in zip(axes, fracs, strict=False):
        for loss in dict.fromkeys(r["loss"] for r in rows):
            group = [r for r in rows if r["loss"] == loss and r["outlier_fraction"] == frac]
            ax.plot(*mean_curve(group, out_dir, "val_mae"), marker=".", label=loss)
        ax.set(title=f"outlier fraction {frac:g}", xlabel="epoch", ylabel="validation MAE")
        _legend(ax)
    return paths + save(fig, out_dir, "val_mae_curves")


def shootout_plots(rows: Sequence[Row], out_dir: Path, best_lrs: Mapping[str, float]) -> list[Path]:
    """Accuracy vs learning rate per optimizer; loss curves at each one's best learning rate."""
    rows = _done(rows)
    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("val_accuracy", "test_accuracy"), strict=True):
        stats = group_mean(rows, ("optimizer", "lr"), metric)
        for opt in dict.fromkeys(r["optimizer"] for r in rows):
            points = sorted((lr, m, s) for (o, lr), (m, s, _) in stats.items() if o == opt)
            line = None
            if points:
                lrs, means, stds = zip(*points, strict=True)
                line = ax.errorbar(lrs, means, yerr=stds, marker="o", capsize=3, label=opt)
            # Diverged runs have no accuracy: mark their rates at chance level (10 classes).
            lost = sorted({r["lr"] for r in rows if r["optimizer"] == opt and r.get("diverged")})
            color = line.lines[0].get_color() if line is not None else None
            ax.plot(lost, [0.1] * len(lost), "x", color=color, markersize=9)
        ax.axhline(0.1, color="grey", linestyle=":", linewidth=1, label="chance (x: diverged)")
        ax.set(xscale="log", xlabel="learning rate", ylabel=metric.replace("_", " "))
        _legend(ax)
    fig.suptitle("Learning-rate sensitivity per optimizer (Fashion-MNIST)")
    paths = save(fig, out_dir, "accuracy_vs_lr")

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_train, ax_val = fig.subplots(1, 2)
    for opt, lr in best_lrs.items():
        group = [r for r in rows if r["optimizer"] == opt and r["lr"] == lr]
        label = f"{opt} (lr {lr:g})"
        xs, ys = mean_curve(group, out_dir, "loss", kind="steps", x="step")
        ax_train.plot(xs, ema(ys), label=label)
        ax_val.plot(*mean_curve(group, out_dir, "val_loss"), marker=".", label=label)
    ax_train.set(xlabel="step", ylabel="training loss (smoothed)", yscale="log")
    ax_val.set(xlabel="epoch", ylabel="validation loss")
    _legend(ax_val)
    fig.suptitle("Each optimizer at its best learning rate")
    paths += save(fig, out_dir, "best_lr_curves")

    fig = Figure(figsize=(13, 3.5), layout="constrained")
    panels = {
        "time_per_epoch_s": "seconds per epoch",
        "optimizer_state_mb": "optimizer state (MiB)",
        "peak_memory_mb": "peak memory (MiB; on a CPU: process RSS)",
    }
    for ax, (metric, label) in zip(fig.subplots(1, 3), panels.items(), strict=True):
        stats = group_mean(rows, ("optimizer",), metric)
        names = [k[0] for k in stats]
        ax.bar(names, [v[0] for v in stats.values()], yerr=[v[1] for v in stats.values()])
        ax.set(ylabel=label)
        ax.tick_params(axis="x", labelrotation=30)
    return paths + save(fig, out_dir, "time_and_memory")


def schedules_plots(rows: Sequence[Row], out_dir: Path) -> list[Path]:
    """Learning rate and smoothed training loss against step per schedule; final accuracy."""
    rows = _done(rows)
    names = list(dict.fromkeys(r["schedule"] for r in rows))
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_lr, ax_loss = fig.subplots(1, 2)
    for name in names:
        group = [r for r in rows if r["schedule"] == name]
        ax_lr.plot(*mean_curve(group, out_dir, "lr", kind="steps", x="step"), label=name)
        xs, ys = mean_curve(group, out_dir, "loss", kind="steps", x="step")
        ax_loss.plot(xs, ema(ys), label=name)
    ax_lr.set(xlabel="step", ylabel="learning rate", title="Learning-rate schedules")
    ax_loss.set(xlabel="step", ylabel="training loss (smoothed)", title="Training loss")
    _legend(ax_lr)
    paths = save(fig, out_dir, "lr_and_loss_curves")

    fig = Figure(figsize=(10, 3.5), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("test_accuracy", "max_spike"), strict=True):
        stats = group_mean(rows, ("schedule",), metric)
        ax.bar([k[0] for k in stats], [v[0] for v in stats.values()],
               yerr=[v[1] for v in stats.values()])  # fmt: skip
        ax.set(ylabel=metric.replace("_", " "))
        ax.tick_params(axis="x", labelrotation=30)
        if metric == "test_accuracy" and stats:
            low = min(v[0] - v[1] for v in stats.values())
            ax.set_ylim(max(0.0, low - 0.05), None)
    return paths + save(fig, out_dir, "accuracy_and_stability")


def imbalance_plots(rows: Sequence[Row], out_dir: Path) -> list[Path]:
    """Precision, recall, F1 (threshold 0.5 and tuned) and AUROC per loss; F1 against gamma."""
    rows = _done(rows)
    metrics = {
        "threshold 0.5": ("precision_at_half", "recall_at_half", "f1_at_half"),
        "threshold tuned on val": ("precision_tuned", "recall_tuned", "f1_tuned"),
    }
    fig = Figure(figsize=(12, 4), layout="constrained")
    axes = fig.subplots(1, 3)
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    for ax, (title, keys) in zip(axes, metrics.items(), strict=False):
        long = [
            {"variant": r["variant"], "metric": k.split("_")[0], "value": r[k], "status": "done"}
            for r in rows
            for k in keys
        ]
        grouped_bars(ax, long, "metric", "variant", "value", "test score (pneumonia positive)")
        ax.set_xticks(range(3), ["precision", "recall", "F1"])
        ax.set(title=title, ylim=(0, 1))
    stats = group_mean(rows, ("variant",), "test_auroc")
    axes[2].bar(variants, [stats.get((v,), (math.nan, 0, 0))[0] for v in variants],
                yerr=[stats.get((v,), (0, 0, 0))[1] for v in variants])  # fmt: skip
    axes[2].set(title="AUROC (threshold-free)", ylim=(0.5, 1))
    axes[2].tick_params(axis="x", labelrotation=30)
    fig.suptitle("Trained at 5% pneumonia; precision and F1 at 5% prevalence")
    paths = save(fig, out_dir, "scores_by_loss")

    fig = Figure(figsize=(5, 4), layout="constrained")
    ax = fig.subplots()
    focal = [r for r in rows if r["loss"] == "focal"]
    for metric in ("test_auroc", "recall_at_half", "precision_at_half", "f1_at_half", "f1_tuned"):
        stats = sorted((g, m) for (g,), (m, _, _) in group_mean(focal, ("gamma",), metric).items())
        if stats:
            ax.plot(*zip(*stats, strict=True), marker="o", label=metric)
    ax.set(xlabel="focal gamma", ylabel="test score", title="Focal loss: the gamma sweep")
    _legend(ax)
    return paths + save(fig, out_dir, "focal_gamma_sweep")
