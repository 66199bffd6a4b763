r"""Damped Newton's method with the exact Hessian, for models small enough to form it.

With all parameters flattened into :math:`\theta \in \mathbb{R}^n`, gradient :math:`g` and
Hessian :math:`H = \nabla^2 L(\theta)`, one step is

.. math::

    \theta \leftarrow \theta - \eta\,(H + \lambda I)^{-1} g .

With :math:`\lambda = 0` and :math:`\eta = 1` this is Newton's method, exact in one step on a
strictly convex quadratic. The damping :math:`\lambda` interpolates towards gradient descent with
step :math:`\eta/\lambda`; it also rescues points where :math:`H` is not positive definite (a
saddle, a non-convex region), where the plain Newton step may point uphill or towards the saddle.
There :math:`\lambda` is raised Levenberg-style: multiplied by ``damping_growth`` until the
Cholesky factorisation of :math:`H + \lambda I` succeeds, i.e. until :math:`\lambda` exceeds
:math:`-\lambda_{\min}(H)`. Then :math:`(H + \lambda I)^{-1}` is positive definite and
:math:`-(H + \lambda I)^{-1} g` is a descent direction. The factor that proves it is then used to
solve the system (``torch.cholesky_solve``: the same answer as ``torch.linalg.solve`` with one
factorisation instead of two). The damping starts again from ``damping`` at every step.

**How the Hessian is computed.** The closure returns the loss with its autograd graph (it does not
call ``backward``). The gradient comes from ``torch.autograd.grad(..., create_graph=True)``; the
Hessian from differentiating that gradient again, for all :math:`n` unit vectors at once
(``is_grads_batched=True``, torch.func's vmap over the backward pass: the same computation as
``torch.autograd.functional.hessian(..., vectorize=True)``). Differentiating through the closure's
graph, rather than re-binding parameters with ``torch.func.functional_call``, is what lets the same
optimizer drive an ``nn.Module`` and a plain list of tensors alike. Memory is :math:`O(n^2)` and
the solve :math:`O(n^3)`, so ``max_numel`` guards against a model too large for the method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from course_lib.optim.base import ParamsT
from course_lib.optim.flat import add_to_params
from course_lib.optim.validation import check_non_negative, check_positive_int

__all__ = ["Newton", "damped_newton_direction", "gradient_and_hessian"]

# Largest number of times the damping is raised before giving up (a non-finite Hessian).
MAX_DAMPING_INCREASES = 60


def gradient_and_hessian(loss: Tensor, params: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Flat gradient (n,) and Hessian (n, n) of a scalar ``loss`` with respect to ``params``.

    Args:
        loss: a scalar computed from ``params`` with autograd recording (the graph is consumed).
        params: the tensors, flattened in order; one the loss does not use has zero derivatives.

    Returns:
        ``(g, H)``, detached; ``H`` is symmetrised, :math:`(H + H^\\top)/2`, to remove rounding.
    """
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    g = torch.cat(
        [
            p.new_zeros(p.numel()) if gp is None else gp.reshape(-1)
            for p, gp in zip(params, grads, strict=True)
        ]
    )
    n = g.numel()
    if not g.requires_grad:  # the loss is at most linear in the parameters
        return g.detach(), g.new_zeros(n, n)
    eye = torch.eye(n, dtype=g.dtype, device=g.device)
    # Row i of H is the gradient of g_i: one batched backward pass over the n unit vectors.
    rows = torch.autograd.grad(g, params, eye, is_grads_batched=True, allow_unused=True)
    h = torch.cat(
        [
            g.new_zeros(n, p.numel()) if r is None else r.reshape(n, -1)
            for p, r in zip(params, rows, strict=True)
        ],
        dim=1,
    ).detach()
    return g.detach(), 0.5 * (h + h.T)


def damped_newton_direction(
    g: Tensor, h: Tensor, damping: float, growth: float = 10.0
) -> tuple[Tensor, float]:
    r"""Solve :math:`(H + \lambda I)\,\delta = g`, raising :math:`\lambda` until the matrix is PD.

    Args:
        g: the gradient, shape (n,).
        h: the Hessian, shape (n, n), symmetric.
        damping: the first :math:`\lambda` tried (``0`` tries the plain Newton step first).
        growth: factor by which :math:`\lambda` grows after a failed Cholesky factorisation. From
            ``0`` the first increase goes to :math:`10^{-8} \max(1, \max|H_{ij}|)`.

    Returns:
        ``(delta, lam)``: the step to *subtract* from the parameters, and the :math:`\lambda` used.

    Raises:
        RuntimeError: if no damping makes the matrix positive definite (a NaN or inf in H or g).
    """
    eye = torch.eye(h.shape[0], dtype=h.dtype, device=h.device)
    floor = 1e-8 * max(1.0, float(h.abs().max()))
    lam = damping
    for _ in range(MAX_DAMPING_INCREASES):
        factor, info = torch.linalg.cholesky_ex(h + lam * eye)
        if int(info) == 0:
            delta = torch.cholesky_solve(g.unsqueeze(1), factor).squeeze(1)
            if bool(torch.isfinite(delta).all()):
                return delta, lam
        lam = max(lam * growth, floor)
    raise RuntimeError(
        "Newton: H + damping * I is not positive definite for any damping tried "
        f"(up to {lam:.3g}); the Hessian or gradient is probably not finite"
    )


