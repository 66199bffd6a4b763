r"""Matrix-free spectral tools for a symmetric operator known only through ``v -> A v``.

A network's Hessian has millions of rows but one Hessian-vector product costs about two
gradients, so everything here asks only for a ``matvec``. Three classics:

* **power iteration** with deflation: the eigenvalues of largest *magnitude* |λ|;
* **Lanczos** with full reorthogonalisation: the largest *algebraic* eigenvalues;
* **Hutchinson's estimator** of the trace, :math:`\operatorname{tr}(A) = \mathbb{E}[z^\top A z]`.

The functions work on any symmetric ``matvec``, so the tests can check them against explicit
matrices; :mod:`course_lib.diagnostics.hessian` plugs in Hessian-vector products.

References:
    C. Lanczos (1950), "An iteration method for the solution of the eigenvalue problem of linear
    differential and integral operators", J. Res. Nat. Bur. Standards 45.
    B. N. Parlett (1998), *The Symmetric Eigenvalue Problem*, SIAM (ch. 9 and 13).
    M. F. Hutchinson (1989), "A stochastic estimator of the trace of the influence matrix for
    Laplacian smoothing splines", Commun. Statist. Simula. 18(3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

MatVec = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EigenResult:
    """Approximate eigenpairs of a symmetric operator.

    Attributes:
        values: the ``k`` eigenvalues, shape ``(k,)``, in the order the method defines (see the
            function that returned them).
        vectors: unit eigenvectors as rows, shape ``(k, n)``.
        matvecs: how many operator applications were used.
        converged: ``True`` if every requested pair met the tolerance within the budget.
    """

    values: torch.Tensor
    vectors: torch.Tensor
    matvecs: int
    converged: bool


@dataclass(frozen=True)
class TraceEstimate:
    r"""A Monte Carlo estimate of a trace.

    Attributes:
        estimate: the sample mean of :math:`z_i^\top A z_i`.
        std_error: its standard error, :math:`s / \sqrt{S}` (``nan`` for one sample).
        samples: the number :math:`S` of probe vectors.
    """

    estimate: float
    std_error: float
    samples: int


def _check(dim: int, k: int, iters: int) -> None:
    if dim < 1:
        raise ValueError(f"the operator needs at least one dimension, got dim={dim}")
    if not 1 <= k <= dim:
        raise ValueError(f"k must be between 1 and dim={dim}, got {k}")
    if iters < 1:
        raise ValueError(f"iters must be positive, got {iters}")


def _random_unit(
    dim: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device | str | None
) -> torch.Tensor:
    # Drawn on the CPU from a seeded generator so a seed means the same start on every device.
    # Cast before moving: MPS has no float64.
    v = torch.randn(dim, generator=gen, dtype=torch.float64).to(dtype).to(device)
    return v / torch.linalg.vector_norm(v)


def power_iteration(
    matvec: MatVec,
    dim: int,
    k: int = 1,
    *,
    iters: int = 1000,
    tol: float = 1e-10,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> EigenResult:
    r"""The ``k`` eigenvalues of largest magnitude, by power iteration with deflation.

    Each pair is found by iterating :math:`v \leftarrow P A P v / \|P A P v\|`, where
    :math:`P = I - \sum_j u_j u_j^\top` projects out the eigenvectors already found, and reading
    the eigenvalue off the Rayleigh quotient :math:`\lambda = v^\top A v`. For exact eigenpairs
    this is Hotelling's deflation :math:`A - \sum_j \lambda_j u_j u_j^\top`; projecting instead
    of subtracting keeps round-off from regrowing the found directions. The error in
    :math:`\lambda` shrinks like :math:`|\lambda_{2}/\lambda_{1}|^{2t}`, so clustered
    eigenvalues converge slowly, and two of equal magnitude and opposite sign never settle.

    Args:
        matvec: ``v -> A v`` for a symmetric ``A``, on 1-D tensors of length ``dim``.
        dim: the dimension ``n`` of the operator.
        k: how many eigenpairs.
        iters: the most iterations per eigenpair.
        tol: stop a pair when :math:`|\lambda_t - \lambda_{t-1}| \le \text{tol}\,|\lambda_t|`.
        seed: seeds the random start vectors.
        dtype: the dtype of the vectors (float64 for checking against exact spectra).
        device: the device of the vectors.

    Returns:
        An :class:`EigenResult` with values sorted by decreasing magnitude :math:`|\lambda|`
        (signs kept).
    """
    _check(dim, k, iters)
    gen = torch.Generator().manual_seed(seed)
    found: list[torch.Tensor] = []
    values: list[torch.Tensor] = []
    matvecs, converged = 0, True

    def project(x: torch.Tensor) -> torch.Tensor:
        for u in found:
            x = x - (u @ x) * u
        return x

    for _ in range(k):
        v = project(_random_unit(dim, gen, dtype, device))
        v = v / torch.linalg.vector_norm(v)
        lam, done = torch.zeros((), dtype=dtype, device=device), False
        for t in range(iters):
            w = project(matvec(v))
            matvecs += 1
            new = v @ w  # Rayleigh quotient: v has unit norm
            norm = torch.linalg.vector_norm(w)
            if norm == 0:  # v is in the null space of the deflated operator: lambda = 0
                lam, done = new, True
                break
            v = w / norm
            done = t > 0 and abs(new - lam) <= tol * abs(new)
            lam = new
            if done:
                break
        converged = converged and bool(done)
        found.append(v)
        values.append(lam)
    vals = torch.stack(values)
    # Deflation finds them in decreasing |lambda| up to ties and round-off: sort to be sure.
    order = torch.argsort(vals.abs(), descending=True, stable=True)
    return EigenResult(vals[order], torch.stack(found)[order], matvecs, converged)


def lanczos(
    matvec: MatVec,
    dim: int,
    k: int = 1,
    *,
    iters: int = 100,
    tol: float = 1e-10,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> EigenResult:
    r"""The ``k`` largest (algebraic) eigenvalues, by Lanczos with full reorthogonalisation.

    Lanczos builds an orthonormal basis :math:`Q_m` of the Krylov space
    :math:`\operatorname{span}\{q_1, A q_1, \dots, A^{m-1} q_1\}` in which :math:`A` is the
    tridiagonal :math:`T_m = Q_m^\top A Q_m` (diagonal :math:`\alpha`, off-diagonal
    :math:`\beta`). The eigenvalues of :math:`T_m` (Ritz values) approach both ends of the
    spectrum much faster than power iteration. In floating point the three-term recurrence loses
    orthogonality and produces spurious copies of converged eigenvalues, so each new vector is
    orthogonalised against all previous ones, twice ("twice is enough", Parlett 1998). A Ritz
    pair :math:`(\theta, Q_m s)` has residual :math:`\|A Q_m s - \theta Q_m s\| = \beta_m |s_m|`,
    which is the stopping test. With ``iters >= dim`` the result is exact up to round-off.

    Args:
        matvec: ``v -> A v`` for a symmetric ``A``, on 1-D tensors of length ``dim``.
        dim: the dimension ``n`` of the operator.
        k: how many eigenpairs.
        iters: the most Lanczos steps (Krylov dimension); capped at ``dim``.
        tol: stop when every wanted Ritz pair has :math:`\beta_m |s_m| \le \text{tol}\,|\theta|`.
        seed: seeds the random start vector.
        dtype: the dtype of the vectors.
        device: the device of the vectors.

    Returns:
        An :class:`EigenResult` with the values in decreasing algebraic order.

    Memory: the basis is kept, ``iters x n`` numbers (100 vectors of a 10M-parameter network in
    float32 are 4 GB): lower ``iters`` for big models.
    """
    _check(dim, k, iters)
    if iters < k:
        raise ValueError(f"Lanczos needs iters >= k to produce k Ritz values, got {iters} < {k}")
    m_max = min(iters, dim)
    gen = torch.Generator().manual_seed(seed)
    Q = torch.zeros(m_max, dim, dtype=dtype, device=device)  # rows: the Lanczos basis
    Q[0] = _random_unit(dim, gen, dtype, device)
    alphas: list[torch.Tensor] = []
    betas: list[torch.Tensor] = []
    eps = torch.finfo(dtype).eps
    converged = False
    for j in range(m_max):
        w = matvec(Q[j])
        alpha = Q[j] @ w
        alphas.append(alpha)
        basis = Q[: j + 1]
        # Projecting out the whole basis (twice) subsumes the three-term recurrence's
        # subtraction of alpha * q_j and beta * q_{j-1}, and keeps the basis orthonormal.
        for _ in range(2):
            w = w - basis.T @ (basis @ w)
        beta = torch.linalg.vector_norm(w)
        m = j + 1
        theta, S = torch.linalg.eigh(_tridiagonal(alphas, betas))
        scale = theta.abs().max()
        if m >= k:
            residuals = beta * S[-1, -k:].abs()
            converged = bool((residuals <= tol * theta[-k:].abs()).all())
        # A tiny beta means Q spans an invariant subspace: the Ritz values are exact.
        breakdown = beta <= 10 * eps * math.sqrt(dim) * scale
        if breakdown and m >= k:
            converged = True
        if converged or m == m_max or breakdown:
            break
        betas.append(beta)
        Q[m] = w / beta
    if m < k:
        # Breakdown before k pairs: the Krylov space is an invariant subspace of dimension < k.
        # Lanczos sees each distinct eigenvalue once, so this happens when A has fewer than k
        # distinct eigenvalues (or, rarely, when the start vector misses some eigenvectors).
        raise RuntimeError(
            f"Lanczos found an invariant subspace of dimension {m} < k={k}: the operator has "
            "fewer distinct eigenvalues than k (Lanczos cannot see multiplicities), or the "
            "start vector is unlucky (try another seed)"
        )
    values = theta[-k:].flip(0)
    vectors = (Q[:m].T @ S[:, -k:]).T.flip(0)
    return EigenResult(values, vectors, m, converged)


def _tridiagonal(alphas: list[torch.Tensor], betas: list[torch.Tensor]) -> torch.Tensor:
    T = torch.diag(torch.stack(alphas))
    if betas:
        off = torch.stack(betas)
        T = T + torch.diag(off, 1) + torch.diag(off, -1)
    return T


def hutchinson_trace(
    matvec: MatVec,
    dim: int,
    samples: int = 100,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> TraceEstimate:
    r"""Hutchinson's unbiased estimate of :math:`\operatorname{tr}(A)` from ``samples`` matvecs.

    With Rademacher probes (:math:`z_i = \pm 1` with equal probability),
    :math:`\mathbb{E}[z z^\top] = I`, so :math:`\mathbb{E}[z^\top A z] = \operatorname{tr}(A)`,
    and the variance of one sample is :math:`2\big(\|A\|_F^2 - \sum_i A_{ii}^2\big)`: the
    smallest of any i.i.d. probe distribution, and zero for a diagonal :math:`A`, whose trace
    comes out exact from one probe.

    Args:
        matvec: ``v -> A v`` for a symmetric ``A``, on 1-D tensors of length ``dim``.
        dim: the dimension of the operator.
        samples: the number of probe vectors.
        seed: seeds the probes.
        dtype: the dtype of the probes.
        device: the device of the probes.

    Returns:
        A :class:`TraceEstimate` with the mean and its standard error.
    """
    if samples < 1:
        raise ValueError(f"samples must be positive, got {samples}")
    _check(dim, 1, 1)
    gen = torch.Generator().manual_seed(seed)
    draws = []
    for _ in range(samples):
        z = torch.randint(0, 2, (dim,), generator=gen).to(dtype).to(device) * 2 - 1
        draws.append(z @ matvec(z))
    values = torch.stack(draws).cpu().to(torch.float64)
    std_error = values.std().item() / math.sqrt(samples) if samples > 1 else math.nan
    return TraceEstimate(values.mean().item(), std_error, samples)
