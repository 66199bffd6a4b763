r"""Proximal operators of the weight penalties, and proximal gradient (ISTA / FISTA) for the
elastic-net least-squares problem and its regularisation path.

The proximal operator of a convex function :math:`h`, with step :math:`t > 0`, is

.. math:: \operatorname{prox}_{t h}(v) = \arg\min_w \; h(w) + \frac{1}{2t}\lVert w - v\rVert^2 .

For the penalties of :mod:`course_lib.losses.penalties` it has a closed form:

* L1, :math:`h = \lambda\lVert w\rVert_1`: soft thresholding,
  :math:`\operatorname{sign}(v)\max(|v| - t\lambda, 0)` (exact zeros: this is where sparsity
  comes from);
* L2, :math:`h = \tfrac{\lambda}{2}\lVert w\rVert^2`: shrinkage, :math:`v / (1 + t\lambda)`
  (never exactly zero);
* elastic net, :math:`h = \alpha(\rho\lVert w\rVert_1 + \tfrac{1 - \rho}{2}\lVert w\rVert^2)`:
  soft thresholding at :math:`t\alpha\rho`, then shrinkage by :math:`1 + t\alpha(1 - \rho)`.

The solver minimises scikit-learn's ``ElasticNet`` / ``enet_path`` objective (no intercept:
centre ``X`` and ``y`` first),

.. math::
    \frac{1}{2n}\lVert y - Xw\rVert^2
    + \alpha\Big(\rho\,\lVert w\rVert_1 + \tfrac12(1 - \rho)\,\lVert w\rVert_2^2\Big),

by proximal gradient with step :math:`1/L`, :math:`L = \sigma_{\max}(X)^2 / n`: ISTA
(Daubechies, Defrise & De Mol 2004) or its accelerated form FISTA (Beck & Teboulle 2009).
:math:`\rho = 1` is the lasso, :math:`\rho = 0` ridge.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def soft_threshold(v: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
    r"""Soft thresholding, :math:`\operatorname{sign}(v)\max(|v| - \tau, 0)`: the proximal
    operator of :math:`\tau\lVert\cdot\rVert_1`.

    Args:
        v: any tensor.
        tau: threshold :math:`\tau \ge 0` (a number, or a tensor broadcastable to ``v``).

    Returns:
        A tensor like ``v``; entries with :math:`|v| \le \tau` are exactly 0.

    Raises:
        ValueError: if ``tau`` is negative.
    """
    negative = bool((tau < 0).any()) if isinstance(tau, torch.Tensor) else not tau >= 0
    if negative:
        raise ValueError(f"tau={tau!r} must be >= 0 (it is a threshold)")
    return torch.sign(v) * torch.clamp(v.abs() - tau, min=0)


def prox_l2(v: torch.Tensor, tau: float) -> torch.Tensor:
    r"""Proximal operator of :math:`\tfrac{\tau}{2}\lVert\cdot\rVert^2`: :math:`v / (1 + \tau)`.

    Args:
        v: any tensor.
        tau: step times strength, :math:`\tau \ge 0`.

    Returns:
        ``v`` shrunk towards 0 (never exactly 0 unless ``v`` is).

    Raises:
        ValueError: if ``tau`` is negative.
    """
    if not tau >= 0:
        raise ValueError(f"tau={tau!r} must be >= 0")
    return v / (1 + tau)


def prox_elastic_net(v: torch.Tensor, step: float, alpha: float, l1_ratio: float) -> torch.Tensor:
    r"""Proximal operator of ``step`` times the elastic-net penalty
    :math:`\alpha(\rho\lVert w\rVert_1 + \tfrac12(1 - \rho)\lVert w\rVert^2)`.

    .. math::
        \operatorname{prox}(v) = \frac{\operatorname{soft}(v,\ t\alpha\rho)}
                                      {1 + t\alpha(1 - \rho)} .

    Args:
        v: any tensor.
        step: step size :math:`t > 0`.
        alpha: overall strength :math:`\alpha \ge 0`.
        l1_ratio: :math:`\rho \in [0, 1]` (1 = lasso, 0 = ridge).

    Returns:
        A tensor like ``v``.

    Raises:
        ValueError: on a step that is not positive, a negative ``alpha`` or ``l1_ratio``
            outside [0, 1].
    """
    _check_penalty(alpha, l1_ratio)
    if not step > 0:
        raise ValueError(f"step={step!r} must be positive")
    return soft_threshold(v, step * alpha * l1_ratio) / (1 + step * alpha * (1 - l1_ratio))


def _check_penalty(alpha: float, l1_ratio: float) -> None:
    if not alpha >= 0:
        raise ValueError(f"alpha={alpha!r} must be >= 0")
    if not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"l1_ratio={l1_ratio!r} must lie in [0, 1] (1 = lasso, 0 = ridge)")


def _check_xy(X: torch.Tensor, y: torch.Tensor) -> None:
    if X.dim() != 2 or y.shape != (X.shape[0],):
        raise ValueError(
            f"X must have shape (n, d) and y shape (n,), got {tuple(X.shape)} and {tuple(y.shape)}"
        )


def lipschitz_constant(X: torch.Tensor) -> float:
    r""":math:`L = \sigma_{\max}(X)^2 / n`, the Lipschitz constant of the gradient of
    :math:`\tfrac{1}{2n}\lVert y - Xw\rVert^2` (its Hessian is :math:`X^\top X / n`).

    Args:
        X: design matrix, shape ``(n, d)``.

    Returns:
        :math:`L` as a float.
    """
    return float(torch.linalg.matrix_norm(X, ord=2) ** 2 / X.shape[0])


def alpha_max(X: torch.Tensor, y: torch.Tensor, l1_ratio: float = 1.0) -> float:
    r"""The smallest :math:`\alpha` at which the elastic-net solution is all zeros,
    :math:`\lVert X^\top y\rVert_\infty / (n\rho)` (scikit-learn's path starts there).

    Args:
        X: design matrix, shape ``(n, d)``.
        y: targets, shape ``(n,)``.
        l1_ratio: :math:`\rho \in (0, 1]`; ridge (:math:`\rho = 0`) never reaches all zeros.

    Returns:
        :math:`\alpha_{\max}`.

    Raises:
        ValueError: on bad shapes or ``l1_ratio`` not in (0, 1].
    """
    _check_xy(X, y)
    if not 0.0 < l1_ratio <= 1.0:
        raise ValueError(f"l1_ratio={l1_ratio!r} must lie in (0, 1] for a finite alpha_max")
    return float((X.T @ y).abs().max() / (X.shape[0] * l1_ratio))


@dataclass(frozen=True)
class ProxResult:
    """What :func:`elastic_net_prox_grad` returns.

    Attributes:
        coef: the solution :math:`w`, shape ``(d,)``.
        n_iter: iterations done.
        converged: whether the gradient-mapping norm fell below ``tol``.
    """

    coef: torch.Tensor
    n_iter: int
    converged: bool


def elastic_net_prox_grad(
    X: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    l1_ratio: float = 1.0,
    *,
    coef_init: torch.Tensor | None = None,
    accelerated: bool = True,
    max_iter: int = 10_000,
    tol: float = 1e-10,
) -> ProxResult:
    r"""Minimise :math:`\tfrac{1}{2n}\lVert y - Xw\rVert^2 + \alpha(\rho\lVert w\rVert_1 +
    \tfrac12(1 - \rho)\lVert w\rVert^2)` by proximal gradient with step :math:`1/L`.

    ISTA: :math:`w_{k+1} = \operatorname{prox}_{h/L}\big(w_k - \nabla f(w_k)/L\big)`. FISTA
    (``accelerated=True``) takes the same step from the extrapolated point
    :math:`z_k = w_k + \tfrac{t_{k-1} - 1}{t_k}(w_k - w_{k-1})`, with the adaptive restart of
    O'Donoghue & Candès (2015): the momentum is reset whenever it points uphill,
    :math:`(z_k - w_{k+1})^\top(w_{k+1} - w_k) > 0`, which keeps FISTA fast on the
    strongly convex problems a ridge term makes. It stops when the
    gradient mapping :math:`L\,\lVert z_k - w_{k+1}\rVert_\infty` (zero exactly at a minimiser)
    is below ``tol``.

    Args:
        X: design matrix, shape ``(n, d)`` (centred if the model has an intercept).
        y: targets, shape ``(n,)``.
        alpha: strength :math:`\alpha \ge 0`.
        l1_ratio: :math:`\rho \in [0, 1]`.
        coef_init: starting point (a warm start along a path); zeros by default.
        accelerated: FISTA if true, plain ISTA otherwise.
        max_iter: iteration cap.
        tol: tolerance on the gradient mapping's largest entry.

    Returns:
        A :class:`ProxResult`.

    Raises:
        ValueError: on bad shapes or penalty parameters.
    """
    _check_xy(X, y)
    _check_penalty(alpha, l1_ratio)
    n = X.shape[0]
    lip = lipschitz_constant(X)
    step = 1.0 / lip
    Xty = X.T @ y / n
    XtX = X.T @ X / n  # (d, d): cheap when d is small, as in the book's examples
    w = torch.zeros_like(Xty) if coef_init is None else coef_init.clone().to(Xty)
    z, t = w.clone(), 1.0
    for k in range(1, max_iter + 1):
        grad = XtX @ z - Xty
        w_next = prox_elastic_net(z - step * grad, step, alpha, l1_ratio)
        residual = float((z - w_next).abs().max()) * lip
        if accelerated:
            step_taken = w_next - w
            if float((z - w_next) @ step_taken) > 0:
                # Adaptive restart (O'Donoghue & Candes 2015): momentum points uphill, drop it.
                t, z = 1.0, w_next
            else:
                t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
                z = w_next + ((t - 1) / t_next) * step_taken
                t = t_next
        else:
            z = w_next
        w = w_next
        if residual < tol:
            return ProxResult(w, k, True)
    return ProxResult(w, max_iter, False)


def elastic_net_path(
    X: torch.Tensor,
    y: torch.Tensor,
    alphas: torch.Tensor,
    l1_ratio: float = 1.0,
    *,
    accelerated: bool = True,
    max_iter: int = 10_000,
    tol: float = 1e-10,
) -> torch.Tensor:
    r"""Solutions along a sequence of strengths, each warm-started from the previous one.

    The same objective and output layout as ``sklearn.linear_model.enet_path`` (and
    ``lasso_path`` for ``l1_ratio=1``): pass ``alphas`` from largest to smallest, as it does.

    Args:
        X: design matrix, shape ``(n, d)``.
        y: targets, shape ``(n,)``.
        alphas: strengths, shape ``(k,)``.
        l1_ratio: :math:`\rho \in [0, 1]`.
        accelerated: FISTA if true, plain ISTA otherwise.
        max_iter: iteration cap of each solve.
        tol: tolerance on the gradient mapping of each solve.

    Returns:
        Coefficients of shape ``(d, k)``: column ``j`` solves the problem at ``alphas[j]``.

    Raises:
        RuntimeError: if a solve hits ``max_iter`` before ``tol``.
    """
    coefs = []
    w = None
    for a in alphas.tolist():
        result = elastic_net_prox_grad(
            X, y, a, l1_ratio, coef_init=w, accelerated=accelerated, max_iter=max_iter, tol=tol
        )
        if not result.converged:
            raise RuntimeError(
                f"proximal gradient did not converge at alpha={a:g} in {result.n_iter} "
                "iterations; raise max_iter or tol"
            )
        w = result.coef
        coefs.append(w)
    return torch.stack(coefs, dim=1)
