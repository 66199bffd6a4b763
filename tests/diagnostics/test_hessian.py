"""Hessian-vector products, eigenvalues and trace against dense Hessians (float64)."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.diagnostics import (
    HessianOperator,
    full_hessian,
    functional_loss,
    hessian_eigenpairs,
    hessian_top_eigenvalues,
    hessian_trace,
    hvp,
)
from course_lib.diagnostics._flat import flatten, unflatten
from tests.diagnostics.helpers import assembled_hessian, regression_problem, small_mlp
from tests.diagnostics.test_spectrum import SPECTRUM, symmetric_with_spectrum


@pytest.fixture(scope="module")
def problem():
    model, loss_of, loss_fn, params = regression_problem()
    return model, loss_of, loss_fn, params, assembled_hessian(loss_fn, params)


def test_functional_loss_matches_the_model_and_leaves_it_alone(problem):
    model, loss_of, loss_fn, params, _ = problem
    before = [p.detach().clone() for p in model.parameters()]
    loss = loss_of(model)
    loss.backward()
    leaves = [p.clone().requires_grad_() for p in params]
    grads = torch.autograd.grad(loss_fn(*leaves), leaves)
    assert loss_fn(*params).item() == pytest.approx(loss.item(), rel=1e-15)
    for g, p in zip(grads, model.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad, rtol=1e-12, atol=1e-15)
    shifted = tuple(p + 1.0 for p in params)
    assert loss_fn(*shifted).item() != pytest.approx(loss.item())
    for b, p in zip(before, model.parameters(), strict=True):
        assert torch.equal(b, p)
    model.zero_grad()


@pytest.mark.parametrize("backend", ["autograd", "func"])
def test_hvp_equals_full_hessian_times_v(problem, backend):
    _, _, loss_fn, params, H = problem
    gen = torch.Generator().manual_seed(0)
    v = tuple(torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params)
    Hv = hvp(loss_fn, params, v, backend=backend)
    assert [h.shape for h in Hv] == [p.shape for p in params]
    torch.testing.assert_close(flatten(Hv), H @ flatten(v), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["autograd", "func"])
def test_hessian_operator_matches_the_dense_hessian(problem, backend):
    _, _, loss_fn, params, H = problem
    op = HessianOperator(loss_fn, params, backend=backend)
    V = torch.randn(op.dim, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    HV = torch.stack([op(V[:, i]) for i in range(3)], dim=1)
    torch.testing.assert_close(HV, H @ V, rtol=1e-10, atol=1e-12)
    assert op.matvecs == 3


def test_full_hessian_matches_autograd_functional(problem):
    _, _, loss_fn, params, H = problem
    ours = full_hessian(loss_fn, params)
    assert ours.shape == (275, 275)
    torch.testing.assert_close(ours, H, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ours, ours.T, rtol=1e-10, atol=1e-12)


def test_func_backend_with_and_without_the_mse_loss_fallback(problem):
    # F.mse_loss takes the reverse-over-reverse fallback (pytorch/pytorch#123996); the same loss
    # written out takes forward-over-reverse. Both give H v.
    model, _, _, params, H = problem
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(32, 3, generator=gen, dtype=torch.float64)
    v = tuple(torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params)
    for loss_of in (lambda m: F.mse_loss(m(x), y), lambda m: ((m(x) - y) ** 2).mean()):
        loss_fn, params = functional_loss(model, loss_of)
        H = full_hessian(loss_fn, params)
        Hv = hvp(loss_fn, params, v, backend="func")
        torch.testing.assert_close(flatten(Hv), H @ flatten(v), rtol=1e-10, atol=1e-12)


def test_hvp_when_the_loss_is_linear_in_a_parameter():
    # d(loss)/da = w does not depend on a: that gradient has no graph to differentiate again.
    def loss_fn(a, w):
        return (a * w).sum() + (w**3).sum()

    a = torch.tensor([1.0, 2.0], dtype=torch.float64)
    w = torch.tensor([0.5, -1.0], dtype=torch.float64)
    v = (
        torch.tensor([1.0, 0.0], dtype=torch.float64),
        torch.tensor([0.0, 1.0], dtype=torch.float64),
    )
    H = assembled_hessian(loss_fn, (a, w))
    for backend in ("autograd", "func"):
        torch.testing.assert_close(
            flatten(hvp(loss_fn, (a, w), v, backend=backend)), H @ flatten(v)
        )
    unused = torch.zeros(3, dtype=torch.float64)  # not used by the loss: zero Hessian rows
    Hv = hvp(lambda a, w, u: loss_fn(a, w), (a, w, unused), (*v, torch.ones(3)))
    assert torch.equal(Hv[2], torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="backend"):
        hvp(loss_fn, (a, w), v, backend="finite-differences")


def test_top_eigenvalues_of_a_quadratic_with_known_spectrum():
    A, _ = symmetric_with_spectrum(SPECTRUM)

    def loss_fn(w):
        return 0.5 * w @ A @ w

    w = torch.zeros(len(SPECTRUM), dtype=torch.float64)
    power = hessian_top_eigenvalues(loss_fn, [w], k=3, method="power", iters=3000, tol=1e-14)
    lanczos = hessian_top_eigenvalues(loss_fn, [w], k=3, method="lanczos", iters=40)
    expected = torch.tensor
    torch.testing.assert_close(
        power, expected([5.0, -4.0, 3.0], dtype=torch.float64), rtol=1e-6, atol=0
    )
    torch.testing.assert_close(
        lanczos, expected([5.0, 3.0, 2.0], dtype=torch.float64), rtol=1e-6, atol=0
    )


def test_top_eigenvalues_of_a_small_network(problem):
    _, _, loss_fn, params, H = problem
    exact = torch.linalg.eigvalsh(H)
    by_magnitude = exact[exact.abs().argsort(descending=True)][:3]
    largest = exact.flip(0)[:3]
    power = hessian_eigenpairs(loss_fn, params, k=3, method="power", iters=5000, tol=1e-14)
    lanczos = hessian_eigenpairs(loss_fn, params, k=3, method="lanczos", iters=150)
    assert power.converged and lanczos.converged
    torch.testing.assert_close(power.values, by_magnitude, rtol=1e-6, atol=0)
    torch.testing.assert_close(lanczos.values, largest, rtol=1e-6, atol=0)
    # The eigenvectors satisfy H u = lambda u (flat, in the order of params).
    for result in (power, lanczos):
        residual = result.vectors @ H - result.values[:, None] * result.vectors
        assert residual.norm(dim=1).max() < 1e-4 * result.values.abs().max()
    with pytest.raises(ValueError, match="method"):
        hessian_top_eigenvalues(loss_fn, params, method="arnoldi")


def test_lanczos_eigenvalues_on_a_classification_network():
    model = small_mlp(seed=4)
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(40, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=gen)
    loss_fn, params = functional_loss(model, lambda m: F.cross_entropy(m(x), y))
    exact = torch.linalg.eigvalsh(full_hessian(loss_fn, params)).flip(0)[:4]
    ours = hessian_top_eigenvalues(loss_fn, params, k=4, method="lanczos", iters=150, seed=3)
    torch.testing.assert_close(ours, exact, rtol=1e-6, atol=0)


def test_hutchinson_trace_of_a_network_hessian(problem):
    _, _, loss_fn, params, H = problem
    samples = 1500
    est = hessian_trace(loss_fn, params, samples=samples, seed=0)
    sigma = math.sqrt(2 * ((H**2).sum() - (H.diagonal() ** 2).sum()).item() / samples)
    assert abs(est.estimate - H.trace().item()) < 4 * sigma
    assert est.samples == samples


def test_flatten_round_trip():
    tensors = [torch.arange(6.0).reshape(2, 3), torch.arange(4.0)]
    flat = flatten(tensors)
    assert flat.shape == (10,)
    for a, b in zip(unflatten(flat, tensors), tensors, strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="cannot fill"):
        unflatten(torch.zeros(3), tensors)
