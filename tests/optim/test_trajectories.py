"""course_lib.optim.trajectories against hand-written references (loops, formulas, torch.optim)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib import optim
from course_lib.optim.trajectories import (
    gaps,
    path_difference,
    record_state,
    run_lr_grid,
    run_update_rule,
    steps_to_tolerance,
    trajectory_difference,
    tune_learning_rate,
)
from course_lib.testfunctions import (
    SURFACES,
    ill_conditioned_quadratic,
    rosenbrock,
    run_trajectory,
)


def quadratic_gd_path(lr: float, steps: int, start=(-4.0, 1.5), kappa: float = 20.0) -> np.ndarray:
    """Gradient descent on diag(1, kappa)/2 in closed form: x_t = (1 - lr * h)^t x_0."""
    h = np.array([1.0, kappa])
    t = np.arange(steps + 1)[:, None]
    return np.asarray(start)[None, :] * (1 - lr * h)[None, :] ** t


def test_gaps_matches_formula_and_marks_divergence() -> None:
    path = torch.tensor([[1.0, 2.0], [0.0, 0.0], [math.nan, 1.0], [1e200, 1e200]])
    got = gaps(path, rosenbrock, min_value=0.0)
    expected = [(1 - 1.0) ** 2 + 100 * (2.0 - 1.0) ** 2, 1.0, math.inf, math.inf]
    assert got.tolist() == pytest.approx(expected)


@pytest.mark.parametrize("tol", [1e-2, 1e-6, 1e-12])
def test_steps_to_tolerance_against_a_loop(tol: float) -> None:
    gen = torch.Generator().manual_seed(0)
    # A gap that decays while oscillating: it touches tolerances early and leaves them again.
    t = torch.arange(80, dtype=torch.float64)
    scale = 0.8**t * (1.5 + torch.cos(2.1 * t)) + 1e-3 * torch.rand(80, generator=gen) * 0.5**t
    path = torch.stack([scale.sqrt() * math.sqrt(2), torch.zeros(80, dtype=torch.float64)], 1)
    values = (0.5 * path[:, 0] ** 2).numpy()
    expected = None
    for start in range(len(values)):
        if all(v <= tol for v in values[start:]):
            expected = start
            break
    got = steps_to_tolerance(path, lambda x: ill_conditioned_quadratic(x, 20.0), 0.0, tol)
    assert got == expected


def test_steps_to_tolerance_none_when_not_reached_and_zero_when_started_there() -> None:
    path = torch.tensor(quadratic_gd_path(0.01, 5))
    assert steps_to_tolerance(path, ill_conditioned_quadratic, tol=1e-6) is None
    assert steps_to_tolerance(torch.zeros(4, 2), ill_conditioned_quadratic) == 0


def test_trajectory_difference_zero_for_the_same_rule_and_large_for_another() -> None:
    surface = SURFACES["rosenbrock"]
    same = trajectory_difference(
        lambda p: optim.Adam(p, lr=0.01),
        lambda p: torch.optim.Adam(p, lr=0.01),
        surface.fn,
        surface.start,
        50,
    )
    assert same < 1e-12
    other = trajectory_difference(
        lambda p: optim.Adam(p, lr=0.01),
        lambda p: torch.optim.Adam(p, lr=0.02),
        surface.fn,
        surface.start,
        50,
    )
    assert other > 1e-3


def test_trajectory_difference_against_closed_form_gd() -> None:
    # Both GD; one factory with a different lr: the difference is the closed-form one.
    steps = 30
    a, b = quadratic_gd_path(0.05, steps), quadratic_gd_path(0.04, steps)
    expected = np.max(np.abs(a - b).max(1) / np.maximum(1.0, np.abs(b).max(1)))
    got = trajectory_difference(
        lambda p: torch.optim.SGD(p, lr=0.05),
        lambda p: torch.optim.SGD(p, lr=0.04),
        ill_conditioned_quadratic,
        (-4.0, 1.5),
        steps,
    )
    assert got == pytest.approx(expected, rel=1e-12)


def test_trajectory_difference_is_inf_when_one_diverges() -> None:
    got = trajectory_difference(
        lambda p: torch.optim.SGD(p, lr=0.5),  # lr * kappa = 10 > 2: diverges
        lambda p: torch.optim.SGD(p, lr=0.05),
        ill_conditioned_quadratic,
        (-4.0, 1.5),
        400,
    )
    assert got == math.inf


def test_record_state_matches_adam_moments_from_the_formula() -> None:
    beta1, beta2, steps = 0.9, 0.99, 25
    path, history = record_state(
        lambda p: torch.optim.Adam(p, lr=0.1, betas=(beta1, beta2)),
        ill_conditioned_quadratic,
        (-4.0, 1.5),
        steps,
        ["exp_avg", "exp_avg_sq"],
    )
    x = path.numpy()
    grads = x[:-1] * np.array([1.0, 20.0])  # gradient of the axis-aligned quadratic
    m, v = np.zeros(2), np.zeros(2)
    for t in range(steps):
        m = beta1 * m + (1 - beta1) * grads[t]
        v = beta2 * v + (1 - beta2) * grads[t] ** 2
        np.testing.assert_allclose(history["exp_avg"][t].numpy(), m, rtol=1e-12)
        np.testing.assert_allclose(history["exp_avg_sq"][t].numpy(), v, rtol=1e-12)
    assert history["exp_avg"].shape == (steps, 2)


def test_record_state_names_a_missing_key() -> None:
    with pytest.raises(KeyError, match="exp_avg"):
        record_state(
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5),
            ill_conditioned_quadratic,
            (1.0, 1.0),
            2,
            ["exp_avg"],
        )


def test_tune_learning_rate_picks_what_a_by_hand_search_picks() -> None:
    surface = SURFACES["rosenbrock"]
    lrs = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
    steps = 150
    result = tune_learning_rate(
        lambda p, lr: optim.Adam(p, lr=lr), surface.fn, surface.start, steps, lrs
    )
    # By hand, with torch's Adam and the formula of Rosenbrock's function.
    finals = {}
    for lr in lrs:
        w = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([w], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            ((1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2).backward()
            opt.step()
        x, y = w.detach().tolist()
        finals[lr] = (1 - x) ** 2 + 100 * (y - x**2) ** 2
    assert min(finals.values()) > 1e-6  # no ties in this setting: the smallest gap wins
    assert result.lr == min(finals, key=finals.get)
    assert result.final_gaps == pytest.approx(finals, rel=1e-9)
    assert result.final_gap == pytest.approx(finals[result.lr], rel=1e-9)
    assert result.path.shape == (steps + 1, 2)


def test_tune_learning_rate_breaks_ties_by_speed_and_survives_divergence() -> None:
    # GD on the quadratic: every stable lr ends within tol after 400 steps; the fastest wins.
    # Closed form: the slow direction contracts by |1 - lr|, the fast one by |1 - 20 lr|, so
    # among these lrs the best is the largest stable one below 2/21, and 0.2 diverges.
    lrs = [0.02, 0.05, 0.09, 0.2]
    result = tune_learning_rate(
        lambda p, lr: torch.optim.SGD(p, lr=lr), ill_conditioned_quadratic, (-4.0, 1.5), 400, lrs
    )
    assert result.lr == 0.09
    assert result.final_gaps[0.2] == math.inf
    path = quadratic_gd_path(0.09, 400)
    values = 0.5 * (path[:, 0] ** 2 + 20 * path[:, 1] ** 2)
    assert result.steps_to_tol == int(np.argmax(values <= 1e-6))


def test_tune_learning_rate_rejects_an_empty_grid() -> None:
    with pytest.raises(ValueError, match="lrs"):
        tune_learning_rate(lambda p, lr: torch.optim.SGD(p, lr=lr), rosenbrock, (0, 0), 1, [])


def test_path_difference_by_hand() -> None:
    b = torch.tensor([[0.0, 0.5], [10.0, -20.0], [math.inf, 1.0]])
    a = torch.tensor([[0.25, 0.5], [10.0, -19.0], [math.inf, 1.0]])
    # Row 0: |0.25| / max(1, 0.5); row 1: 1 / 20; row 2: equal infinities count as equal.
    assert path_difference(a, b) == pytest.approx(0.25)
    assert path_difference(b, b) == 0.0
    nan_row = torch.tensor([[0.0, 0.5], [10.0, -20.0], [math.nan, 1.0]])
    assert path_difference(nan_row, b) == math.inf
    with pytest.raises(ValueError, match="shapes"):
        path_difference(a, b[:2])


def heavy_ball(theta, grad, state, *, lr, momentum):
    """Polyak's form: theta + momentum * (theta - previous) - lr * grad."""
    previous = state.get("previous", theta)
    state["previous"] = theta
    return theta - lr * grad + momentum * (theta - previous)


