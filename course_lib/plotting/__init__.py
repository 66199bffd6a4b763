"""The book's figure style and its standard plots.

Importing this package changes nothing global: no backend is selected, pyplot is not imported
and :data:`matplotlib.rcParams` is untouched. Each plot function returns a
:class:`matplotlib.figure.Figure` (made without pyplot, drawn in the book's style unless
``style=False``, with the previous rcParams restored), accepts ``ax=`` to draw into an existing
axes, and leaves saving to :func:`save_figure`.

- :mod:`~course_lib.plotting.style`: :data:`BOOK_STYLE`, :class:`use_style`, :func:`new_figure`,
  :func:`save_figure`;
- :mod:`~course_lib.plotting.curves`: :func:`plot_training_curves`, :func:`plot_lr_schedule`,
  :func:`plot_gradient_norms`;
- :mod:`~course_lib.plotting.surfaces`: :func:`plot_landscape_1d`, :func:`plot_landscape_2d`,
  :func:`plot_trajectories_2d`.
"""

from course_lib.plotting.curves import plot_gradient_norms, plot_lr_schedule, plot_training_curves
from course_lib.plotting.style import (
    BOOK_STYLE,
    OKABE_ITO,
    BookFigure,
    new_figure,
    save_figure,
    use_style,
)
from course_lib.plotting.surfaces import (
    contour_levels,
    plot_landscape_1d,
    plot_landscape_2d,
    plot_trajectories_2d,
)

__all__ = [
    "BOOK_STYLE",
    "OKABE_ITO",
    "BookFigure",
    "contour_levels",
    "new_figure",
    "plot_gradient_norms",
    "plot_landscape_1d",
    "plot_landscape_2d",
    "plot_lr_schedule",
    "plot_training_curves",
    "plot_trajectories_2d",
    "save_figure",
    "use_style",
]
