"""Matrix-free solvers against explicit symmetric matrices with known spectra."""

import math

import pytest
import torch

from course_lib.diagnostics import hutchinson_trace, lanczos, power_iteration

# Largest magnitude: 5, -4, 3 (a negative one among them); largest algebraic: 5, 3, 2.
SPECTRUM = [5.0, -4.0, 3.0, 2.0, -1.5, 1.0, 0.5, 0.25, -0.1, 0.05] + [0.01 * i for i in range(30)]


def symmetric_with_spectrum(values, seed=0):
    gen = torch.Generator().manual_seed(seed)
    n = len(values)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return Q @ torch.diag(torch.tensor(values, dtype=torch.float64)) @ Q.T, Q


def test_power_iteration_finds_largest_magnitude_with_signs():
    A, Q = symmetric_with_spectrum(SPECTRUM)
    result = power_iteration(lambda v: A @ v, A.shape[0], k=3, iters=2000, tol=1e-14)
    assert result.converged
    torch.testing.assert_close(result.values, torch.tensor([5.0, -4.0, 3.0], dtype=torch.float64))
    # Eigenvectors: unit norm, parallel to the true ones (columns 0, 1, 2 of Q).
    overlaps = (result.vectors @ Q[:, :3]).abs().diagonal()
    torch.testing.assert_close(overlaps, torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-6)


def test_lanczos_finds_largest_algebraic():
    A, Q = symmetric_with_spectrum(SPECTRUM)
    result = lanczos(lambda v: A @ v, A.shape[0], k=3, iters=40, tol=1e-12)
    assert result.converged
    torch.testing.assert_close(result.values, torch.tensor([5.0, 3.0, 2.0], dtype=torch.float64))
    overlaps = (result.vectors @ Q[:, [0, 2, 3]]).abs().diagonal()
    torch.testing.assert_close(overlaps, torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-6)


def test_lanczos_with_full_krylov_space_is_exact():
    gen = torch.Generator().manual_seed(3)
    B = torch.randn(60, 60, generator=gen, dtype=torch.float64)
    A = B + B.T
    exact = torch.linalg.eigvalsh(A).flip(0)[:5]
    result = lanczos(lambda v: A @ v, 60, k=5, iters=60, tol=0.0)
    torch.testing.assert_close(result.values, exact, rtol=1e-10, atol=1e-10)
    assert result.matvecs == 60


def test_lanczos_stops_early_on_an_invariant_subspace():
    # Two distinct eigenvalues: the Krylov space has dimension 2 whatever the start vector.
    A = torch.diag(torch.tensor([3.0] * 10 + [1.0] * 10, dtype=torch.float64))
    result = lanczos(lambda v: A @ v, 20, k=2, iters=20)
    assert result.matvecs == 2
    assert result.converged
    torch.testing.assert_close(result.values, torch.tensor([3.0, 1.0], dtype=torch.float64))
    with pytest.raises(RuntimeError, match="distinct eigenvalues"):
        lanczos(lambda v: A @ v, 20, k=3, iters=20)
    with pytest.raises(ValueError, match="iters >= k"):
        lanczos(lambda v: A @ v, 20, k=3, iters=2)


def test_power_iteration_reports_non_convergence():
    A, _ = symmetric_with_spectrum([1.0, 0.999, 0.5, 0.1])
    result = power_iteration(lambda v: A @ v, 4, k=1, iters=5, tol=1e-14)
    assert not result.converged
    assert result.matvecs == 5


def test_power_iteration_on_a_null_direction():
    A = torch.diag(torch.tensor([2.0, 0.0], dtype=torch.float64))
    result = power_iteration(lambda v: A @ v, 2, k=2)
    torch.testing.assert_close(result.values, torch.tensor([2.0, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("solver", [power_iteration, lanczos])
def test_solvers_are_deterministic_given_a_seed(solver):
    A, _ = symmetric_with_spectrum(SPECTRUM, seed=1)
    a = solver(lambda v: A @ v, A.shape[0], k=2, iters=30, seed=7)
    b = solver(lambda v: A @ v, A.shape[0], k=2, iters=30, seed=7)
    assert torch.equal(a.values, b.values)
    assert torch.equal(a.vectors, b.vectors)


@pytest.mark.parametrize("solver", [power_iteration, lanczos])
def test_argument_checks(solver):
    with pytest.raises(ValueError, match="k must be"):
        solver(lambda v: v, 3, k=4)
    with pytest.raises(ValueError, match="iters"):
        solver(lambda v: v, 3, k=1, iters=0)


def test_hutchinson_is_exact_for_a_diagonal_matrix():
    d = torch.linspace(-3.0, 7.0, 25, dtype=torch.float64)
    for samples in (1, 5):
        est = hutchinson_trace(lambda v: d * v, 25, samples=samples)
        assert est.estimate == pytest.approx(d.sum().item(), rel=1e-14)
    assert est.std_error == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(hutchinson_trace(lambda v: d * v, 25, samples=1).std_error)


def test_hutchinson_is_within_its_statistical_error():
    A, _ = symmetric_with_spectrum(SPECTRUM, seed=2)
    samples = 4000
    est = hutchinson_trace(lambda v: A @ v, A.shape[0], samples=samples, seed=5)
    # Var(z^T A z) = 2 (||A||_F^2 - sum_i A_ii^2) for Rademacher z.
    sigma = math.sqrt(2 * ((A**2).sum() - (A.diagonal() ** 2).sum()).item() / samples)
    assert abs(est.estimate - A.trace().item()) < 4 * sigma
    assert est.std_error == pytest.approx(sigma, rel=0.1)
    with pytest.raises(ValueError, match="samples"):
        hutchinson_trace(lambda v: v, 3, samples=0)
