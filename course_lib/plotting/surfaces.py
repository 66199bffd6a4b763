"""Functions of one and two variables: loss landscapes and optimizer paths on test functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.plotting.style import axes_or_new, style_scope

Spacing = Literal["linear", "log", "quantile"]


def contour_levels(z: np.ndarray, levels: int | Sequence[float], spacing: Spacing) -> np.ndarray:
    """Contour levels for the values ``z``.

    ``"linear"`` spaces them evenly; ``"log"`` geometrically above the minimum (for functions
    like Rosenbrock's whose walls are steep and valley is flat); ``"quantile"`` puts them at
    quantiles of ``z`` over the grid, so that every band covers the same area and the valley
    gets as many contours as the walls, whatever the function.
    """
    if not isinstance(levels, int):
        return np.asarray(levels, dtype=float)
    finite = z[np.isfinite(z)]
    lo, hi = float(finite.min()), float(finite.max())
    if spacing == "linear":
        return np.linspace(lo, hi, levels)
    if spacing == "log":
        span = hi - lo
        return lo + np.geomspace(span * 1e-4, span, levels) if span > 0 else np.array([lo])
    if spacing == "quantile":
        return np.unique(np.quantile(finite, np.linspace(0.0, 1.0, levels)))
    raise ValueError(f"spacing must be 'linear', 'log' or 'quantile', got {spacing!r}")


def plot_landscape_1d(
    alphas: Any,
    losses: Sequence[float] | np.ndarray | Mapping[str, Any] | None = None,
    *,
    log_y: bool = False,
    xlabel: str = r"$\alpha$",
    title: str | None = None,
    ax: Axes | None = None,
    style: bool = True,
) -> Figure:
    r"""The loss along a line, :math:`\alpha \mapsto L(\theta^* + \alpha\delta)`.

    Args:
        alphas: the step sizes, or a :class:`~course_lib.diagnostics.Landscape1D` (then leave
            ``losses`` out).
        losses: the losses at ``alphas``, or ``{label: losses}`` for several curves on the same
            line (e.g. train and test loss).
        log_y: logarithmic vertical axis.
        xlabel: the horizontal axis label.
        title: the axes title.
        ax: draw into this axes instead of a new figure.
        style: draw in the book's style.

    Returns:
        The figure, with one line per curve.
    """
    if losses is None:
        alphas, losses = alphas.alphas, alphas.losses
    curves = dict(losses) if isinstance(losses, Mapping) else {"": losses}
    with style_scope(style):
        fig, ax = axes_or_new(ax)
        for label, values in curves.items():
            ax.plot(np.asarray(alphas), np.asarray(values), label=label or None)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss")
        if log_y:
            ax.set_yscale("log")
        if title:
            ax.set_title(title)
        if len(curves) > 1:
            ax.legend()
    return fig


def plot_landscape_2d(
    alphas: Any,
    betas: Sequence[float] | np.ndarray | None = None,
    losses: np.ndarray | None = None,
    *,
    levels: int | Sequence[float] = 30,
    spacing: Spacing = "linear",
    filled: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
    style: bool = True,
) -> Figure:
    r"""Contours of the loss over a plane, :math:`L(\theta^* + \alpha\delta + \beta\eta)`.

    The centre :math:`(0, 0)`, the model itself, is marked with a cross.

    Args:
        alphas: the coefficients of the first direction (columns of ``losses``), or a
            :class:`~course_lib.diagnostics.Landscape2D` (then leave the rest out).
        betas: the coefficients of the second direction (rows of ``losses``).
        losses: shape ``(len(betas), len(alphas))``.
        levels: the number of contour levels, or the levels themselves.
        spacing: how ``levels`` (an int) are spaced: see :func:`contour_levels`.
        filled: filled contours with a colour bar; else contour lines only (Li et al.'s look).
        title: the axes title.
        ax: draw into this axes instead of a new figure.
        style: draw in the book's style.

    Returns:
        The figure: the contour axes, plus the colour bar's axes when ``filled``.
    """
    if betas is None:
        alphas, betas, losses = alphas.alphas, alphas.betas, alphas.losses
    z = np.asarray(losses, dtype=float)
    with style_scope(style):
        fig, ax = axes_or_new(ax)
        lv = contour_levels(z, levels, spacing)
        if filled:
            filled_set = ax.contourf(alphas, betas, z, levels=lv, cmap="viridis")
            ax.contour(alphas, betas, z, levels=lv, colors="white", linewidths=0.4, alpha=0.5)
            fig.colorbar(filled_set, ax=ax, label="loss")
        else:
            lines = ax.contour(alphas, betas, z, levels=lv, cmap="viridis", linewidths=1.0)
            ax.clabel(lines, fontsize="x-small", inline=True)
        ax.scatter([0.0], [0.0], marker="x", color="black", zorder=3)
        ax.set_xlabel(r"$\alpha$")
        ax.set_ylabel(r"$\beta$")
        ax.set_aspect("equal", adjustable="box")
        ax.grid(False)
        if title:
            ax.set_title(title)
    return fig


def _as_path(path: Any) -> np.ndarray:
    """A path as an array of shape ``(T, 2)``, from tensors, arrays or lists of points."""
    if isinstance(path, torch.Tensor):
        return path.detach().cpu().to(torch.float64).numpy().reshape(-1, 2)
    if isinstance(path, (list, tuple)) and path and isinstance(path[0], torch.Tensor):
        return torch.stack([p.detach().cpu().to(torch.float64) for p in path]).numpy()
    return np.asarray(path, dtype=float).reshape(-1, 2)


def _evaluate_grid(
    f: Callable[[Any], Any], X: np.ndarray, Y: np.ndarray, vectorized: bool
) -> np.ndarray:
    xy = torch.as_tensor(np.stack([X, Y]), dtype=torch.float64)
    with torch.no_grad():
        if vectorized:
            z = f(xy)
        else:
            z = torch.tensor([float(f(p)) for p in xy.reshape(2, -1).T]).reshape(X.shape)
    if isinstance(z, torch.Tensor):
        z = z.detach().cpu().numpy()
    return np.broadcast_to(np.asarray(z, dtype=float), X.shape)


def plot_trajectories_2d(
    f: Callable[[Any], Any],
    paths: Mapping[str, Any],
    *,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    resolution: int = 200,
    levels: int | Sequence[float] = 30,
    spacing: Spacing = "quantile",
    minima: Sequence[tuple[float, float]] = (),
    vectorized: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
    style: bool = True,
) -> Figure:
    """Optimizer paths over the contours of a 2-D test function.

    Args:
        f: the function. It gets a float64 tensor ``p`` of shape ``(2, ny, nx)`` and should
            return the values of shape ``(ny, nx)``; a function written for one point with
            ``p[0]`` and ``p[1]`` and elementwise operations does this as it is, e.g.
            ``lambda p: (1 - p[0])**2 + 100 * (p[1] - p[0]**2)**2``. With
            ``vectorized=False`` it gets one point of shape ``(2,)`` at a time.
        paths: ``{label: path}``, each path the iterates as a ``(T, 2)`` tensor or array or a
            list of ``(2,)`` tensors.
        xlim: the horizontal range; by default the paths' extent plus a margin.
        ylim: the vertical range; likewise.
        resolution: grid points per axis for the contours.
        levels: the number of contour levels, or the levels.
        spacing: how ``levels`` (an int) are spaced: see :func:`contour_levels`.
        minima: points to mark with a star (the function's minimisers).
        vectorized: whether ``f`` accepts the whole grid at once.
        title: the axes title.
        ax: draw into this axes instead of a new figure.
        style: draw in the book's style.

    Returns:
        The figure, with one line per path (iterates marked by dots, the start by a circle).
    """
    arrays = {label: _as_path(p) for label, p in paths.items()}
    points = np.concatenate([*arrays.values(), np.asarray(minima, float).reshape(-1, 2)])
    xlim = xlim or _padded(points[:, 0])
    ylim = ylim or _padded(points[:, 1])
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    X, Y = np.meshgrid(xs, ys)
    Z = _evaluate_grid(f, X, Y, vectorized)
    with style_scope(style):
        fig, ax = axes_or_new(ax)
        lv = contour_levels(Z, levels, spacing)
        ax.contour(X, Y, Z, levels=lv, cmap="Greys_r", linewidths=0.6, alpha=0.8)
        for label, path in arrays.items():
            (line,) = ax.plot(path[:, 0], path[:, 1], marker=".", markersize=3, label=label)
            start = {"s": 30, "facecolors": "none", "edgecolors": line.get_color(), "zorder": 3}
            ax.scatter(path[:1, 0], path[:1, 1], **start)
        if len(minima):
            m = np.asarray(minima, float).reshape(-1, 2)
            ax.scatter(m[:, 0], m[:, 1], marker="*", s=120, color="black", zorder=4)
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_xlabel("$x$")
        ax.set_ylabel("$y$")
        ax.grid(False)
        if title:
            ax.set_title(title)
        if len(arrays) > 1:
            ax.legend(loc="best")
    return fig


def _padded(values: np.ndarray, margin: float = 0.15) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    pad = margin * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad
