"""Measuring optimizers on the 2-D test functions: gaps, steps to tolerance, learning-rate search.

:func:`course_lib.testfunctions.run_trajectory` records the iterates of one run. The functions
here turn such runs into the numbers the book's optimizer chapters report:

* :func:`gaps`: the optimality gap :math:`f(x_t) - f^\\star` along a path (divergence is ``inf``);
* :func:`steps_to_tolerance`: after how many steps the gap falls below a tolerance for good;
* :func:`run_update_rule`: the path of an update rule written as a plain function (the short
  inline versions the chapters show), to compare with an optimizer class's path;
* :func:`path_difference` and :func:`trajectory_difference`: how far apart two paths, or two
  optimizers' paths, are (to check an inline version against course_lib and torch);
* :func:`record_state`: a path together with the history of optimizer state tensors (to plot,
  say, Adam's effective per-coordinate step sizes);
* :func:`run_lr_grid`: the paths of one optimizer for several learning rates at once, one
  parameter group per learning rate (several times faster than one run per rate);
* :func:`tune_learning_rate`: a small grid search over the learning rate, with the rule for
  "best" written down once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from course_lib.testfunctions import run_trajectory

__all__ = [
    "LRSearch",
    "UpdateRule",
    "gaps",
    "path_difference",
    "record_state",
    "run_lr_grid",
    "run_update_rule",
    "steps_to_tolerance",
    "trajectory_difference",
    "tune_learning_rate",
]

Function = Callable[[Tensor], Tensor]
OptimizerFactory = Callable[[list[Tensor]], torch.optim.Optimizer]
#: ``rule(theta, grad, state, **hyper) -> new theta``; ``state`` is a dict the rule may keep
#: anything in (it starts empty), ``theta`` and ``grad`` are plain tensors without autograd.
UpdateRule = Callable[..., Tensor]


def gaps(path: Tensor, fn: Function, min_value: float = 0.0) -> Tensor:
    """The optimality gap :math:`f(x_t) - f^\\star` at every iterate of ``path``.

    Args:
        path: iterates, shape ``(T, 2)`` (as :func:`~course_lib.testfunctions.run_trajectory`
            returns them).
        fn: the function (last input dimension 2).
        min_value: :math:`f^\\star`, the minimum value of ``fn``.

    Returns:
        A float64 tensor of shape ``(T,)``; iterates that diverged (non-finite point or value)
        get ``inf``, so that every comparison treats them as the worst possible.
    """
    with torch.no_grad():
        gap = (fn(path.to(torch.float64)) - min_value).to(torch.float64)
    return torch.where(torch.isfinite(gap), gap, torch.full_like(gap, math.inf))


def steps_to_tolerance(
    path: Tensor, fn: Function, min_value: float = 0.0, tol: float = 1e-6
) -> int | None:
    """The number of steps after which the gap stays at or below ``tol`` until the run ends.

    "Stays" matters for methods that oscillate (momentum overshoots): a path that touches the
    tolerance and leaves it again has not reached it yet.

    Args:
        path: iterates, shape ``(T, 2)``; ``path[0]`` is the start (step 0).
        fn: the function.
        min_value: its minimum value :math:`f^\\star`.
        tol: the tolerance on :math:`f(x_t) - f^\\star`.

    Returns:
        The smallest ``t`` with ``gap[s] <= tol`` for every ``s >= t``, or ``None`` if the last
        iterate is not within the tolerance.
    """
    above = (gaps(path, fn, min_value) > tol).nonzero()
    if len(above) == 0:
        return 0
    last_above = int(above[-1])
    return last_above + 1 if last_above + 1 < len(path) else None


def path_difference(a: Tensor, b: Tensor) -> float:
    """The largest difference between two paths, relative to the iterates of the second.

    :math:`\\max_t \\|a_t - b_t\\|_\\infty / \\max(1, \\|b_t\\|_\\infty)`: a relative error for
    large iterates and an absolute one near the origin. Entries that are equal (including the
    same infinity, or NaN in both) count as equal; anything else that is not finite gives
    ``inf``, so a path that diverges alone is infinitely far from one that does not.

    Args:
        a: iterates, shape ``(T, 2)`` (or any shape ``(T, d)``).
        b: the reference iterates, the same shape.

    Raises:
        ValueError: if the shapes differ.
    """
    if a.shape != b.shape:
        raise ValueError(f"paths of different shapes: {tuple(a.shape)} and {tuple(b.shape)}")
    a, b = a.to(torch.float64), b.to(torch.float64)
    same = (a == b) | (torch.isnan(a) & torch.isnan(b))
    diff = torch.where(same, torch.zeros_like(a), (a - b).abs())
    finite_b = torch.where(torch.isfinite(b), b.abs(), torch.zeros_like(b))
    scale = finite_b.amax(dim=1, keepdim=True).clamp(min=1.0)
    rel = diff / scale
    rel = torch.where(torch.isfinite(rel), rel, torch.full_like(rel, math.inf))
    return float(rel.max())


def trajectory_difference(
    make_a: OptimizerFactory,
    make_b: OptimizerFactory,
    fn: Function,
    start: tuple[float, float],
    steps: int,
) -> float:
    """:func:`path_difference` of two optimizers' paths, both run in float64 from ``start``.

    Args:
        make_a: builds the first optimizer from the parameter list.
        make_b: builds the second (the reference).
        fn: the function to minimise.
        start: the common starting point.
        steps: the number of steps.
    """
    a = run_trajectory(make_a, fn, start, steps)
    b = run_trajectory(make_b, fn, start, steps)
    return path_difference(a, b)


def run_update_rule(
    rule: UpdateRule,
    fn: Function,
    start: tuple[float, float],
    steps: int,
    **hyper: float | bool,
) -> Tensor:
    """The path of an update rule written as a function, in float64.

    At every step the gradient of ``fn`` at the current iterate is computed with autograd and
    ``rule(theta, grad, state, **hyper)`` returns the next iterate. This is how the chapters run
    their short inline versions of an algorithm, without an ``Optimizer`` class around them.

    Args:
        rule: the update rule (see :data:`UpdateRule`).
        fn: the function to minimise (last input dimension 2).
        start: the first iterate.
        steps: the number of steps.
        **hyper: hyperparameters passed to ``rule`` by name (``lr=0.1, momentum=0.9``).

    Returns:
        A ``(steps + 1, 2)`` tensor, like :func:`~course_lib.testfunctions.run_trajectory`.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    theta = torch.tensor(start, dtype=torch.float64)
    state: dict[str, object] = {}
    path = [theta.clone()]
    for _ in range(steps):
        x = theta.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(x), x)
        theta = rule(theta.detach().clone(), grad, state, **hyper).detach()
        path.append(theta.clone())
    return torch.stack(path)


