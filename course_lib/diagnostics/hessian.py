r"""Curvature of the loss: Hessian-vector products, top eigenvalues and the trace.

The Hessian :math:`H = \nabla^2 L(\theta)` of a network with :math:`n` parameters has
:math:`n^2` entries, far too many to store, but the product :math:`Hv` costs about two
gradients (Pearlmutter 1994), two ways:

* **double backprop** (``backend="autograd"``): differentiate :math:`g(\theta)^\top v` where
  :math:`g = \nabla L` was computed with ``create_graph=True``, since
  :math:`\nabla_\theta (g^\top v) = H v` for a fixed :math:`v`;
* **forward-over-reverse** (``backend="func"``): the directional derivative of the gradient,
  :math:`Hv = \frac{d}{d\varepsilon} \nabla L(\theta + \varepsilon v)\big|_{\varepsilon=0}`,
  i.e. ``torch.func.jvp`` of ``torch.func.grad``. Where torch lacks a forward-mode formula
  (``F.mse_loss`` with ``reduction="mean"`` trips pytorch/pytorch#123996), it falls back to
  reverse-over-reverse, ``torch.func.vjp`` of ``torch.func.grad``: the same :math:`Hv`, as
  :math:`H` is symmetric.

A loss is a function of the parameters, ``loss_fn(*params) -> scalar``, so that both backends
and ``torch.func`` can differentiate it. :func:`functional_loss` turns a model and a closure
``loss_of(model) -> scalar`` into one, without touching the model's parameters.

Eigenvalues and the trace come from the matrix-free solvers of
:mod:`course_lib.diagnostics.spectrum`.

References:
    B. A. Pearlmutter (1994), "Fast exact multiplication by the Hessian", Neural Computation 6.
    Z. Yao, A. Gholami, K. Keutzer, M. Mahoney (2020), "PyHessian: Neural networks through the
    lens of the Hessian", IEEE BigData.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import nn

from course_lib.diagnostics._flat import flatten, unflatten
from course_lib.diagnostics.spectrum import (
    EigenResult,
    TraceEstimate,
    hutchinson_trace,
    lanczos,
    power_iteration,
)

LossFn = Callable[..., torch.Tensor]
Backend = Literal["autograd", "func"]
EigenMethod = Literal["power", "lanczos"]


class _LossOf(nn.Module):
    # A module whose forward is the loss, so torch.func.functional_call can swap the wrapped
    # model's parameters for the duration of one call (and the model itself stays untouched).
    def __init__(self, model: nn.Module, loss_of: Callable[[nn.Module], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.loss_of = loss_of

    def forward(self) -> torch.Tensor:
        return self.loss_of(self.model)


def functional_loss(
    model: nn.Module, loss_of: Callable[[nn.Module], torch.Tensor]
) -> tuple[LossFn, tuple[torch.Tensor, ...]]:
    """Turn ``loss_of(model) -> scalar`` into ``loss_fn(*params) -> scalar`` and its point.

    Example:
        >>> loss_fn, params = functional_loss(model, lambda m: F.mse_loss(m(x), y))
        >>> top = hessian_top_eigenvalues(loss_fn, params, k=3, method="lanczos")

    Args:
        model: the network; its trainable parameters (``requires_grad``), in
            ``named_parameters()`` order, become the arguments of ``loss_fn``.
        loss_of: computes the scalar loss of a model, typically on a fixed batch it captures.
            A model in training mode runs dropout and updates batch-norm statistics on every
            call: use ``model.eval()`` for a deterministic loss surface.

    Returns:
        ``(loss_fn, params)``: the function, and detached copies of the current trainable
        parameters (the point at which to evaluate the Hessian).
    """
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    params = tuple(p.detach().clone() for p in model.parameters() if p.requires_grad)
    wrapper = _LossOf(model, loss_of)

    def loss_fn(*ps: torch.Tensor) -> torch.Tensor:
        mapping = {f"model.{name}": p for name, p in zip(names, ps, strict=True)}
        return torch.func.functional_call(wrapper, mapping, ())

    return loss_fn, params


def _leaves(params: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return tuple(p.detach().requires_grad_(True) for p in params)


def _gradient_graph(loss_fn: LossFn, leaves: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """The gradient at ``leaves``, kept differentiable (``create_graph=True``)."""
    with torch.enable_grad():
        grads = torch.autograd.grad(loss_fn(*leaves), leaves, create_graph=True, allow_unused=True)
    # A parameter the loss does not use has a zero gradient and zero Hessian rows.
    return tuple(
        torch.zeros_like(p) if g is None else g for g, p in zip(grads, leaves, strict=True)
    )


def _double_backprop(
    grads: Sequence[torch.Tensor], leaves: Sequence[torch.Tensor], v: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, ...]:
    # A gradient that does not depend on the parameters (a loss linear in some parameter) has
    # no graph; its Hessian rows are zero, and autograd must not be asked to differentiate it.
    pairs = [(g, u) for g, u in zip(grads, v, strict=True) if g.requires_grad]
    if not pairs:
        return tuple(torch.zeros_like(p) for p in leaves)
    out = torch.autograd.grad(
        [g for g, _ in pairs],
        leaves,
        grad_outputs=[u for _, u in pairs],
        retain_graph=True,
        allow_unused=True,
    )
    return tuple(torch.zeros_like(p) if h is None else h for h, p in zip(out, leaves, strict=True))


def _forward_over_reverse(
    loss_fn: LossFn, params: tuple[torch.Tensor, ...], v: tuple[torch.Tensor, ...]
) -> tuple[torch.Tensor, ...]:
    grad_fn = torch.func.grad(loss_fn, argnums=tuple(range(len(params))))
    with warnings.catch_warnings():
        # torch's forward-AD decompositions still call torch.jit.script when first loaded.
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
        try:
            return torch.func.jvp(grad_fn, params, v)[1]
        except RuntimeError as err:
            # torch bug (pytorch/pytorch#123996): the forward-mode formula of F.mse_loss's
            # backward with reduction="mean" divides a ZeroTensor in place. Reverse-over-reverse
            # gives v^T H = (H v)^T, the same numbers since H is symmetric.
            if "ZeroTensors are immutable" not in str(err):
                raise
            return torch.func.vjp(grad_fn, *params)[1](v)


def hvp(
    loss_fn: LossFn,
    params: Sequence[torch.Tensor],
    v: Sequence[torch.Tensor],
    *,
    backend: Backend = "autograd",
) -> tuple[torch.Tensor, ...]:
    r"""The Hessian-vector product :math:`\nabla^2 L(\theta)\, v`, without forming the Hessian.

    Args:
        loss_fn: ``loss_fn(*params) -> scalar``.
        params: the point :math:`\theta`, one tensor per argument of ``loss_fn``.
        v: the vector, one tensor per parameter with the same shapes.
        backend: ``"autograd"`` (double backprop) or ``"func"`` (``jvp`` of ``grad``; see the
            module docstring for its fallback).

    Returns:
        :math:`Hv` as a tuple of tensors shaped like ``params``.
    """
    params, v = tuple(params), tuple(v)
    if backend == "autograd":
        leaves = _leaves(params)
        grads = _gradient_graph(loss_fn, leaves)
        with torch.enable_grad():
            return tuple(h.detach() for h in _double_backprop(grads, leaves, v))
    if backend == "func":
        return _forward_over_reverse(loss_fn, params, v)
    raise ValueError(f"backend must be 'autograd' or 'func', got {backend!r}")


class HessianOperator:
    r"""The Hessian at a fixed point as a matrix-free operator on flat vectors.

    With the ``"autograd"`` backend the gradient graph is built once, at construction, and every
    product is one backward pass through it (``retain_graph=True``), so a hundred products cost
    about a hundred backward passes, not a hundred forward-and-backward passes.

    Attributes:
        dim: the number of parameters :math:`n`.
        matvecs: how many products have been computed.
    """

    def __init__(
        self, loss_fn: LossFn, params: Sequence[torch.Tensor], *, backend: Backend = "autograd"
    ) -> None:
        if backend not in ("autograd", "func"):
            raise ValueError(f"backend must be 'autograd' or 'func', got {backend!r}")
        self.loss_fn, self.backend = loss_fn, backend
        self.params = tuple(p.detach() for p in params)
        self.dim = sum(p.numel() for p in self.params)
        self.dtype, self.device = self.params[0].dtype, self.params[0].device
        self.matvecs = 0
        if backend == "autograd":
            self._leaves = _leaves(self.params)
            self._grads = _gradient_graph(loss_fn, self._leaves)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        """``v -> H v`` on flat vectors of length :attr:`dim`."""
        self.matvecs += 1
        vs = unflatten(v, self.params)
        if self.backend == "autograd":
            with torch.enable_grad():
                return flatten(_double_backprop(self._grads, self._leaves, vs)).detach()
        return flatten(hvp(self.loss_fn, self.params, vs, backend="func"))


def full_hessian(loss_fn: LossFn, params: Sequence[torch.Tensor]) -> torch.Tensor:
    r"""The dense :math:`n \times n` Hessian, for small models and for checking.

    Rows and columns follow the flat order of ``params`` (each tensor row-major, one after
    another), the order :class:`HessianOperator` and the eigenvectors use. Computed by
    ``torch.func.hessian`` (forward-over-reverse over a flat parameter vector).
    """
    params = tuple(p.detach() for p in params)

    def flat_loss(theta: torch.Tensor) -> torch.Tensor:
        return loss_fn(*unflatten(theta, params))

    return torch.func.hessian(flat_loss)(flatten(params))


def hessian_eigenpairs(
    loss_fn: LossFn,
    params: Sequence[torch.Tensor],
    k: int = 1,
    *,
    method: EigenMethod = "lanczos",
    iters: int | None = None,
    tol: float = 1e-10,
    seed: int = 0,
    backend: Backend = "autograd",
) -> EigenResult:
    """Top-``k`` Hessian eigenpairs; eigenvectors are flat, in the order of ``params``.

    See :func:`hessian_top_eigenvalues` for the arguments.
    """
    op = HessianOperator(loss_fn, params, backend=backend)
    common = {"tol": tol, "seed": seed, "dtype": op.dtype, "device": op.device}
    if method == "power":
        return power_iteration(op, op.dim, k, iters=iters or 1000, **common)
    if method == "lanczos":
        return lanczos(op, op.dim, k, iters=iters or 100, **common)
    raise ValueError(f"method must be 'power' or 'lanczos', got {method!r}")


def hessian_top_eigenvalues(
    loss_fn: LossFn,
    params: Sequence[torch.Tensor],
    k: int = 1,
    *,
    method: EigenMethod = "lanczos",
    iters: int | None = None,
    tol: float = 1e-10,
    seed: int = 0,
    backend: Backend = "autograd",
) -> torch.Tensor:
    r"""The top-``k`` eigenvalues of the Hessian of ``loss_fn`` at ``params``.

    The two methods answer different questions when the Hessian has negative eigenvalues (as it
    does away from a minimum):

    * ``"power"``: the ``k`` of largest **magnitude** :math:`|\lambda|`, sorted by decreasing
      magnitude, signs kept;
    * ``"lanczos"``: the ``k`` largest **algebraic** values, in decreasing order (the sharpness
      :math:`\lambda_{\max}` first).

    Args:
        loss_fn: ``loss_fn(*params) -> scalar``.
        params: the point :math:`\theta`.
        k: how many eigenvalues.
        method: ``"power"`` (power iteration with deflation) or ``"lanczos"`` (with full
            reorthogonalisation).
        iters: the iteration budget: per eigenvalue for power iteration (default 1000), the
            Krylov dimension for Lanczos (default 100).
        tol: relative tolerance (see :func:`~course_lib.diagnostics.spectrum.power_iteration`
            and :func:`~course_lib.diagnostics.spectrum.lanczos`).
        seed: seeds the random start vectors.
        backend: how Hessian-vector products are computed (see :func:`hvp`).

    Returns:
        A tensor of shape ``(k,)``.
    """
    return hessian_eigenpairs(
        loss_fn, params, k, method=method, iters=iters, tol=tol, seed=seed, backend=backend
    ).values


def hessian_trace(
    loss_fn: LossFn,
    params: Sequence[torch.Tensor],
    samples: int = 100,
    *,
    seed: int = 0,
    backend: Backend = "autograd",
) -> TraceEstimate:
    r"""Hutchinson's estimate of :math:`\operatorname{tr}\nabla^2 L(\theta)` with Rademacher probes.

    The trace is the sum of all eigenvalues; divided by :math:`n` it is the average curvature.
    See :func:`~course_lib.diagnostics.spectrum.hutchinson_trace` for the estimator's variance.
    """
    op = HessianOperator(loss_fn, params, backend=backend)
    return hutchinson_trace(op, op.dim, samples, seed=seed, dtype=op.dtype, device=op.device)