@pytest.mark.parametrize("name", ["quadratic", "rosenbrock", "saddle"])
def test_run_update_rule_follows_torch_sgd(name: str) -> None:
    surface = SURFACES[name]
    lr = {"quadratic": 0.05, "rosenbrock": 1e-3, "saddle": 0.05}[name]
    ours = run_update_rule(heavy_ball, surface.fn, surface.start, 60, lr=lr, momentum=0.8)
    ref = run_trajectory(
        lambda p: torch.optim.SGD(p, lr=lr, momentum=0.8), surface.fn, surface.start, 60
    )
    assert ours.shape == (61, 2)
    assert ours.dtype == torch.float64
    assert path_difference(ours, ref) < 1e-12


GRID_FACTORIES = {
    "SGD": lambda groups, lr: torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True),
    "Adagrad": lambda groups, lr: torch.optim.Adagrad(groups, lr=lr),
    "RMSprop": lambda groups, lr: torch.optim.RMSprop(groups, lr=lr, centered=True),
    "Adam": lambda groups, lr: torch.optim.Adam(groups, lr=lr),
    "AdamW": lambda groups, lr: optim.AdamW(groups, lr=lr),
    "RAdam": lambda groups, lr: optim.RAdam(groups, lr=lr),
    "NAdam": lambda groups, lr: optim.NAdam(groups, lr=lr),
    "Lookahead": lambda groups, lr: optim.Lookahead(optim.Adam(groups, lr=lr), k=3),
}