def record_state(
    make_optimizer: OptimizerFactory,
    fn: Function,
    start: tuple[float, float],
    steps: int,
    keys: Sequence[str],
) -> tuple[Tensor, dict[str, Tensor]]:
    """Run like :func:`~course_lib.testfunctions.run_trajectory` and record optimizer state.

    Args:
        make_optimizer: builds the optimizer from the parameter list.
        fn: the function to minimise.
        start: the first iterate.
        steps: the number of steps.
        keys: state keys of the single parameter to copy after every step (torch's names,
            e.g. ``"exp_avg_sq"`` for Adam, ``"sum"`` for Adagrad, ``"momentum_buffer"``).

    Returns:
        ``(path, history)``: the ``(steps + 1, 2)`` iterates and, for each key, a tensor of
        shape ``(steps,) + state.shape`` whose row ``t - 1`` is the state after step ``t``.

    Raises:
        KeyError: if the optimizer keeps no state under one of ``keys``.
    """
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([point])

    def closure() -> Tensor:
        optimizer.zero_grad()
        value = fn(point)
        value.backward()
        return value

    path = [point.detach().clone()]
    history: dict[str, list[Tensor]] = {key: [] for key in keys}
    for _ in range(steps):
        optimizer.step(closure)
        path.append(point.detach().clone())
        state = optimizer.state[point]
        for key in keys:
            if key not in state:
                raise KeyError(f"{type(optimizer).__name__} keeps no state {key!r}")
            history[key].append(torch.as_tensor(state[key]).detach().clone())
    stacked = {
        key: torch.stack(values) if values else torch.empty(0) for key, values in history.items()
    }
    return torch.stack(path), stacked


