"""The 2-D test functions: values and minima from their formulas, and the trajectory runner."""

import math

import pytest
import torch

from course_lib.testfunctions import (
    SURFACES,
    grid,
    ill_conditioned_quadratic,
    rosenbrock,
    run_trajectory,
    saddle,
)


@pytest.mark.parametrize("key", sorted(SURFACES))
def test_minima_have_zero_gradient_and_the_stated_value(key):
    surface = SURFACES[key]
    for minimum in surface.minima:
        x = torch.tensor(minimum, dtype=torch.float64, requires_grad=True)
        value = surface(x)
        (grad,) = torch.autograd.grad(value, x)
        assert value.item() == pytest.approx(surface.min_value, abs=1e-12)
        assert torch.allclose(grad, torch.zeros(2, dtype=torch.float64), atol=1e-12)
        hessian = torch.autograd.functional.hessian(surface.fn, x.detach())
        assert torch.linalg.eigvalsh(hessian).min() > 0  # a strict local minimum


def test_quadratic_hessian_has_the_requested_condition_number_at_any_angle():
    for angle in (0.0, 0.3, math.pi / 4):
        h = torch.autograd.functional.hessian(
            lambda x, a=angle: ill_conditioned_quadratic(x, condition=7.0, angle=a),
            torch.zeros(2, dtype=torch.float64),
        )
        eig = torch.linalg.eigvalsh(h)
        assert eig.tolist() == pytest.approx([1.0, 7.0])


def test_saddle_is_a_saddle_and_rosenbrock_matches_scipy():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    h = torch.autograd.functional.hessian(saddle, torch.zeros(2, dtype=torch.float64))
    assert torch.linalg.eigvalsh(h).tolist() == pytest.approx([-2.0, 2.0])
    rng = torch.Generator().manual_seed(0)
    for _ in range(5):
        p = torch.randn(2, dtype=torch.float64, generator=rng)
        assert rosenbrock(p).item() == pytest.approx(scipy_optimize.rosen(p.numpy()), rel=1e-12)


def test_functions_broadcast_over_a_grid():
    X, Y, Z = grid(SURFACES["rosenbrock"], resolution=11)
    assert X.shape == Y.shape == Z.shape == (11, 11)
    assert Z[3, 4].item() == pytest.approx(rosenbrock(torch.stack([X[3, 4], Y[3, 4]])).item())


def test_run_trajectory_matches_hand_written_gradient_descent():
    lr, steps = 0.05, 30
    path = run_trajectory(
        lambda p: torch.optim.SGD(p, lr=lr), ill_conditioned_quadratic, (-4.0, 1.5), steps
    )
    assert path.shape == (steps + 1, 2)
    # Gradient descent on 0.5 (x^2 + 20 y^2) scales each coordinate by (1 - lr * eigenvalue).
    k = torch.arange(steps + 1, dtype=torch.float64)
    expected = torch.stack([-4.0 * (1 - lr) ** k, 1.5 * (1 - 20 * lr) ** k], dim=1)
    assert torch.allclose(path, expected, rtol=1e-12, atol=1e-15)


def test_run_trajectory_passes_a_closure_for_lbfgs():
    path = run_trajectory(
        lambda p: torch.optim.LBFGS(p, line_search_fn="strong_wolfe"), rosenbrock, (-1.5, 2.0), 5
    )
    assert rosenbrock(path[-1]).item() < 1e-8


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="steps"):
        run_trajectory(lambda p: torch.optim.SGD(p, lr=0.1), saddle, (0.0, 0.0), -1)
    with pytest.raises(ValueError, match="condition"):
        ill_conditioned_quadratic(torch.zeros(2), condition=0.5)