class Newton(torch.optim.Optimizer):
    r"""Damped Newton steps with the exact Hessian of the closure's loss.

    Use it with a closure that returns the loss **without** calling ``backward``::

        opt = Newton(model.parameters(), damping=1e-4)          # an nn.Module ...
        opt = Newton([w, b])                                    # ... or plain tensors
        loss = opt.step(lambda: loss_fn(model(x), y))

    After a step, each parameter's ``grad`` holds the gradient at the point before the step, and
    ``state[first parameter]`` holds ``step`` (number of steps) and ``damping`` (the
    :math:`\lambda` the last step used).

    Args:
        params: the parameters (one group: the Hessian couples all of them).
        lr: step size :math:`\eta \ge 0` (``1`` is the full Newton step).
        damping: :math:`\lambda \ge 0` added to the Hessian's diagonal.
        damping_growth: factor :math:`> 1` by which :math:`\lambda` grows while
            :math:`H + \lambda I` is not positive definite.
        max_numel: the most parameters (entries) allowed; the Hessian has ``max_numel**2``.

    Raises:
        ValueError: on an invalid argument, several parameter groups, or too many parameters.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        damping: float = 1e-3,
        damping_growth: float = 10.0,
        max_numel: int = 10_000,
    ) -> None:
        check_non_negative("lr", lr)
        check_non_negative("damping", damping)
        check_non_negative("damping_growth", damping_growth)
        if not damping_growth > 1.0:
            raise ValueError(
                f"Invalid damping_growth value: {damping_growth!r}; damping_growth must be > 1"
            )
        check_positive_int("max_numel", max_numel)
        defaults = {"lr": lr, "damping": damping, "damping_growth": damping_growth}
        super().__init__(params, defaults)
        self._params: list[Tensor] = self.param_groups[0]["params"]
        numel = sum(p.numel() for p in self._params)
        if numel > max_numel:
            raise ValueError(
                f"Newton forms the {numel} x {numel} Hessian; that exceeds max_numel={max_numel}. "
                "Use LBFGS for larger models, or raise max_numel if the memory is there."
            )

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add the (only) group; a second one is an error."""
        if self.param_groups:
            raise ValueError(
                "Newton supports a single parameter group: the Hessian couples all parameters"
            )
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """Take one damped Newton step.

        Args:
            closure: returns the loss computed from the parameters, with its graph; it must not
                call ``backward`` (the graph is differentiated twice here).

        Returns:
            The loss before the step (detached).

        Raises:
            TypeError: if ``closure`` is missing or does not return a tensor with a graph.
        """
        if closure is None or not callable(closure):
            raise TypeError(
                "Newton.step needs a closure returning the loss (without calling backward), "
                "e.g. opt.step(lambda: loss_fn(model(x), y))"
            )
        group = self.param_groups[0]
        with torch.enable_grad():
            loss = closure()
            if not isinstance(loss, Tensor) or not loss.requires_grad:
                raise TypeError(
                    "Newton's closure must return the loss tensor with its autograd graph "
                    "(computed from the parameters, not detached)"
                )
            try:
                g, h = gradient_and_hessian(loss, self._params)
            except RuntimeError as err:
                if "backward through the graph a second time" not in str(err):
                    raise
                raise RuntimeError(
                    "Newton's closure must not call backward(): the step differentiates the "
                    "returned loss itself (twice, for the Hessian)"
                ) from err
        delta, lam = damped_newton_direction(g, h, group["damping"], group["damping_growth"])
        add_to_params(self._params, delta, -float(group["lr"]))
        offset = 0
        for p in self._params:  # expose the gradient, as after a backward pass
            p.grad = g[offset : offset + p.numel()].view_as(p).clone()
            offset += p.numel()
        state = self.state[self._params[0]]
        state["step"] = state.get("step", 0) + 1
        state["damping"] = lam
        return loss.detach()
