"""Stochastic gradient descent with heavy-ball or Nesterov momentum, as ``torch.optim.SGD``.

The module has three layers, like every optimizer in :mod:`course_lib.optim`:

* :class:`SGDState`, the typed per-parameter state (its fields are torch's state keys);
* :func:`sgd`, the functional core, which updates parameters and state in place and has a
  readable per-tensor path and a ``foreach`` path over whole lists of tensors;
* :class:`SGD`, the ``torch.optim.Optimizer`` shell with torch's constructor arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from course_lib.optim import compiled
from course_lib.optim.base import CourseOptimizer, Impl, ParamsT, use_foreach
from course_lib.optim.state import TorchKeyedState
from course_lib.optim.validation import check_non_negative

__all__ = ["SGD", "SGDState", "sgd"]


@dataclass
class SGDState(TorchKeyedState):
    """State of one parameter; the field is torch's state key.

    Attributes:
        momentum_buffer: the velocity :math:`b_t`, same shape as the parameter. ``None`` before
            the first step with momentum; without momentum torch keeps no state at all.
    """

    momentum_buffer: Tensor | None = None


def sgd(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[SGDState],
    *,
    lr: float | Tensor,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    foreach: bool,
) -> None:
    r"""One SGD step on every tensor of ``params``, in place (see :class:`SGD` for the maths).

    Args:
        params: parameters, updated in place.
        grads: their gradients (never modified).
        states: one :class:`SGDState` per parameter; a buffer created here is stored in it.
        lr: learning rate :math:`\eta`.
        momentum: momentum factor :math:`\mu` (0 turns momentum off).
        dampening: dampening :math:`\tau`.
        weight_decay: L2 penalty :math:`\lambda`, added to the gradient.
        nesterov: use Nesterov momentum.
        maximize: ascend the objective instead of descending it.
        foreach: use the multi-tensor kernels (needs one device and dtype for all tensors).
    """
    core = _sgd_foreach if foreach else _sgd_readable
    core(
        params,
        grads,
        states,
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
        maximize=maximize,
    )


def _sgd_readable(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[SGDState],
    *,
    lr: float | Tensor,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    for theta, g, state in zip(params, grads, states, strict=True):
        # Out-of-place on g throughout: p.grad belongs to the caller.
        g = -g if maximize else g
        if weight_decay != 0:
            g = g.add(theta, alpha=weight_decay)  # g_t <- g_t + lambda theta_{t-1}
        if momentum != 0:
            b = state.momentum_buffer
            if b is None:
                # b_1 = g_1: the first buffer is the raw gradient, without the (1 - tau) factor.
                b = state.momentum_buffer = g.detach().clone()
            else:
                b.mul_(momentum).add_(g, alpha=1 - dampening)  # b_t = mu b_{t-1} + (1 - tau) g_t
            # Nesterov looks ahead along the new velocity: g_t <- g_t + mu b_t.
            g = g.add(b, alpha=momentum) if nesterov else b
        theta.add_(g, alpha=-lr)  # theta_t = theta_{t-1} - eta g_t


def _sgd_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[SGDState],
    *,
    lr: float | Tensor,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    if maximize:
        grads = torch._foreach_neg(grads)
    if weight_decay != 0:
        if maximize:  # grads is already our own copy: add in place
            torch._foreach_add_(grads, params, alpha=weight_decay)
        else:  # grads are the caller's p.grad: never write into them
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
    if momentum != 0:
        bufs = [s.momentum_buffer for s in states]
        old = [b for b in bufs if b is not None]
        if old:
            old_grads = [g for g, b in zip(grads, bufs, strict=True) if b is not None]
            torch._foreach_mul_(old, momentum)
            torch._foreach_add_(old, old_grads, alpha=1 - dampening)
        # A parameter's first step with momentum: b_1 = g_1 (a copy, per tensor, like torch).
        for i, b in enumerate(bufs):
            if b is None:
                bufs[i] = states[i].momentum_buffer = grads[i].detach().clone()
        grads = torch._foreach_add(grads, bufs, alpha=momentum) if nesterov else bufs
    torch._foreach_add_(params, grads, alpha=-lr)


class SGD(CourseOptimizer):
    r"""Stochastic gradient descent with momentum, step for step as ``torch.optim.SGD``.

    With gradient :math:`g_t = \nabla f_t(\theta_{t-1})` (negated when ``maximize``):

    .. math::

        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        b_t &= \mu b_{t-1} + (1 - \tau) g_t, \qquad b_1 = g_1 \\
        g_t &\leftarrow \begin{cases} g_t + \mu b_t & \text{Nesterov} \\
                                      b_t & \text{otherwise} \end{cases} \\
        \theta_t &= \theta_{t-1} - \eta g_t

    The momentum lines only run when :math:`\mu \neq 0`.

    Semantics that trip people up:

    * The first momentum buffer is the gradient itself (after weight decay), :math:`b_1 = g_1`:
      dampening starts at step 2. A buffer started at zero would instead give :math:`(1-\tau) g_1`.
    * This is the "PyTorch" form of momentum, with :math:`\eta` outside the buffer; the
      Sutskever form :math:`b_t = \mu b_{t-1} + \eta g_t` matches it only for a constant lr
      and no dampening.
    * ``weight_decay`` is an L2 penalty added to the gradient, so it also enters the buffer.
    * Nesterov needs ``momentum > 0`` and ``dampening == 0``; ``dampening`` itself is not
      range-checked (as in torch).
    * Without momentum no state is kept, and a parameter whose ``grad`` is ``None`` is skipped.

    Args:
        params: parameters or parameter groups.
        lr: learning rate :math:`\eta` (a float, or a 0-d tensor).
        momentum: momentum factor :math:`\mu`.
        dampening: dampening :math:`\tau` for the momentum buffer.
        weight_decay: L2 penalty :math:`\lambda`.
        nesterov: use Nesterov momentum.
        maximize: maximise the objective instead of minimising it.
        impl: ``"readable"`` (per-tensor loop), ``"foreach"`` (multi-tensor kernels) or
            ``"compiled"`` (one fused loop per tensor, see :mod:`course_lib.optim.compiled`).

    Raises:
        ValueError: for a negative ``lr``, ``momentum`` or ``weight_decay``, or ``nesterov``
            without ``momentum > 0`` and ``dampening == 0``; the message names the argument.
    """

    impls = ("readable", "foreach", "compiled")

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        impl: Impl = "readable",
    ) -> None:
        check_non_negative("lr", lr)
        check_non_negative("momentum", momentum)
        check_non_negative("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"Invalid nesterov value: {nesterov!r}; Nesterov momentum requires momentum > 0 "
                f"and dampening == 0, got momentum={momentum!r}, dampening={dampening!r}"
            )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults, impl)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # State dicts written before these options existed (as torch fills them in).
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        momentum = group["momentum"]
        # Like torch, touch self.state only with momentum: plain SGD keeps no state.
        states = [
            SGDState.from_dict(self.state[p]) if momentum != 0 else SGDState() for p in params
        ]
        hyper: dict[str, Any] = dict(
            lr=group["lr"],
            momentum=momentum,
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
        grads = [p.grad for p in params]
        # The compiled kernel needs every momentum buffer; the step that creates them is foreach.
        buffers_ready = momentum == 0 or all(s.momentum_buffer is not None for s in states)
        if self.impl == "compiled" and buffers_ready:
            compiled.sgd(params, grads, states, **hyper)
        else:
            sgd(params, grads, states, **hyper, foreach=use_foreach(self.impl, params))
        if momentum != 0:
            for p, state in zip(params, states, strict=True):
                self.state[p].update(state.to_dict())
