r"""Conjugate gradient: solve :math:`A x = b` with nothing but products :math:`v \mapsto A v`.

For a symmetric positive-definite :math:`A`, solving :math:`Ax = b` is minimising the quadratic

.. math::

    \phi(x) = \tfrac12 x^\top A x - b^\top x, \qquad \nabla\phi(x) = Ax - b = -r .

Conjugate gradient (Hestenes and Stiefel 1952; Nocedal and Wright, Algorithm 5.2) minimises
:math:`\phi` along directions :math:`p_0, p_1, \dots` that are *conjugate*
(:math:`p_i^\top A p_j = 0` for :math:`i \ne j`), each built from the new residual and the last
direction:

.. math::

    \alpha_k = \frac{r_k^\top r_k}{p_k^\top A p_k},\quad
    x_{k+1} = x_k + \alpha_k p_k,\quad r_{k+1} = r_k - \alpha_k A p_k,\quad
    p_{k+1} = r_{k+1} + \frac{r_{k+1}^\top r_{k+1}}{r_k^\top r_k}\, p_k .

In exact arithmetic it ends in at most :math:`n` steps, and much sooner when the eigenvalues of
:math:`A` form a few clusters. One product :math:`Ap_k` per iteration is all it asks of
:math:`A`, which is why Hessian-free optimisation uses it with Hessian-vector products.

Three ways to stop early, all optional:

* the residual: :math:`\|r_k\| \le \max(\text{rtol}\,\|b\|, \text{atol})` (scipy's rule);
* Martens' (2010) relative progress on :math:`\phi`: stop at iteration :math:`i` once
  :math:`\phi(x_i) < 0` and :math:`\phi(x_i) - \phi(x_{i-k}) > \varepsilon\, k\, \phi(x_i)`
  with :math:`k = \max(10, \lceil i/10 \rceil)`: the last :math:`k` iterations together
  improved :math:`\phi` by less than a fraction :math:`k\varepsilon` of its value;
* **negative curvature**: if :math:`p_k^\top A p_k \le 0` the matrix is not positive definite
  (a Hessian at a saddle) and the quadratic is unbounded along :math:`p_k`; CG stops and returns
  the last iterate (the rule of truncated Newton methods, Nocedal and Wright, Algorithm 7.1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from course_lib.optim.validation import check_non_negative, check_positive_int

__all__ = ["CGResult", "conjugate_gradient"]


@dataclass(frozen=True)
class CGResult:
    """What :func:`conjugate_gradient` returns.

    Attributes:
        x: the approximate solution.
        iterations: how many iterations ran (each one product with :math:`A`).
        converged: whether the residual tolerance was met.
        negative_curvature: whether a direction with :math:`p^\\top A p \\le 0` stopped it.
        residual_norms: :math:`\\|r_k\\|` for :math:`k = 0, 1, \\dots` (the start included).
        objective: :math:`\\phi(x_k) = \\tfrac12 x_k^\\top A x_k - b^\\top x_k`, likewise.
        matvecs: products with :math:`A` computed, including one for a non-zero ``x0``.
    """

    x: Tensor
    iterations: int
    converged: bool
    negative_curvature: bool
    residual_norms: list[float] = field(default_factory=list)
    objective: list[float] = field(default_factory=list)
    matvecs: int = 0


def _martens_stalled(objective: list[float], eps: float) -> bool:
    i = len(objective) - 1
    k = max(10, math.ceil(i / 10))
    if eps <= 0.0 or i < k or not objective[i] < 0.0:
        return False
    return objective[i] - objective[i - k] > eps * k * objective[i]


def conjugate_gradient(
    matvec: Callable[[Tensor], Tensor],
    b: Tensor,
    x0: Tensor | None = None,
    *,
    max_iter: int | None = None,
    rtol: float = 1e-5,
    atol: float = 0.0,
    progress_tol: float = 0.0,
    stop_on_negative_curvature: bool = True,
) -> CGResult:
    r"""Solve :math:`Ax = b` for symmetric :math:`A` given as ``matvec(v) = A v``.

    Args:
        matvec: the product with :math:`A` (a flat tensor in, one of the same shape out).
        b: the right-hand side (a flat tensor).
        x0: the starting point (default zero, which costs no product).
        max_iter: most iterations (default ``10 * len(b)``, as scipy).
        rtol: relative residual tolerance, :math:`\|r\| \le \text{rtol}\,\|b\|`.
        atol: absolute residual tolerance; the larger of the two bounds applies.
        progress_tol: Martens' :math:`\varepsilon` (he uses ``5e-4``); ``0`` turns the rule off.
        stop_on_negative_curvature: stop at a direction with :math:`p^\top A p \le 0`, returning
            the iterate before it (the start if it is the first direction). With ``False`` CG
            carries on (or stops if :math:`p^\top A p = 0` exactly, where it cannot continue).

    Returns:
        A :class:`CGResult`.

    Raises:
        ValueError: on a non-flat ``b``, a mismatched ``x0`` or an invalid tolerance.
    """
    if b.dim() != 1:
        raise ValueError(f"b must be a flat (1-D) tensor, got shape {tuple(b.shape)}")
    if x0 is not None and x0.shape != b.shape:
        raise ValueError(f"x0 has shape {tuple(x0.shape)}, b has {tuple(b.shape)}")
    check_non_negative("rtol", rtol)
    check_non_negative("atol", atol)
    check_non_negative("progress_tol", progress_tol)
    max_iter = 10 * b.numel() if max_iter is None else max_iter
    check_positive_int("max_iter", max_iter)

    matvecs = 0
    if x0 is None or not bool(x0.any()):
        x = torch.zeros_like(b)
        r = b.clone()
    else:
        x = x0.clone()
        r = b - matvec(x)
        matvecs += 1
    tol = max(rtol * float(b.norm()), atol)
    rr = float(r.dot(r))
    norms = [math.sqrt(rr)]
    objective = [-0.5 * float(x.dot(b + r))]  # phi(x) = x^T (Ax - 2b)/2 = -x^T (b + r)/2
    p = r.clone()
    converged, negative = norms[0] <= tol, False
    iterations = 0
    while not converged and iterations < max_iter:
        ap = matvec(p)
        matvecs += 1
        curvature = float(p.dot(ap))
        if curvature <= 0.0 and (stop_on_negative_curvature or curvature == 0.0):
            negative = curvature < 0.0 or stop_on_negative_curvature
            break
        alpha = rr / curvature
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = float(r.dot(r))
        iterations += 1
        norms.append(math.sqrt(rr_new))
        objective.append(-0.5 * float(x.dot(b + r)))
        if norms[-1] <= tol:
            converged = True
            break
        if _martens_stalled(objective, progress_tol):
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return CGResult(x, iterations, converged, negative, norms, objective, matvecs)
