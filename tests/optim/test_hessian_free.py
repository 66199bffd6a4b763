"""Hessian-free: curvature products against explicit matrices from torch.autograd.functional,
one step against a direct damped-Newton solve, and convergence against numpy's least squares."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.optim.hessian_free import HessianFree, curvature_product, gauss_newton_product


def mlp_problem(seed: int = 0, classes: int = 3):
    """A tiny tanh MLP (3 -> 4 -> classes) on 7 random examples, as plain tensors."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, classes, (7,), generator=gen)
    shapes = [(4, 3), (4,), (classes, 4), (classes,)]
    params = [
        torch.randn(s, generator=gen, dtype=torch.float64, requires_grad=True) for s in shapes
    ]

    def outputs_of(w1, b1, w2, b2):
        return torch.tanh(X @ w1.T + b1) @ w2.T + b2

    def loss_of(z):
        return F.cross_entropy(z, y)

    return params, outputs_of, loss_of


def explicit_matrices(params, outputs_of, loss_of):
    """The Hessian, and the Gauss-Newton matrix J^T H_l J, built entry by entry with torch."""
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    sizes = [p.numel() for p in params]

    def unflat(theta):
        return [t.view_as(p) for t, p in zip(torch.split(theta, sizes), params, strict=True)]

    def z_of(theta):
        return outputs_of(*unflat(theta)).reshape(-1)

    z = z_of(flat).detach()
    shape = outputs_of(*[p.detach() for p in params]).shape
    hess = torch.autograd.functional.hessian(lambda t: loss_of(z_of(t).view(shape)), flat)
    jac = torch.autograd.functional.jacobian(z_of, flat)  # (N C, n)
    h_loss = torch.autograd.functional.hessian(lambda u: loss_of(u.view(shape)), z)
    return hess, jac.T @ h_loss @ jac


@pytest.mark.parametrize("seed", [0, 1])
def test_products_match_explicit_hessian_and_gauss_newton(seed):
    params, outputs_of, loss_of = mlp_problem(seed)
    hess, ggn = explicit_matrices(params, outputs_of, loss_of)
    v = torch.randn(hess.shape[0], generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    for curvature, matrix in (("hessian", hess), ("gauss_newton", ggn)):
        z = outputs_of(*params)
        g, product = curvature_product(z, loss_of(z), params, curvature)
        torch.testing.assert_close(product(v), matrix @ v, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(product(2 * v), 2 * (matrix @ v), rtol=1e-10, atol=1e-12)
    grads = torch.autograd.grad(loss_of(outputs_of(*params)), params)
    torch.testing.assert_close(g, torch.cat([t.reshape(-1) for t in grads]))
    # The Gauss-Newton matrix is PSD; the Hessian of this network is not.
    assert float(torch.linalg.eigvalsh(ggn).min()) > -1e-12
    assert float(torch.linalg.eigvalsh(hess).min()) < 0


def test_gauss_newton_equals_hessian_for_a_linear_model_and_squared_error():
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(20, 5, generator=gen, dtype=torch.float64)
    y = torch.randn(20, generator=gen, dtype=torch.float64)
    w = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    z = X @ w
    product = gauss_newton_product(z, 0.5 * ((z - y) ** 2).mean(), [w])
    eye = torch.eye(5, dtype=torch.float64)
    g_matrix = torch.stack([product(e) for e in eye])
    torch.testing.assert_close(g_matrix, X.T @ X / 20)


def test_one_step_is_the_damped_newton_step_when_cg_runs_to_convergence():
    params, outputs_of, loss_of = mlp_problem(2)
    _, ggn = explicit_matrices(params, outputs_of, loss_of)
    x0 = torch.cat([p.detach().reshape(-1) for p in params])
    grads = torch.autograd.grad(loss_of(outputs_of(*params)), params)
    g = torch.cat([t.reshape(-1) for t in grads])
    lam = 0.1
    expected = x0 - torch.linalg.solve(ggn + lam * torch.eye(len(x0), dtype=torch.float64), g)
    opt = HessianFree(
        params, loss_of, damping=lam, adapt_damping=False, cg_max_iter=500, cg_rtol=1e-13,
        cg_progress_tol=0.0, line_search=False,
    )  # fmt: skip
    opt.step(lambda: outputs_of(*params))
    got = torch.cat([p.detach().reshape(-1) for p in params])
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)
    state = opt.state[params[0]]
    assert state["step"] == 1 and state["alpha"] == 1.0 and state["damping"] == lam
    torch.testing.assert_close(torch.cat([p.grad.reshape(-1) for p in params]), g)


def test_converges_to_the_least_squares_solution():
    gen = torch.Generator().manual_seed(4)
    X = torch.randn(50, 8, generator=gen, dtype=torch.float64)
    y = torch.randn(50, generator=gen, dtype=torch.float64)
    model = nn.Linear(8, 1).double()
    opt = HessianFree(model.parameters(), lambda z: F.mse_loss(z.squeeze(1), y), damping=1.0)
    opt.step(lambda: model(X))
    # On a quadratic the model is exact (G = H): the reduction ratio is 1, the damping shrinks.
    assert opt.state[model.weight]["rho"] == pytest.approx(1.0, rel=1e-9)
    assert opt.state[model.weight]["damping"] == pytest.approx(2.0 / 3.0)
    for _ in range(29):
        opt.step(lambda: model(X))
    design = np.hstack([X.numpy(), np.ones((50, 1))])
    solution, *_ = np.linalg.lstsq(design, y.numpy(), rcond=None)
    got = np.concatenate([model.weight.detach().numpy().ravel(), model.bias.detach().numpy()])
    np.testing.assert_allclose(got, solution, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("curvature", ["hessian", "gauss_newton"])
def test_training_a_network_decreases_the_loss_monotonically(curvature):
    torch.manual_seed(0)
    X = torch.randn(64, 4, dtype=torch.float64)
    y = (X[:, 0] * X[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    opt = HessianFree(model.parameters(), lambda z: F.cross_entropy(z, y), curvature=curvature)
    losses = [float(opt.step(lambda: model(X))) for _ in range(15)]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(losses))
    assert losses[-1] < 0.5 * losses[0]


def test_rejects_bad_arguments():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="curvature"):
        HessianFree([w], lambda z: z.sum(), curvature="fisher")
    with pytest.raises(ValueError, match="damping"):
        HessianFree([w], lambda z: z.sum(), damping=-1.0)
    with pytest.raises(ValueError, match="single parameter group"):
        HessianFree([{"params": [w]}, {"params": [torch.zeros(1, requires_grad=True)]}], sum)
    with pytest.raises(TypeError, match="closure"):
        HessianFree([w], lambda z: z.sum()).step(None)