def run_lr_grid(
    make_optimizer: Callable[[list[dict[str, object]], float], torch.optim.Optimizer],
    fn: Function,
    start: tuple[float, float],
    steps: int,
    lrs: Sequence[float],
) -> Tensor:
    """The paths of one optimizer for every learning rate of a grid, computed together.

    Each learning rate gets its own copy of ``start`` in its own parameter group (``{"params":
    [point], "lr": lr}``), and one optimizer steps them all on ``sum_i fn(point_i)``. The
    gradient of that sum with respect to ``point_i`` is exactly ``fn``'s gradient at
    ``point_i``, so for an optimizer that updates every parameter from its own gradient and
    state alone (every first-order optimizer of :mod:`course_lib.optim` and ``torch.optim``,
    and :class:`~course_lib.optim.Lookahead` around one) each path equals the separate run
    :func:`~course_lib.testfunctions.run_trajectory` would give, while the Python overhead of a
    step is paid once per step instead of once per learning rate. Not for optimizers that couple
    parameters, such as L-BFGS (one flat vector of all parameters) or a line search.

    Args:
        make_optimizer: builds the optimizer from a list of parameter groups and a default
            learning rate (each group's own ``"lr"`` overrides it), e.g.
            ``lambda groups, lr: torch.optim.Adam(groups, lr=lr)``.
        fn: the function to minimise (last input dimension 2).
        start: the first iterate, shared by all runs.
        steps: steps per run.
        lrs: the learning rates, at least one.

    Returns:
        A ``(len(lrs), steps + 1, 2)`` tensor: the path of each learning rate, in order.

    Raises:
        ValueError: if ``lrs`` is empty or ``steps`` is negative.
    """
    if len(lrs) == 0:
        raise ValueError("lrs must contain at least one learning rate")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    points = [torch.tensor(start, dtype=torch.float64, requires_grad=True) for _ in lrs]
    groups: list[dict[str, object]] = [
        {"params": [point], "lr": float(lr)} for point, lr in zip(points, lrs, strict=True)
    ]
    optimizer = make_optimizer(groups, float(lrs[0]))

    def closure() -> Tensor:
        optimizer.zero_grad()
        # One vectorised evaluation; stack's backward hands each point its own gradient.
        value = fn(torch.stack(points)).sum()
        value.backward()
        return value

    path = [torch.stack([p.detach().clone() for p in points])]
    for _ in range(steps):
        optimizer.step(closure)
        path.append(torch.stack([p.detach().clone() for p in points]))
    return torch.stack(path, dim=1)


@dataclass(frozen=True)
class LRSearch:
    """The result of :func:`tune_learning_rate`.

    Attributes:
        lr: the chosen learning rate.
        path: its iterates, shape ``(steps + 1, 2)``.
        final_gap: :math:`f(x_T) - f^\\star` at the last iterate (``inf`` if it diverged).
        steps_to_tol: :func:`steps_to_tolerance` of the chosen run (``None``: not reached).
        final_gaps: the final gap of every learning rate tried, ``{lr: gap}``.
    """

    lr: float
    path: Tensor
    final_gap: float
    steps_to_tol: int | None
    final_gaps: dict[float, float]


def tune_learning_rate(
    make_optimizer: Callable[[list[Tensor], float], torch.optim.Optimizer],
    fn: Function,
    start: tuple[float, float],
    steps: int,
    lrs: Sequence[float],
    min_value: float = 0.0,
    tol: float = 1e-6,
    batched: bool = False,
) -> LRSearch:
    """Grid search over the learning rate: the best final loss, ties broken by speed.

    Every learning rate runs ``steps`` steps from ``start``. The winner has the smallest final
    gap :math:`f(x_T) - f^\\star`; runs that end within ``tol`` count as equally good (their
    gaps below ``tol`` are rounding noise), and among them the one that reaches the tolerance
    for good in the fewest steps wins. Remaining ties go to the smaller learning rate.

    Args:
        make_optimizer: builds the optimizer from the parameter list and a learning rate, e.g.
            ``lambda p, lr: torch.optim.Adam(p, lr=lr)``.
        fn: the function to minimise.
        start: the first iterate.
        steps: steps per run.
        lrs: the learning rates to try (at least one).
        min_value: :math:`f^\\star`.
        tol: the tolerance on the gap.
        batched: run all learning rates together with :func:`run_lr_grid` (then
            ``make_optimizer`` receives parameter groups, each with its own ``"lr"``); only for
            optimizers that treat parameters independently. Otherwise one run per rate.

    Returns:
        The :class:`LRSearch` of the winner.

    Raises:
        ValueError: if ``lrs`` is empty.
    """
    if len(lrs) == 0:
        raise ValueError("lrs must contain at least one learning rate")
    if batched:
        paths = list(run_lr_grid(make_optimizer, fn, start, steps, lrs))  # type: ignore[arg-type]
    else:
        paths = [
            run_trajectory(lambda p, lr=lr: make_optimizer(p, lr), fn, start, steps) for lr in lrs
        ]
    best: tuple[tuple[float, float, float], LRSearch] | None = None
    final_gaps: dict[float, float] = {}
    for lr, path in zip(lrs, paths, strict=True):
        final_gap = float(gaps(path[-1:], fn, min_value)[0])
        reached = steps_to_tolerance(path, fn, min_value, tol)
        final_gaps[float(lr)] = final_gap
        key = (
            0.0 if final_gap <= tol else final_gap,
            math.inf if reached is None else float(reached),
            float(lr),
        )
        if best is None or key < best[0]:
            best = (key, LRSearch(float(lr), path, final_gap, reached, {}))
    assert best is not None
    winner = best[1]
    return LRSearch(winner.lr, winner.path, winner.final_gap, winner.steps_to_tol, final_gaps)
