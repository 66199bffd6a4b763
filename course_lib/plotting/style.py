"""The book's figure style, figures that need no pyplot, and saving them reproducibly.

Nothing here changes matplotlib's global state on import. The style is applied three ways:

* every plot function of :mod:`course_lib.plotting` draws inside the style by default
  (``style=True``) and restores :data:`matplotlib.rcParams` before returning;
* ``with use_style(): ...`` applies it to a block of your own plotting code;
* ``use_style()`` alone (say, at the top of a notebook) applies it until ``.restore()``.

Figures are :class:`matplotlib.figure.Figure` objects made directly, never through
``matplotlib.pyplot``: no global figure registry to leak memory in loops, no backend to choose,
so the same code runs headless in tests, in the book build and in a notebook.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import matplotlib
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# The Okabe-Ito palette (Okabe & Ito 2008): distinguishable with every common colour-vision
# deficiency and in greyscale print. Yellow last: it is faint on white.
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)

BOOK_STYLE: dict[str, Any] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "font.size": 10.0,
    "axes.titlesize": 11.0,
    "axes.labelsize": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.prop_cycle": cycler(color=list(OKABE_ITO)),
    "lines.linewidth": 1.8,
    "lines.markersize": 4.0,
    "legend.frameon": False,
    "image.cmap": "viridis",
    # A fixed salt makes SVG element ids, hence the files, identical from build to build.
    "svg.hashsalt": "course_lib",
}


class use_style:  # noqa: N801 (used like a function: ``use_style()`` or ``with use_style():``)
    """Apply the book's style (plus ``overrides``) to matplotlib's global rcParams.

    Used in a ``with`` statement it restores the previous values on exit; called alone it stays
    in force until :meth:`restore`. Only the keys of the style are saved and restored.

    Example:
        >>> with use_style({"figure.figsize": (4, 3)}):
        ...     fig = Figure()  # made with the book's style
    """

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        style = {**BOOK_STYLE, **(overrides or {})}
        params = matplotlib.rcParams
        self._saved = {key: params[key] for key in style}
        params.update(style)

    def restore(self) -> None:
        """Put back the values the style replaced (idempotent)."""
        matplotlib.rcParams.update(self._saved)

    def __enter__(self) -> use_style:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()


@contextlib.contextmanager
def style_scope(style: bool) -> Iterator[None]:
    """The book's style for the duration of a block if ``style``, else nothing."""
    if not style:
        yield
        return
    with matplotlib.rc_context(BOOK_STYLE):
        yield


class BookFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that shows itself as PNG in Jupyter.

    Without pyplot, IPython has no display hook for figures and would print
    ``<Figure size ... with 1 Axes>``; ``_repr_png_`` gives notebooks and the book's executed
    cells the picture instead. Where the inline backend is active, IPython's own printer wins.

    A notebook displays the figure after the cell's ``with use_style():`` block has ended, and
    colours given as ``"C0"``, ``"C1"``... are resolved only when the figure is drawn; so the
    figure remembers the style-related rcParams in force when it was made and draws under them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._creation_rc = {key: matplotlib.rcParams[key] for key in BOOK_STYLE}

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        with matplotlib.rc_context(self._creation_rc):
            self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def new_figure(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kwargs: Any
) -> tuple[BookFigure, Any]:
    """A figure and its axes (``Figure.subplots`` semantics: one Axes or an array of them).

    Call it inside :func:`style_scope` or :class:`use_style` for the book's look.
    """
    fig = BookFigure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def axes_or_new(ax: Axes | None) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure with one axes when ``ax`` is ``None``."""
    if ax is not None:
        return ax.get_figure(root=True), ax
    return new_figure()


# Metadata that changes on every save (dates, versions) is dropped so that a rebuilt figure is
# byte-identical when nothing changed, which keeps the book's history free of noise.
_STABLE_METADATA: dict[str, dict[str, None]] = {
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "Producer": None},
}


def save_figure(
    fig: Figure,
    path: str | Path,
    formats: Sequence[str] = ("png", "svg"),
    *,
    dpi: float | None = None,
) -> list[Path]:
    """Save ``fig`` once per format, as ``path`` plus each suffix.

    Args:
        fig: the figure.
        path: the file name without suffix, e.g. ``"figures/sgd_paths"``; folders are made.
        formats: file formats understood by matplotlib (``"png"``, ``"svg"``, ``"pdf"``, ...).
        dpi: raster resolution; by default the style's ``savefig.dpi`` (200).

    Returns:
        The paths written, in the order of ``formats``.
    """
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    with matplotlib.rc_context({"svg.hashsalt": BOOK_STYLE["svg.hashsalt"]}):
        for fmt in formats:
            fmt = fmt.lower().lstrip(".")
            out = base.with_name(f"{base.name}.{fmt}")
            fig.savefig(
                out,
                format=fmt,
                dpi=dpi or BOOK_STYLE["savefig.dpi"],
                bbox_inches="tight",
                metadata=_STABLE_METADATA.get(fmt),
            )
            written.append(out)
    return written
