r"""Hessian-free optimisation (Martens 2010): truncated Newton with CG on curvature products.

A Newton step solves :math:`(C + \lambda I)\,p = -g` for a curvature matrix :math:`C`; forming
:math:`C` costs :math:`n^2` memory, but conjugate gradient
(:func:`~course_lib.optim.conjugate_gradient.conjugate_gradient`) needs only products
:math:`Cv`, and those cost a few backward passes. With the loss
:math:`L(\theta) = \ell(z(\theta))` of the model's outputs :math:`z` (all examples stacked), two
curvatures are offered:

* ``"hessian"``: :math:`C = H = \nabla^2 L`, by double backprop, :math:`Hv = \nabla(g^\top v)`
  (Pearlmutter 1994). Indefinite away from a minimum: CG then stops at negative curvature.
* ``"gauss_newton"``: the generalised Gauss-Newton matrix :math:`G = J^\top H_\ell J`, with
  :math:`J = \partial z / \partial\theta` and :math:`H_\ell = \nabla_z^2 \ell`
  (Schraudolph 2002). It drops the term of :math:`H` that involves the second derivatives of the
  network, and is positive semi-definite whenever :math:`\ell` is convex in :math:`z` (squared
  error, cross-entropy), so CG is well posed. :math:`Jv` comes from the "double-vjp" trick:
  :math:`u \mapsto J^\top u` is linear in :math:`u`, and its vjp with :math:`v` is :math:`Jv`.

:class:`HessianFree` follows Martens (2010) in the parts that matter on a small problem: CG is
warm-started from the previous step times ``warm_start_decay``, stopped by his relative-progress
rule, and the damping :math:`\lambda` is adapted Levenberg-Marquardt style by the reduction ratio

.. math::

    \rho = \frac{L(\theta + p) - L(\theta)}{g^\top p + \tfrac12 p^\top C p}:
    \quad \lambda \leftarrow \tfrac32\lambda \text{ if } \rho < \tfrac14, \qquad
    \lambda \leftarrow \tfrac23\lambda \text{ if } \rho > \tfrac34,

then a backtracking (Armijo) line search picks :math:`\alpha \in \{1, 0.8, 0.8^2, \dots\}`.
Left out: his CG-iterate backtracking, mini-batches and structural damping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from course_lib.optim.base import ParamsT
from course_lib.optim.conjugate_gradient import conjugate_gradient
from course_lib.optim.flat import flat_params, set_params
from course_lib.optim.validation import check_non_negative, check_positive_int

__all__ = ["CURVATURES", "HessianFree", "curvature_product", "gauss_newton_product"]

Curvature = Literal["hessian", "gauss_newton"]
CURVATURES: tuple[str, ...] = ("hessian", "gauss_newton")

# Armijo constant and backtracking factor of Martens' line search.
_ARMIJO_C, _BACKTRACK = 1e-2, 0.8


def _flat(tensors: Sequence[Tensor | None], like: Sequence[Tensor]) -> Tensor:
    return torch.cat(
        [
            p.new_zeros(p.numel()) if t is None else t.reshape(-1)
            for t, p in zip(tensors, like, strict=True)
        ]
    )


def _split(flat: Tensor, like: Sequence[Tensor]) -> list[Tensor]:
    sizes = [p.numel() for p in like]
    return [part.view_as(p) for part, p in zip(torch.split(flat, sizes), like, strict=True)]


def gauss_newton_product(
    outputs: Tensor, loss: Tensor, params: Sequence[Tensor]
) -> Callable[[Tensor], Tensor]:
    r"""The map :math:`v \mapsto J^\top H_\ell J v` on flat vectors, for ``loss`` of ``outputs``.

    Args:
        outputs: the model outputs :math:`z`, computed from ``params`` with autograd recording.
        loss: the scalar :math:`\ell(z)`, computed from ``outputs`` with autograd recording.
        params: the parameters (flat order: each tensor row-major, one after another).

    Returns:
        A function of a flat ``v`` (length :math:`n`) returning :math:`Gv` (detached). The
        graphs are kept, so it may be called many times.
    """
    params = list(params)
    # H_ell needs the gradient with respect to z as a differentiable function of z.
    (grad_z,) = torch.autograd.grad(loss, outputs, create_graph=True)
    # J^T u as a (linear) function of a dummy u: its vjp with v is J v.
    dummy = torch.zeros_like(outputs, requires_grad=True)
    jt_dummy = torch.autograd.grad(
        outputs, params, dummy, create_graph=True, allow_unused=True, materialize_grads=True
    )

    def product(v: Tensor) -> Tensor:
        with torch.enable_grad():
            (jv,) = torch.autograd.grad(jt_dummy, dummy, _split(v, params), retain_graph=True)
            if grad_z.requires_grad:  # ell is not linear in z
                (hjv,) = torch.autograd.grad(grad_z, outputs, jv, retain_graph=True)
            else:
                hjv = torch.zeros_like(jv)
            jthjv = torch.autograd.grad(outputs, params, hjv, retain_graph=True, allow_unused=True)
        return _flat(jthjv, params).detach()

    return product


def _hessian_product(grads: Sequence[Tensor], params: Sequence[Tensor]) -> Callable[..., Tensor]:
    # grads were computed with create_graph=True; Hv = grad(g^T v) for a constant v. A gradient
    # without a graph (the loss is at most linear in that parameter) contributes nothing.
    keep = [i for i, g in enumerate(grads) if g.requires_grad]

    def product(v: Tensor) -> Tensor:
        if not keep:
            return torch.zeros_like(v)
        vs = _split(v, params)
        with torch.enable_grad():
            hv = torch.autograd.grad(
                [grads[i] for i in keep],
                params,
                [vs[i] for i in keep],
                retain_graph=True,
                allow_unused=True,
            )
        return _flat(hv, params).detach()

    return product


def curvature_product(
    outputs: Tensor, loss: Tensor, params: Sequence[Tensor], curvature: Curvature
) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """The flat gradient of ``loss`` and the curvature product ``v -> C v``.

    Args:
        outputs: the model outputs, with their graph.
        loss: the scalar loss computed from ``outputs``, with its graph.
        params: the parameters.
        curvature: ``"hessian"`` or ``"gauss_newton"``.

    Returns:
        ``(g, product)``: the gradient (detached) and the product map.
    """
    params = list(params)
    if curvature not in CURVATURES:
        raise ValueError(f"curvature must be one of {CURVATURES}, got {curvature!r}")
    grads = torch.autograd.grad(
        loss, params, create_graph=True, allow_unused=True, materialize_grads=True
    )
    g = _flat(grads, params).detach()
    if curvature == "hessian":
        return g, _hessian_product(grads, params)
    return g, gauss_newton_product(outputs, loss, params)


class HessianFree(torch.optim.Optimizer):
    r"""Truncated Newton with CG on Hessian or Gauss-Newton products (Martens 2010).

    The closure returns the model's **outputs** (with their graph, no ``backward``); the loss
    is ``loss_fn(outputs)``, so that the Gauss-Newton matrix can separate the network from the
    loss::

        opt = HessianFree(model.parameters(), lambda z: F.cross_entropy(z, y))
        loss = opt.step(lambda: model(x))

    After a step, ``state[first parameter]`` holds ``step``, ``damping`` (the :math:`\lambda`
    for the next step), ``rho``, ``alpha`` (the line-search step), ``cg_iterations``,
    ``matvecs`` (curvature products so far), ``evaluations`` (closure calls so far),
    ``negative_curvature`` and ``direction`` (the last CG solution, the next warm start).

    Args:
        params: the parameters (one group).
        loss_fn: maps the outputs to the scalar loss.
        curvature: ``"gauss_newton"`` (default) or ``"hessian"``.
        damping: the initial :math:`\lambda \ge 0`.
        adapt_damping: adapt :math:`\lambda` by the reduction ratio (else keep it fixed).
        cg_max_iter: most CG iterations per step.
        cg_rtol: CG's relative residual tolerance.
        cg_progress_tol: Martens' relative-progress :math:`\varepsilon` (``0`` disables it).
        warm_start_decay: CG starts from this times the previous solution (``0``: from zero).
        line_search: backtrack from :math:`\alpha = 1` until the Armijo condition holds
            (else always take :math:`\alpha = 1`).
        max_backtracks: most backtracking steps; if none decreases the loss, :math:`\alpha = 0`.

    Raises:
        ValueError: on an invalid argument or a second parameter group.
    """

    def __init__(
        self,
        params: ParamsT,
        loss_fn: Callable[[Tensor], Tensor],
        curvature: Curvature = "gauss_newton",
        damping: float = 1.0,
        adapt_damping: bool = True,
        cg_max_iter: int = 50,
        cg_rtol: float = 1e-6,
        cg_progress_tol: float = 5e-4,
        warm_start_decay: float = 0.95,
        line_search: bool = True,
        max_backtracks: int = 30,
    ) -> None:
        if curvature not in CURVATURES:
            raise ValueError(f"curvature must be one of {CURVATURES}, got {curvature!r}")
        if not callable(loss_fn):
            raise ValueError("loss_fn must map the model outputs to a scalar loss")
        check_non_negative("damping", damping)
        check_positive_int("cg_max_iter", cg_max_iter)
        check_non_negative("cg_rtol", cg_rtol)
        check_non_negative("cg_progress_tol", cg_progress_tol)
        check_non_negative("warm_start_decay", warm_start_decay)
        check_positive_int("max_backtracks", max_backtracks)
        defaults = {
            "curvature": curvature,
            "damping": damping,
            "adapt_damping": adapt_damping,
            "cg_max_iter": cg_max_iter,
            "cg_rtol": cg_rtol,
            "cg_progress_tol": cg_progress_tol,
            "warm_start_decay": warm_start_decay,
            "line_search": line_search,
            "max_backtracks": max_backtracks,
        }
        super().__init__(params, defaults)
        self.loss_fn = loss_fn
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add the (only) group; a second one is an error."""
        if self.param_groups:
            raise ValueError("HessianFree supports a single parameter group")
        super().add_param_group(param_group)

    def _loss_at(self, closure: Callable[[], Tensor]) -> float:
        with torch.no_grad():
            return float(self.loss_fn(closure()))

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """Take one truncated-Newton step.

        Args:
            closure: returns the model outputs computed from the parameters, with their graph
                (it must not call ``backward``).

        Returns:
            The loss before the step (detached).
        """
        if closure is None or not callable(closure):
            raise TypeError("HessianFree.step needs a closure returning the model outputs")
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        lam = float(state.get("damping", group["damping"]))
        with torch.enable_grad():
            outputs = closure()
            loss = self.loss_fn(outputs)
            g, product = curvature_product(outputs, loss, self._params, group["curvature"])
        state["evaluations"] = state.get("evaluations", 0) + 1

        previous = state.get("direction")
        x0 = None if previous is None else group["warm_start_decay"] * previous
        result = conjugate_gradient(
            lambda v: product(v) + lam * v,
            -g,
            x0,
            max_iter=group["cg_max_iter"],
            rtol=group["cg_rtol"],
            progress_tol=group["cg_progress_tol"],
        )
        p = result.x
        matvecs = result.matvecs
        if not bool(p.any()):  # negative curvature at the first direction: steepest descent
            p = -g / max(lam, 1.0)
        if float(g.dot(p)) >= 0.0:  # a warm start that is not a descent direction
            p = -g / max(lam, 1.0)

        f0 = float(loss)
        x = flat_params(self._params)
        gp = float(g.dot(p))
        pcp = float(p.dot(product(p)))
        matvecs += 1
        set_params(self._params, x, 1.0, p)
        f1 = self._loss_at(closure)
        evaluations = 1
        predicted = gp + 0.5 * pcp
        rho = (f1 - f0) / predicted if predicted < 0.0 else float("-inf")
        if group["adapt_damping"]:
            if rho < 0.25:
                lam *= 1.5
            elif rho > 0.75:
                lam *= 2.0 / 3.0

        alpha = 1.0
        if group["line_search"]:
            accepted = f1 <= f0 + _ARMIJO_C * alpha * gp
            for _ in range(group["max_backtracks"]):
                if accepted:
                    break
                alpha *= _BACKTRACK
                set_params(self._params, x, alpha, p)
                f1 = self._loss_at(closure)
                evaluations += 1
                accepted = f1 <= f0 + _ARMIJO_C * alpha * gp
            if not accepted:
                alpha = 0.0
                set_params(self._params, x)
        offset = 0
        for param in self._params:  # expose the gradient, as after a backward pass
            param.grad = g[offset : offset + param.numel()].view_as(param).clone()
            offset += param.numel()
        state.update(
            step=state.get("step", 0) + 1,
            damping=lam,
            rho=rho,
            alpha=alpha,
            cg_iterations=result.iterations,
            negative_curvature=result.negative_curvature,
            matvecs=state.get("matvecs", 0) + matvecs,
            evaluations=state["evaluations"] + evaluations,
            direction=p.clone(),
        )
        return loss.detach()
