"""Conjugate gradient against scipy.sparse.linalg.cg and direct solves."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse.linalg
import torch

from course_lib.optim.conjugate_gradient import conjugate_gradient


def spd(n: int, condition: float, seed: int = 0) -> torch.Tensor:
    """A symmetric positive-definite matrix with eigenvalues spread over [1, condition]."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    eig = torch.logspace(0, np.log10(condition), n, dtype=torch.float64)
    return q @ torch.diag(eig) @ q.T


@pytest.mark.parametrize(("n", "condition"), [(5, 10.0), (40, 1e3), (100, 1e2)])
def test_solves_like_a_direct_solve(n, condition):
    a = spd(n, condition)
    b = torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    result = conjugate_gradient(lambda v: a @ v, b, rtol=1e-12)
    expected = scipy.linalg.solve(a.numpy(), b.numpy(), assume_a="pos")
    np.testing.assert_allclose(result.x.numpy(), expected, rtol=1e-8, atol=1e-10)
    assert result.converged and not result.negative_curvature
    assert result.matvecs == result.iterations  # from zero: one product per iteration
    assert result.residual_norms[-1] <= 1e-12 * float(b.norm())
    # phi(x) decreases monotonically to its minimum -b^T A^{-1} b / 2
    assert all(np.diff(result.objective) <= 1e-12)
    assert result.objective[-1] == pytest.approx(-0.5 * float(b @ torch.tensor(expected)))


def test_iterates_match_scipy_cg_step_by_step():
    a = spd(30, 1e3, seed=2)
    b = torch.randn(30, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    # CG's rounding errors grow with the iterations (the directions lose conjugacy), so two
    # correct implementations agree to rounding only over the first several iterations.
    for k in (1, 3, 7, 10):
        ours = conjugate_gradient(lambda v: a @ v, b, max_iter=k, rtol=0.0).x
        theirs, _ = scipy.sparse.linalg.cg(a.numpy(), b.numpy(), rtol=0.0, atol=0.0, maxiter=k)
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-9, atol=1e-12)


def test_warm_start_matches_scipy_with_x0():
    a = spd(20, 50.0, seed=4)
    b = torch.randn(20, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    x0 = torch.ones(20, dtype=torch.float64)
    ours = conjugate_gradient(lambda v: a @ v, b, x0, max_iter=4, rtol=0.0)
    theirs, _ = scipy.sparse.linalg.cg(a.numpy(), b.numpy(), x0=x0.numpy(), rtol=0, maxiter=4)
    np.testing.assert_allclose(ours.x.numpy(), theirs, rtol=1e-9, atol=1e-12)
    assert ours.matvecs == 5  # the initial residual costs one product


def test_exact_in_at_most_n_steps_with_clustered_eigenvalues():
    # Three distinct eigenvalues: CG finishes in three iterations (in exact arithmetic).
    gen = torch.Generator().manual_seed(6)
    q, _ = torch.linalg.qr(torch.randn(50, 50, generator=gen, dtype=torch.float64))
    eig = torch.tensor([1.0] * 20 + [5.0] * 20 + [30.0] * 10, dtype=torch.float64)
    a = q @ torch.diag(eig) @ q.T
    b = torch.randn(50, generator=gen, dtype=torch.float64)
    result = conjugate_gradient(lambda v: a @ v, b, rtol=1e-10)
    assert result.iterations == 3
    torch.testing.assert_close(result.x, torch.linalg.solve(a, b))


def test_stops_at_negative_curvature():
    a = torch.diag(torch.tensor([2.0, 1.0, -1.0], dtype=torch.float64))
    b = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    result = conjugate_gradient(lambda v: a @ v, b)
    # p0 = b has p^T A p = 2 > 0; a later direction meets the negative eigenvalue.
    assert result.negative_curvature and not result.converged
    q = 0.5 * result.x @ a @ result.x - b @ result.x
    assert float(q) < 0.0  # the iterate returned still decreased the quadratic
    first = conjugate_gradient(lambda v: -v, b)  # negative definite: stop before any step
    assert first.negative_curvature and first.iterations == 0 and not first.x.any()


def test_martens_progress_rule_stops_early_on_a_hard_problem():
    a = spd(200, 1e4, seed=7)
    b = torch.randn(200, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    full = conjugate_gradient(lambda v: a @ v, b, max_iter=400, rtol=1e-10)
    early = conjugate_gradient(lambda v: a @ v, b, max_iter=400, rtol=1e-10, progress_tol=5e-4)
    assert 10 <= early.iterations < full.iterations / 2
    assert not early.converged
    # Most of the reduction of phi is there already.
    assert early.objective[-1] / full.objective[-1] > 0.99
    # It stopped because the last k iterations improved phi by less than eps k |phi|.
    i, k = early.iterations, max(10, -(-early.iterations // 10))
    obj = early.objective
    assert obj[i] - obj[i - k] > 5e-4 * k * obj[i]


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="flat"):
        conjugate_gradient(lambda v: v, torch.ones(2, 2))
    with pytest.raises(ValueError, match="x0"):
        conjugate_gradient(lambda v: v, torch.ones(3), torch.ones(2))
    with pytest.raises(ValueError, match="rtol"):
        conjugate_gradient(lambda v: v, torch.ones(3), rtol=-1.0)
