"""Damped Newton against scipy (linear solves, a logistic-regression optimum) and torch Hessians."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import torch
from sklearn.datasets import load_breast_cancer

from course_lib.optim.newton import Newton, damped_newton_direction, gradient_and_hessian


def quadratic(seed: int = 0):
    """f = x^T A x / 2 - b^T x + x^T c x... over two tensors (a 3x2 matrix and a 4-vector)."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(10, 10, generator=gen, dtype=torch.float64)
    a = q @ q.T + 0.5 * torch.eye(10, dtype=torch.float64)
    b = torch.randn(10, generator=gen, dtype=torch.float64)
    w = torch.randn(3, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    v = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)

    def loss():
        x = torch.cat([w.reshape(-1), v])
        return 0.5 * x @ a @ x - b @ x

    return a, b, [w, v], loss


@pytest.mark.parametrize(("lr", "damping"), [(1.0, 0.0), (0.5, 0.0), (1.0, 1e-3)])
def test_step_on_a_quadratic_matches_scipy_solve(lr, damping, device):
    a, b, params, _ = quadratic()
    x0 = torch.cat([p.detach().reshape(-1) for p in params]).numpy()
    a_np, b_np = a.numpy(), b.numpy()
    # theta - lr (A + damping I)^{-1} (A theta - b); with lr=1, damping=0 this is A^{-1} b
    expected = x0 - lr * scipy.linalg.solve(a_np + damping * np.eye(10), a_np @ x0 - b_np)
    params = [p.detach().to(device).requires_grad_(True) for p in params]
    a, b = a.to(device), b.to(device)

    def closure():
        x = torch.cat([params[0].reshape(-1), params[1]])
        return 0.5 * x @ a @ x - b @ x

    opt = Newton(params, lr=lr, damping=damping)
    opt.step(closure)
    got = torch.cat([p.detach().reshape(-1) for p in params]).cpu().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    if lr == 1.0 and damping == 0.0:  # exactly the minimiser
        np.testing.assert_allclose(got, scipy.linalg.solve(a_np, b_np), rtol=1e-10, atol=1e-12)
    assert opt.state[params[0]]["damping"] == damping
    torch.testing.assert_close(  # grad holds the gradient at the starting point
        torch.cat([p.grad.reshape(-1) for p in params]).cpu(), a.cpu() @ torch.tensor(x0) - b.cpu()
    )


def test_hessian_of_plain_tensors_equals_torch_autograd_functional():
    _, _, params, _ = quadratic(seed=1)
    w, v = params

    def f(flat):  # the same loss plus a non-quadratic term, as a function of one flat vector
        ww, vv = flat[:6].reshape(3, 2), flat[6:]
        return torch.sin(ww).sum() * vv.pow(3).sum() + (ww @ ww.T).trace() * vv[0]

    flat = torch.cat([w.detach().reshape(-1), v.detach()])
    expected = torch.autograd.functional.hessian(f, flat)
    g, h = gradient_and_hessian(f(torch.cat([w.reshape(-1), v])), [w, v])
    torch.testing.assert_close(h, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g, torch.func.grad(f)(flat), rtol=1e-10, atol=1e-12)


# torch.func.hessian (jacfwd) imports torch's jvp decompositions, which call the deprecated
# torch.jit.script: torch's own warning, not ours.
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_hessian_of_a_module_equals_torch_func_hessian():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    model.double()
    x, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64)
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def f(flat):  # loss as a function of the flattened parameters, via functional_call
        chunks = torch.split(flat, sizes)
        tensors = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes, strict=True)}
        out = torch.func.functional_call(model, tensors, (x,))
        return torch.nn.functional.mse_loss(out, y)

    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    expected = torch.func.hessian(f)(flat)
    _, h = gradient_and_hessian(torch.nn.functional.mse_loss(model(x), y), list(model.parameters()))
    torch.testing.assert_close(h, expected, rtol=1e-10, atol=1e-12)


STEPS = 8


