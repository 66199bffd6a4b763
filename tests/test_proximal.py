"""Proximal operators against their definition (a brute-force argmin) and the elastic-net
solver against scikit-learn's coordinate descent (``lasso_path``, ``enet_path``) and, for
ridge, against the closed form."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes
from sklearn.linear_model import enet_path, lasso_path

from course_lib.losses import elastic_net_penalty
from course_lib.proximal import (
    alpha_max,
    elastic_net_path,
    elastic_net_prox_grad,
    lipschitz_constant,
    prox_elastic_net,
    prox_l2,
    soft_threshold,
)


@pytest.fixture(scope="module")
def diabetes() -> tuple[torch.Tensor, torch.Tensor]:
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return torch.tensor(X), torch.tensor(y - y.mean())


def brute_force_prox(v: float, penalty, step: float) -> float:
    """argmin_w penalty(w) + (w - v)^2 / (2 step), on a fine grid refined once."""
    grid = torch.linspace(v - 5, v + 5, 200_001, dtype=torch.float64)
    obj = penalty(grid) + (grid - v) ** 2 / (2 * step)
    return float(grid[obj.argmin()])


@pytest.mark.parametrize("v", [-3.0, -0.4, 0.0, 0.2, 1.0, 2.5])
@pytest.mark.parametrize(("alpha", "l1_ratio", "step"), [(1.0, 1.0, 0.5), (0.7, 0.5, 1.0)])
def test_prox_elastic_net_is_the_argmin(v, alpha, l1_ratio, step):
    def penalty(w: torch.Tensor) -> torch.Tensor:
        return alpha * (l1_ratio * w.abs() + 0.5 * (1 - l1_ratio) * w * w)

    got = prox_elastic_net(torch.tensor([v], dtype=torch.float64), step, alpha, l1_ratio)
    assert float(got) == pytest.approx(brute_force_prox(v, penalty, step), abs=1e-4)


def test_prox_elastic_net_penalty_agrees_with_the_library_penalty():
    # The prox minimises step * elastic_net_penalty(w) + |w - v|^2 / 2: check stationarity
    # by autograd at the returned point, coordinate by coordinate away from zero.
    v = torch.tensor([-2.0, -0.1, 0.05, 1.5], dtype=torch.float64)
    step, alpha, rho = 0.8, 0.9, 0.3
    w = prox_elastic_net(v, step, alpha, rho).requires_grad_(True)
    obj = step * elastic_net_penalty(w, l1_ratio=rho, alpha=alpha) + 0.5 * ((w - v) ** 2).sum()
    (grad,) = torch.autograd.grad(obj, w)
    nonzero = w.detach() != 0
    assert torch.allclose(grad[nonzero], torch.zeros_like(grad[nonzero]), atol=1e-12)
    # At zero coordinates, 0 must be in the subdifferential: |v| <= step * alpha * rho.
    assert bool((v[~nonzero].abs() <= step * alpha * rho).all())


def test_soft_threshold_and_prox_l2_formulas():
    v = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=torch.float64)
    expected = torch.tensor([-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0], dtype=torch.float64)
    assert torch.equal(soft_threshold(v, 1.0), expected)
    assert torch.allclose(prox_l2(v, 0.25), v / 1.25)
    assert torch.equal(prox_elastic_net(v, 1.0, 1.0, 1.0), soft_threshold(v, 1.0))
    assert torch.allclose(prox_elastic_net(v, 2.0, 0.5, 0.0), prox_l2(v, 1.0))


def test_bad_arguments_raise():
    v = torch.ones(3)
    with pytest.raises(ValueError, match="tau"):
        soft_threshold(v, -1.0)
    with pytest.raises(ValueError, match="tau"):
        soft_threshold(v, torch.tensor([-1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="l1_ratio"):
        prox_elastic_net(v, 1.0, 1.0, 1.5)
    with pytest.raises(ValueError, match="step"):
        prox_elastic_net(v, 0.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="shape"):
        elastic_net_prox_grad(torch.ones(3, 2), torch.ones(4), 1.0)


def test_lipschitz_constant_is_the_top_hessian_eigenvalue(diabetes):
    X, _ = diabetes
    top = torch.linalg.eigvalsh(X.T @ X / X.shape[0]).max()
    assert lipschitz_constant(X) == pytest.approx(float(top), rel=1e-12)


def test_alpha_max_is_where_the_lasso_solution_vanishes(diabetes):
    X, y = diabetes
    a = alpha_max(X, y)
    assert torch.count_nonzero(elastic_net_prox_grad(X, y, a * 1.001).coef) == 0
    assert torch.count_nonzero(elastic_net_prox_grad(X, y, a * 0.99).coef) > 0


@pytest.mark.parametrize("accelerated", [True, False])
def test_lasso_path_matches_sklearn(diabetes, accelerated):
    X, y = diabetes
    alphas = alpha_max(X, y) * np.logspace(0, -2.5, 12)
    ours = elastic_net_path(
        X, y, torch.tensor(alphas), 1.0, accelerated=accelerated, max_iter=50_000
    )
    _, ref, _ = lasso_path(X.numpy(), y.numpy(), alphas=alphas, tol=1e-12, max_iter=100_000)
    assert np.abs(ours.numpy() - ref).max() < 1e-6 * np.abs(ref).max()
    # Same sparsity pattern (up to coordinates sklearn leaves at round-off size).
    assert np.array_equal(ours.numpy() != 0, np.abs(ref) > 1e-12)


def test_enet_path_matches_sklearn(diabetes):
    X, y = diabetes
    alphas = alpha_max(X, y, 0.5) * np.logspace(0, -2.5, 12)
    ours = elastic_net_path(X, y, torch.tensor(alphas), 0.5)
    _, ref, _ = enet_path(
        X.numpy(), y.numpy(), l1_ratio=0.5, alphas=alphas, tol=1e-12, max_iter=100_000
    )
    assert np.abs(ours.numpy() - ref).max() < 1e-6 * np.abs(ref).max()


def test_ridge_matches_the_closed_form(diabetes):
    X, y = diabetes
    n, d = X.shape
    for alpha in (0.01, 1.0, 30.0):
        ours = elastic_net_prox_grad(X, y, alpha, l1_ratio=0.0).coef
        closed = torch.linalg.solve(X.T @ X / n + alpha * torch.eye(d, dtype=X.dtype), X.T @ y / n)
        assert torch.allclose(ours, closed, rtol=1e-8, atol=1e-8)


def test_path_raises_when_it_cannot_converge(diabetes):
    X, y = diabetes
    with pytest.raises(RuntimeError, match="did not converge"):
        elastic_net_path(X, y, torch.tensor([0.01]), 1.0, max_iter=3)
