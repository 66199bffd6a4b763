"""Curves over time and depth: training metrics, learning-rate schedules, per-layer gradients."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.plotting.style import axes_or_new, style_scope


def _history_series(
    history: Any, metric: str, table: str, x: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one metric from a History, a dict of lists, or a plain sequence of values.

    Rows where the metric is ``None`` (e.g. ``val_loss`` without validation data) are dropped.
    """
    if hasattr(history, "column"):  # course_lib.train.History: tables of rows
        ys = history.column(metric, table)
        default_x = "epoch" if table == "epochs" else "step"
        xs = history.column(x or default_x, table)
    elif isinstance(history, Mapping):
        ys = list(history[metric])
        xs = list(history[x]) if x is not None else list(range(len(ys)))
    else:  # already the series
        ys = list(history)
        xs = list(range(len(ys)))
    pairs = [(a, b) for a, b in zip(xs, ys, strict=True) if b is not None]
    return np.array([a for a, _ in pairs], dtype=float), np.array([b for _, b in pairs], float)


def plot_training_curves(
    histories: Mapping[str, Any],
    metric: str | Sequence[str] = "train_loss",
    *,
    table: str = "epochs",
    x: str | None = None,
    log_y: bool = False,
    title: str | None = None,
    ax: Axes | None = None,
    style: bool = True,
) -> Figure:
    """One line per run (and per metric): the learning curves to compare runs by.

    Args:
        histories: ``{label: history}``, where a history is a ``course_lib.train.History``
            (read with ``.column(metric, table)``), a dict of lists (``{"loss": [...]}``), or the
            list of values itself.
        metric: the column to plot, or several (e.g. ``["train_loss", "val_loss"]``): one
            colour per run, one line style per metric, all on one axes.
        table: for a History, ``"epochs"`` or ``"steps"``.
        x: the column for the horizontal axis; by default ``epoch``/``step`` for a History and
            the index for dicts and lists.
        log_y: logarithmic vertical axis (losses falling over decades).
        title: the axes title.
        ax: draw into this axes instead of a new figure.
        style: draw in the book's style.

    Returns:
        The figure, with ``len(histories) * len(metrics)`` lines.
    """
    metrics = [metric] if isinstance(metric, str) else list(metric)
    line_styles = ["-", "--", ":", "-."]
    with style_scope(style):
        fig, ax = axes_or_new(ax)
        # Resolved now: a "C0"-style colour would be looked up at draw time, outside the style.
        colors = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", ["black"])
        for i, (label, history) in enumerate(histories.items()):
            color = colors[i % len(colors)]
            for j, name in enumerate(metrics):
                xs, ys = _history_series(history, name, table, x)
                text = label if len(metrics) == 1 else f"{label} ({name})"
                ax.plot(xs, ys, color=color, linestyle=line_styles[j % 4], label=text)
        ax.set_xlabel(x or ("epoch" if table == "epochs" else "step"))
        ax.set_ylabel(metrics[0] if len(metrics) == 1 else ", ".join(metrics))
        if log_y:
            ax.set_yscale("log")
        if title:
            ax.set_title(title)
        if len(histories) * len(metrics) > 1:
            ax.legend()
    return fig


Schedule = Sequence[float] | np.ndarray | Callable[[int], float]


def plot_lr_schedule(
    lrs: Schedule | Mapping[str, Schedule],
    *,
    steps: int | None = None,
    log_y: bool = False,
    title: str | None = None,
    ax: Axes | None = None,
    style: bool = True,
) -> Figure:
    """The learning rate against the step, for one schedule or several (one line each).

    Args:
        lrs: a sequence of learning rates, a schedule ``step -> lr`` (evaluated at
            ``0, ..., steps - 1``), or ``{label: either}``.
        steps: how many steps of a callable schedule to draw.
        log_y: logarithmic vertical axis (warm-ups and exponential decays).
        title: the axes title.
        ax: draw into this axes instead of a new figure.
        style: draw in the book's style.

    Returns:
        The figure, with one line per schedule.
    """
    named = dict(lrs) if isinstance(lrs, Mapping) else {"": lrs}
    with style_scope(style):
        fig, ax = axes_or_new(ax)
        for label, schedule in named.items():
            if callable(schedule):
                if steps is None:
                    raise ValueError("a callable schedule needs steps=")
                schedule = [schedule(t) for t in range(steps)]
            values = np.asarray(schedule, dtype=float)
            ax.plot(np.arange(len(values)), values, label=label or None)
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
        if log_y:
            ax.set_yscale("log")
        if title:
            ax.set_title(title)
        if len(named) > 1:
            ax.legend()
    return fig


def plot_gradient_norms(
    stats: Any,
    stat: str = "weight_grad_norm",
    *,
    step: int | None = -1,
    log_y: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
    style: bool = True,
) -> Figure:
    """Per-layer statistics: the vanishing/exploding picture across depth, or their history.

    Args:
        stats: an :class:`~course_lib.diagnostics.ActivationGradientRecorder`, its ``.stats``
            (``{layer: {stat: [values]}}``), or ``{layer: value}`` (e.g. from
            :func:`~course_lib.diagnostics.parameter_grad_norms`); layers in input-to-output
            order.
        stat: which statistic of the recorder to plot.
        step: with an int, one line across depth at that recorded pass (``-1``: the latest);
            with ``None``, one line per layer over the recorded passes, coloured from the
            first layer (dark) to the last (light).
        log_y: logarithmic vertical axis: gradient norms span orders of magnitude.
        title: the axes title.
        ax: draw into this axes instead of a new figure.
        style: draw in the book's style.

    Returns:
        The figure: one line (``step`` an int or flat values) or one line per layer.
    """
    stats = getattr(stats, "stats", stats)
    flat = all(np.isscalar(v) for v in stats.values())
    # Layers that recorded nothing (e.g. no backward pass through them) are left out.
    names = [n for n in stats if flat or len(stats[n][stat]) > 0]  # lists or arrays
    with style_scope(style):
        fig, ax = axes_or_new(ax)
        if flat or step is not None:
            values = [stats[n] if flat else stats[n][stat][step] for n in names]
            ax.plot(np.arange(len(names)), values, marker="o")
            ax.set_xticks(np.arange(len(names)), names, rotation=45, ha="right")
            ax.set_xlabel("layer (input → output)")
            ax.set_ylabel(stat)
        else:
            cmap = matplotlib.colormaps["viridis"]
            for i, n in enumerate(names):
                shade = cmap(i / max(len(names) - 1, 1) * 0.9)
                ax.plot(stats[n][stat], color=shade, label=n)
            ax.set_xlabel("recorded pass")
            ax.set_ylabel(stat)
            ax.legend(fontsize="small", ncols=2 if len(names) > 6 else 1)
        if log_y:
            ax.set_yscale("log")
        if title:
            ax.set_title(title)
    return fig