def test_logistic_regression_reaches_scipy_optimum_in_few_steps():
    data = load_breast_cancer()
    x = (data.data - data.data.mean(0)) / data.data.std(0)
    x = np.hstack([x, np.ones((x.shape[0], 1))])  # intercept column
    y = data.target.astype(np.float64)
    lam = 1e-2  # L2 on the weights (not the intercept): a unique, finite optimum

    def objective_np(w):
        z = x @ w
        loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * np.sum(w[:-1] ** 2)
        p = scipy.special.expit(z)
        grad = x.T @ (p - y) / len(y) + lam * np.append(w[:-1], 0.0)
        return loss, grad

    def hess_np(w):
        p = scipy.special.expit(x @ w)
        return (x.T * (p * (1 - p))) @ x / len(y) + lam * np.diag(np.append(np.ones(30), 0.0))

    # BFGS is the reference the course compares with; trust-exact (exact Hessian, trust region)
    # pins the optimum more tightly still, to check the Newton iterates' last digits.
    start = np.zeros(31)
    bfgs = scipy.optimize.minimize(
        objective_np, start, jac=True, method="BFGS", options={"gtol": 1e-10, "maxiter": 1000}
    )
    exact = scipy.optimize.minimize(
        objective_np, start, jac=True, hess=hess_np, method="trust-exact", options={"gtol": 1e-12}
    )
    assert np.linalg.norm(bfgs.jac) < 1e-8 and np.linalg.norm(exact.jac) < 1e-11

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    w = torch.zeros(31, dtype=torch.float64, requires_grad=True)
    opt = Newton([w], damping=1e-6)

    def closure():
        z = xt @ w
        bce = torch.nn.functional.binary_cross_entropy_with_logits(z, yt)
        return bce + 0.5 * lam * w[:-1].pow(2).sum()

    for _ in range(STEPS):
        opt.step(closure)
    np.testing.assert_allclose(w.detach().numpy(), bfgs.x, rtol=0, atol=1e-6)
    np.testing.assert_allclose(w.detach().numpy(), exact.x, rtol=0, atol=1e-9)


def test_saddle_gets_a_descent_step_with_raised_damping():
    """f = x^2 - y^2 at (0.1, 1): H = diag(2, -2). The plain Newton step jumps to the saddle
    (0, 0) and *raises* f; the damped step has lambda > 2 and lowers it."""
    z = torch.tensor([0.1, 1.0], dtype=torch.float64, requires_grad=True)

    def f(v):
        return v[0] ** 2 - v[1] ** 2

    g = torch.tensor([0.2, -2.0], dtype=torch.float64)
    h = torch.diag(torch.tensor([2.0, -2.0], dtype=torch.float64))
    newton_point = z.detach() - torch.linalg.solve(h, g)
    assert f(newton_point) > f(z.detach())  # the undamped step goes uphill, onto the saddle

    opt = Newton([z], damping=1e-3)
    before = f(z.detach()).item()
    opt.step(lambda: f(z))
    lam = opt.state[z]["damping"]
    assert lam > 2.0 and lam == pytest.approx(1e-3 * 10**4)
    assert f(z.detach()).item() < before
    expected = torch.tensor([0.1, 1.0], dtype=torch.float64) - torch.from_numpy(
        scipy.linalg.solve(h.numpy() + lam * np.eye(2), g.numpy())
    )
    torch.testing.assert_close(z.detach(), expected, rtol=1e-12, atol=1e-14)


def test_damping_from_zero_on_a_singular_hessian_and_unused_parameters():
    used = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    unused = torch.tensor([5.0], dtype=torch.float64, requires_grad=True)
    opt = Newton([used, unused], damping=0.0)
    opt.step(lambda: (used**2).sum())
    assert opt.state[used]["damping"] > 0
    assert unused.item() == 5.0 and torch.equal(unused.grad, torch.zeros(1, dtype=torch.float64))
    assert used.abs().max() < 1e-6  # nearly the Newton step, the damping is tiny


def test_direction_fails_clearly_on_a_non_finite_hessian():
    h = torch.tensor([[float("nan"), 0.0], [0.0, 1.0]], dtype=torch.float64)
    with pytest.raises(RuntimeError, match="not finite"):
        damped_newton_direction(torch.ones(2, dtype=torch.float64), h, 1e-3)


def test_closure_misuse_is_reported():
    w = torch.ones(2, dtype=torch.float64, requires_grad=True)
    opt = Newton([w])
    with pytest.raises(TypeError, match="closure"):
        opt.step(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="graph"):
        opt.step(lambda: (w**2).sum().detach())

    def calls_backward():
        loss = (w**2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="backward"):
        opt.step(calls_backward)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lr": -1.0}, "lr"),
        ({"damping": -1e-3}, "damping"),
        ({"damping": float("inf")}, "damping"),
        ({"damping_growth": 1.0}, "damping_growth"),
        ({"max_numel": 0}, "max_numel"),
        ({"max_numel": 1}, "max_numel"),
    ],
)
def test_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Newton([torch.zeros(2, requires_grad=True)], **kwargs)


def test_one_param_group_only():
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    with pytest.raises(ValueError, match="single parameter group"):
        Newton([{"params": [a]}, {"params": [b]}])
