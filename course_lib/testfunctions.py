"""Two-dimensional test functions for optimizers, and a runner that records a trajectory.

The three surfaces the book draws every optimizer on:

- an ill-conditioned quadratic :math:`f(x, y) = \\tfrac12 (x'^2 + \\kappa\\, y'^2)`, where
  :math:`(x', y')` is :math:`(x, y)` rotated by ``angle`` (axis-aligned by default, which is the
  case diagonal preconditioners such as Adam's handle well);
- Rosenbrock's banana :math:`f(x, y) = (a - x)^2 + b (y - x^2)^2`, minimum 0 at :math:`(a, a^2)`;
- a saddle with two valleys :math:`f(x, y) = x^2 - y^2 + y^4 / 4`: a saddle point at the origin
  and two minima, :math:`f = -1` at :math:`(0, \\pm\\sqrt 2)`. Unlike :math:`x^2 - y^2` it is
  bounded below, so an optimizer that escapes the saddle has somewhere to go.

Every function takes a tensor whose last dimension is 2 and returns one value per point, so the
same code evaluates a single iterate (shape ``(2,)``) and a plotting grid (shape ``(H, W, 2)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


def ill_conditioned_quadratic(x: Tensor, condition: float = 20.0, angle: float = 0.0) -> Tensor:
    """:math:`\\tfrac12 (u^2 + \\kappa v^2)` with :math:`(u, v) = R(-\\text{angle})\\,(x, y)`.

    Args:
        x: points, last dimension 2.
        condition: the condition number :math:`\\kappa \\ge 1` of the Hessian.
        angle: rotation of the principal axes, in radians.

    Returns:
        The function value at each point (shape ``x.shape[:-1]``).
    """
    if condition < 1:
        raise ValueError(f"condition must be >= 1, got {condition}")
    c, s = math.cos(angle), math.sin(angle)
    u = c * x[..., 0] + s * x[..., 1]
    v = -s * x[..., 0] + c * x[..., 1]
    return 0.5 * (u**2 + condition * v**2)


def rosenbrock(x: Tensor, a: float = 1.0, b: float = 100.0) -> Tensor:
    """Rosenbrock's function :math:`(a - x)^2 + b (y - x^2)^2`; minimum 0 at :math:`(a, a^2)`."""
    return (a - x[..., 0]) ** 2 + b * (x[..., 1] - x[..., 0] ** 2) ** 2


def saddle(x: Tensor) -> Tensor:
    """:math:`x^2 - y^2 + y^4/4`: a saddle at the origin, minima -1 at :math:`(0, \\pm\\sqrt2)`."""
    return x[..., 0] ** 2 - x[..., 1] ** 2 + x[..., 1] ** 4 / 4


@dataclass(frozen=True)
class Surface:
    """A test function with the facts a plot and a test need.

    Attributes:
        name: a short label for legends.
        fn: the function; last dimension of the input is 2.
        start: the standard starting point of the book's trajectories.
        minima: every global minimiser (the saddle surface has two).
        min_value: the function value at the minima.
        xlim: the x range to draw.
        ylim: the y range to draw.
    """

    name: str
    fn: Callable[[Tensor], Tensor]
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    min_value: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def __call__(self, x: Tensor) -> Tensor:
        return self.fn(x)


SURFACES: dict[str, Surface] = {
    "quadratic": Surface(
        name="ill-conditioned quadratic (κ = 20)",
        fn=ill_conditioned_quadratic,
        start=(-4.0, 1.5),
        minima=((0.0, 0.0),),
        min_value=0.0,
        xlim=(-4.5, 4.5),
        ylim=(-2.0, 2.0),
    ),
    "rosenbrock": Surface(
        name="Rosenbrock",
        fn=rosenbrock,
        start=(-1.5, 2.0),
        minima=((1.0, 1.0),),
        min_value=0.0,
        xlim=(-2.0, 2.0),
        ylim=(-1.0, 3.0),
    ),
    "saddle": Surface(
        name="saddle with two valleys",
        fn=saddle,
        # Just off the saddle's stable manifold (y = 0), so the escape is visible.
        start=(-2.0, 1e-3),
        minima=((0.0, math.sqrt(2.0)), (0.0, -math.sqrt(2.0))),
        min_value=-1.0,
        xlim=(-2.5, 2.5),
        ylim=(-2.0, 2.0),
    ),
}


def run_trajectory(
    make_optimizer: Callable[[list[Tensor]], torch.optim.Optimizer],
    fn: Callable[[Tensor], Tensor],
    start: tuple[float, float],
    steps: int,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Minimise ``fn`` from ``start`` and return every iterate.

    The optimizer's ``step`` always gets a closure, so line-search methods (L-BFGS) work too; for
    them one step may evaluate ``fn`` several times.

    Args:
        make_optimizer: builds the optimizer from the parameter list, e.g.
            ``lambda p: torch.optim.Adam(p, lr=0.1)``.
        fn: the function to minimise (last input dimension 2).
        start: the first iterate.
        steps: how many optimizer steps to take.
        dtype: the parameter dtype.

    Returns:
        A ``(steps + 1, 2)`` tensor: the start, then the point after each step. Iterates that
        diverge are kept as they are (inf or nan), so a plot can show where it went wrong.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    point = torch.tensor(start, dtype=dtype, requires_grad=True)
    optimizer = make_optimizer([point])

    def closure() -> Tensor:
        optimizer.zero_grad()
        value = fn(point)
        value.backward()
        return value

    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.step(closure)
        path.append(point.detach().clone())
    return torch.stack(path)


def grid(surface: Surface, resolution: int = 200) -> tuple[Tensor, Tensor, Tensor]:
    """Evaluate a surface on a regular grid over its plotting box.

    Returns:
        ``(X, Y, Z)``, each of shape ``(resolution, resolution)``, ready for ``contour``.
    """
    xs = torch.linspace(*surface.xlim, resolution, dtype=torch.float64)
    ys = torch.linspace(*surface.ylim, resolution, dtype=torch.float64)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    Z = surface.fn(torch.stack([X, Y], dim=-1))
    return X, Y, Z
