"""The book's plots: figures with the expected artists, files with the right bytes, no globals."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_lib.diagnostics import Landscape1D, Landscape2D
from course_lib.plotting import (
    BOOK_STYLE,
    OKABE_ITO,
    BookFigure,
    contour_levels,
    new_figure,
    plot_gradient_norms,
    plot_landscape_1d,
    plot_landscape_2d,
    plot_lr_schedule,
    plot_training_curves,
    plot_trajectories_2d,
    save_figure,
    use_style,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


class FakeHistory:
    """The part of course_lib.train.History that plotting reads: column(key, table)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def column(self, key, table="epochs"):
        return [row.get(key) for row in self.epochs]


@pytest.fixture(autouse=True)
def rc_params_unchanged():
    before = matplotlib.rcParams.copy()
    yield
    assert matplotlib.rcParams.copy() == before


def test_import_changes_nothing_global():
    code = (
        "import sys, matplotlib\n"
        "before = matplotlib.rcParams.copy()\n"
        "import course_lib.plotting\n"
        "assert matplotlib.rcParams.copy() == before, 'rcParams changed'\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_training_curves_from_histories_dicts_and_lists():
    histories = {
        "sgd": FakeHistory(
            [{"epoch": e, "train_loss": 1 / (e + 1), "val_loss": None} for e in range(5)]
        ),
        "adam": {"train_loss": [1.0, 0.4, 0.2], "val_loss": [1.1, 0.5, 0.3]},
        "raw": [0.9, 0.8, 0.7, 0.6],
    }
    fig = plot_training_curves(histories, "train_loss", log_y=True, title="loss")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sgd", "adam", "raw"]
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.arange(5))
    # Two metrics: a line per run and metric; val_loss=None rows are dropped, not plotted as 0.
    two = plot_training_curves(
        {k: histories[k] for k in ("sgd", "adam")}, ["train_loss", "val_loss"]
    )
    lines = two.axes[0].get_lines()
    assert len(lines) == 4
    assert len(lines[1].get_xdata()) == 0  # sgd has no validation values
    assert lines[2].get_color() == lines[3].get_color()  # same run, same colour
    assert lines[2].get_linestyle() != lines[3].get_linestyle()


def test_plots_are_drawn_in_the_book_style_only_when_asked():
    fig = plot_training_curves({"a": [1.0, 0.5]})
    ax = fig.axes[0]
    assert matplotlib.colors.same_color(ax.get_lines()[0].get_color(), OKABE_ITO[0])
    assert not ax.spines["top"].get_visible()
    plain = plot_training_curves({"a": [1.0, 0.5]}, style=False)
    assert plain.axes[0].spines["top"].get_visible() == matplotlib.rcParams["axes.spines.top"]


def test_lr_schedules_from_lists_callables_and_dicts():
    fig = plot_lr_schedule([0.1, 0.1, 0.01])
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 1
    assert fig.axes[0].get_legend() is None
    fig = plot_lr_schedule(
        {"step": [0.1] * 5, "cosine": lambda t: 0.05 * (1 + np.cos(np.pi * t / 9))},
        steps=10,
        log_y=True,
    )
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    assert len(lines[1].get_ydata()) == 10 and lines[1].get_ydata()[0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="steps"):
        plot_lr_schedule(lambda t: 0.1)


def test_gradient_norms_across_depth_and_over_time():
    stats = {
        name: {"weight_grad_norm": [10.0**-i, 10.0 ** (-i - 1)], "act_std": [1.0, 1.0]}
        for i, name in enumerate(["0", "2", "4"])
    }
    fig = plot_gradient_norms(stats)
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), [0.1, 0.01, 0.001])  # the latest pass
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "2", "4"]
    assert ax.get_yscale() == "log"
    stats["frozen"] = {"weight_grad_norm": [], "act_std": [1.0]}  # no gradients: left out
    assert len(plot_gradient_norms(stats).axes[0].get_lines()[0].get_ydata()) == 3
    over_time = plot_gradient_norms(stats, step=None)
    assert len(over_time.axes[0].get_lines()) == 3
    flat = plot_gradient_norms({"0.weight": 1e-3, "2.weight": 1.0})
    np.testing.assert_allclose(flat.axes[0].get_lines()[0].get_ydata(), [1e-3, 1.0])


def test_gradient_norms_from_a_recorder():
    from course_lib.diagnostics import ActivationGradientRecorder

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 1))
    with ActivationGradientRecorder(model) as rec:
        model(torch.randn(5, 3)).sum().backward()
    fig = plot_gradient_norms(rec, title="gradients")
    assert len(fig.axes[0].get_lines()[0].get_ydata()) == 2


def test_landscape_1d_and_2d():
    alphas = np.linspace(-1, 1, 11)
    fig = plot_landscape_1d(alphas, {"train": alphas**2, "test": alphas**2 + 0.1})
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 2
    fig = plot_landscape_1d(Landscape1D(alphas, alphas**2))
    assert len(fig.axes[0].get_lines()) == 1

    betas = np.linspace(-1, 1, 7)
    losses = alphas[None, :] ** 2 + 2 * betas[:, None] ** 2
    fig = plot_landscape_2d(alphas, betas, losses)
    assert len(fig.axes) == 2  # the contours and the colour bar
    assert fig.axes[0].get_xlabel() == r"$\alpha$"
    lines_only = plot_landscape_2d(Landscape2D(alphas, betas, losses), filled=False, levels=8)
    assert len(lines_only.axes) == 1