@pytest.mark.parametrize("name", sorted(GRID_FACTORIES))
def test_run_lr_grid_equals_separate_runs(name: str) -> None:
    make = GRID_FACTORIES[name]
    lrs = [1e-3, 0.03, 0.3, 3.0]  # the largest diverges for some: it must not leak into others
    for surface in SURFACES.values():
        grid = run_lr_grid(make, surface.fn, surface.start, 40, lrs)
        assert grid.shape == (len(lrs), 41, 2)
        for i, lr in enumerate(lrs):
            single = run_trajectory(lambda p, lr=lr: make(p, lr), surface.fn, surface.start, 40)
            assert path_difference(grid[i], single) == 0.0, (name, surface.name, lr)


def test_tune_learning_rate_batched_equals_separate() -> None:
    surface = SURFACES["saddle"]
    lrs = [0.01, 0.1, 0.5]
    separate = tune_learning_rate(
        lambda p, lr: torch.optim.RMSprop(p, lr=lr), surface.fn, surface.start, 60, lrs, -1.0
    )
    batched = tune_learning_rate(
        lambda p, lr: torch.optim.RMSprop(p, lr=lr),
        surface.fn,
        surface.start,
        60,
        lrs,
        -1.0,
        batched=True,
    )
    assert batched.lr == separate.lr
    assert batched.final_gaps == separate.final_gaps
    assert path_difference(batched.path, separate.path) == 0.0


def test_run_lr_grid_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="lrs"):
        run_lr_grid(GRID_FACTORIES["Adam"], rosenbrock, (0.0, 0.0), 3, [])
    with pytest.raises(ValueError, match="steps"):
        run_lr_grid(GRID_FACTORIES["Adam"], rosenbrock, (0.0, 0.0), -1, [0.1])