def test_trajectories_on_a_test_function():
    path = [torch.tensor([-1.5, 2.0])]
    for _ in range(20):
        path.append(path[-1] + 0.1 * (torch.tensor([1.0, 1.0]) - path[-1]))
    paths = {
        "gd": path,
        "momentum": torch.stack(path) * 0.9,
        "array": np.stack([p.numpy() for p in path]),
    }
    fig = plot_trajectories_2d(rosenbrock, paths, minima=[(1.0, 1.0)], resolution=60)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 3
    np.testing.assert_allclose(ax.get_lines()[0].get_xydata(), torch.stack(path).numpy())
    assert ax.get_legend() is not None
    lo, hi = ax.get_xlim()
    assert lo < -1.5 and hi > 1.0  # the paths and the minimum fit in the default window
    one = plot_trajectories_2d(
        lambda p: float(p @ p),  # one point at a time
        {"x": [(1.0, 1.0), (0.5, 0.5)]},
        xlim=(-2, 2),
        ylim=(-2, 2),
        resolution=15,
        vectorized=False,
    )
    assert len(one.axes[0].get_lines()) == 1


def test_contour_levels():
    z = np.array([[0.0, 1.0], [10.0, 100.0]])
    np.testing.assert_allclose(contour_levels(z, 3, "linear"), [0, 50, 100])
    log = contour_levels(z, 5, "log")
    assert log[0] == pytest.approx(0.01) and log[-1] == pytest.approx(100)
    np.testing.assert_allclose(contour_levels(z, 5, "quantile")[[0, -1]], [0, 100])
    np.testing.assert_allclose(contour_levels(z, [1, 2], "linear"), [1, 2])
    with pytest.raises(ValueError, match="spacing"):
        contour_levels(z, 3, "cubic")


def test_plot_into_an_existing_axes():
    with use_style():
        fig, axes = new_figure(1, 2, figsize=(8, 3))
    assert isinstance(fig, BookFigure)
    out = plot_lr_schedule([1.0, 0.5], ax=axes[1])
    assert out is fig
    assert len(axes[1].get_lines()) == 1 and len(axes[0].get_lines()) == 0


def test_save_figure_writes_png_and_svg_reproducibly(tmp_path):
    fig = plot_landscape_1d(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5) ** 2)
    paths = save_figure(fig, tmp_path / "figs" / "line.v1")
    assert [p.name for p in paths] == ["line.v1.png", "line.v1.svg"]
    png, svg = (p.read_bytes() for p in paths)
    assert png.startswith(PNG_MAGIC)
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg[:2000]
    again = save_figure(fig, tmp_path / "again", formats=(".SVG", "png"))
    assert [p.suffix for p in again] == [".svg", ".png"]
    assert again[0].read_bytes() == svg  # no dates, fixed ids: byte-identical rebuilds
    assert again[1].read_bytes() == png


def test_use_style_as_context_and_as_a_call():
    key = "axes.spines.top"
    original = matplotlib.rcParams[key]
    with use_style() as style:
        assert matplotlib.rcParams[key] is BOOK_STYLE[key]
    assert matplotlib.rcParams[key] == original
    style = use_style({"lines.linewidth": 3.0})
    try:
        assert matplotlib.rcParams["lines.linewidth"] == 3.0
        assert matplotlib.rcParams[key] is False
    finally:
        style.restore()
    assert matplotlib.rcParams[key] == original


def test_book_figure_displays_as_png_in_notebooks():
    fig = plot_lr_schedule([1.0, 0.5])
    assert isinstance(fig, BookFigure)
    assert fig._repr_png_().startswith(PNG_MAGIC)


def test_book_figure_draws_in_the_style_it_was_made_in(monkeypatch):
    # "C0" colours are resolved at draw time, after the notebook cell's style block has ended.
    with use_style():
        fig, ax = new_figure()
        ax.plot([0, 1], [0, 1], color="C0")
    seen = {}
    original = type(fig).savefig

    def spy(self, *args, **kwargs):
        seen["cycle"] = matplotlib.rcParams["axes.prop_cycle"]
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(fig), "savefig", spy)
    assert fig._repr_png_().startswith(b"\x89PNG")
    assert seen["cycle"] == BOOK_STYLE["axes.prop_cycle"]
    assert matplotlib.rcParams["axes.prop_cycle"] != BOOK_STYLE["axes.prop_cycle"]


def test_gradient_norm_plot_accepts_numpy_histories():
    stats = {
        "0": {"weight_grad_norm": np.array([1.0, 0.5])},
        "1": {"weight_grad_norm": np.array([2.0, 1.0])},
    }
    fig = plot_gradient_norms(stats, step=None)
    assert len(fig.axes[0].lines) == 2
