"""Adagrad: per-coordinate step sizes from the running sum of squared gradients.

Step for step as ``torch.optim.Adagrad``: :class:`AdagradState` is the typed state (torch's
keys), :func:`adagrad` the functional core (readable and ``foreach`` paths), :class:`Adagrad`
the optimizer class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from course_lib.optim import compiled
from course_lib.optim.base import CourseOptimizer, Impl, ParamsT, use_foreach
from course_lib.optim.state import TorchKeyedState, host_value, new_scalar
from course_lib.optim.validation import check_non_negative

__all__ = ["Adagrad", "AdagradState", "adagrad"]


@dataclass
class AdagradState(TorchKeyedState):
    """State of one parameter; the fields are torch's state keys.

    Attributes:
        step: number of steps taken, :math:`t`, a 0-d float tensor on the CPU (as torch).
        sum: the accumulator :math:`G_t` of squared gradients, shaped like the parameter.
    """

    step: Tensor
    sum: Tensor

    @classmethod
    def init(cls, param: Tensor, initial_accumulator_value: float = 0.0) -> AdagradState:
        """Fresh state: :math:`t = 0`, :math:`G_0` = ``initial_accumulator_value`` everywhere."""
        return cls(
            step=new_scalar(0.0),
            sum=torch.full_like(
                param, initial_accumulator_value, memory_format=torch.preserve_format
            ),
        )


def adagrad(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[AdagradState],
    *,
    lr: float | Tensor,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
    foreach: bool,
) -> None:
    r"""One Adagrad step on every tensor of ``params``, in place (maths in :class:`Adagrad`).

    Args:
        params: parameters, updated in place.
        grads: their gradients (never modified).
        states: one :class:`AdagradState` per parameter, updated in place.
        lr: learning rate :math:`\eta`.
        lr_decay: learning-rate decay :math:`\delta`.
        weight_decay: L2 penalty :math:`\lambda`, added to the gradient.
        eps: :math:`\epsilon`, added to :math:`\sqrt{G_t}`.
        maximize: ascend the objective instead of descending it.
        foreach: use the multi-tensor kernels (needs one device and dtype for all tensors).
    """
    core = _adagrad_foreach if foreach else _adagrad_readable
    core(
        params,
        grads,
        states,
        lr=lr,
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        eps=eps,
        maximize=maximize,
    )


def _adagrad_readable(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[AdagradState],
    *,
    lr: float | Tensor,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> None:
    for theta, g, state in zip(params, grads, states, strict=True):
        state.step.add_(1)  # in place: the tensor in optimizer.state[p] is this one
        t = host_value(state.step)  # a CPU tensor: no device sync
        g = -g if maximize else g
        if weight_decay != 0:
            g = g.add(theta, alpha=weight_decay)  # g_t <- g_t + lambda theta_{t-1}
        clr = lr / (1 + (t - 1) * lr_decay)  # eta_t = eta / (1 + (t - 1) delta)
        state.sum.addcmul_(g, g, value=1)  # G_t = G_{t-1} + g_t^2
        std = state.sum.sqrt().add_(eps)  # sqrt(G_t) + eps: eps outside the root
        theta.addcdiv_(g, std, value=-clr)  # theta_t = theta_{t-1} - eta_t g_t / (...)


def _adagrad_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[AdagradState],
    *,
    lr: float | Tensor,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> None:
    steps = [s.step for s in states]
    sums = [s.sum for s in states]
    if maximize:
        grads = torch._foreach_neg(grads)
    torch._foreach_add_(steps, 1)
    if weight_decay != 0:
        if maximize:  # grads is already our own copy
            torch._foreach_add_(grads, params, alpha=weight_decay)
        else:  # never write into the caller's p.grad
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_addcmul_(sums, grads, grads, value=1)
    std = torch._foreach_sqrt(sums)
    torch._foreach_add_(std, eps)
    if lr_decay == 0:
        torch._foreach_addcdiv_(params, grads, std, value=-lr)
    else:
        # -eta_t for every tensor, computed from the step tensors rather than with .item(), so
        # that torch.compile can trace it; in float64 to match torch's Python-float arithmetic
        # (a float32 step would round lr_decay).
        t = torch.stack(steps).to(torch.float64)
        minus_clr = ((t - 1) * lr_decay + 1).reciprocal() * -lr
        # The steps live on the CPU (as in torch); the factors go where the gradients are.
        minus_clr = minus_clr.to(grads[0].device)
        torch._foreach_addcdiv_(params, torch._foreach_mul(grads, minus_clr.unbind(0)), std)


class Adagrad(CourseOptimizer):
    r"""Adagrad, step for step as ``torch.optim.Adagrad``.

    With gradient :math:`g_t = \nabla f_t(\theta_{t-1})` (negated when ``maximize``), step
    count :math:`t` starting at 1 and :math:`G_0` = ``initial_accumulator_value``:

    .. math::

        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        \eta_t &= \frac{\eta}{1 + (t - 1)\,\delta} \\
        G_t &= G_{t-1} + g_t^2 \\
        \theta_t &= \theta_{t-1} - \eta_t \, \frac{g_t}{\sqrt{G_t} + \epsilon}

    (squares, roots and the division are per coordinate).

    Semantics that trip people up:

    * ``lr_decay`` is torch's own schedule, ``clr = lr / (1 + (step - 1) * lr_decay)``, applied
      on top of any scheduler; the first step uses the full ``lr``.
    * ``eps`` is added outside the square root; ``initial_accumulator_value`` (e.g. 0.1, as in
      TensorFlow) is the other way to keep the first steps finite.
    * Like torch, state is created for every parameter at construction, including parameters
      that never get a gradient (their ``step`` stays 0), and ``initial_accumulator_value`` is
      read from the constructor: a per-group value is ignored.

    Args:
        params: parameters or parameter groups.
        lr: learning rate :math:`\eta` (a float, or a 0-d tensor).
        lr_decay: learning-rate decay :math:`\delta`.
        weight_decay: L2 penalty :math:`\lambda`.
        initial_accumulator_value: starting value :math:`G_0` of the accumulator.
        eps: :math:`\epsilon`, added to :math:`\sqrt{G_t}` for numerical stability.
        maximize: maximise the objective instead of minimising it.
        impl: ``"readable"`` (per-tensor loop), ``"foreach"`` (multi-tensor kernels) or
            ``"compiled"`` (one fused loop per tensor, see :mod:`course_lib.optim.compiled`).

    Raises:
        ValueError: if any of ``lr``, ``lr_decay``, ``weight_decay``,
            ``initial_accumulator_value``, ``eps`` is negative; the message names it.
    """

    impls = ("readable", "foreach", "compiled")

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        impl: Impl = "readable",
    ) -> None:
        check_non_negative("lr", lr)
        check_non_negative("lr_decay", lr_decay)
        check_non_negative("weight_decay", weight_decay)
        check_non_negative("initial_accumulator_value", initial_accumulator_value)
        check_non_negative("eps", eps)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults, impl)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(AdagradState.init(p, initial_accumulator_value).to_dict())

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("maximize", False)
        # Very old state dicts stored ``step`` as a number.
        for s in self.state.values():
            if "step" in s and not torch.is_tensor(s["step"]):
                s["step"] = new_scalar(float(s["step"]))

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        for p in params:
            if not self.state[p]:  # added later with add_param_group
                init = AdagradState.init(p, self.defaults["initial_accumulator_value"])
                self.state[p].update(init.to_dict())
        states = [AdagradState.from_dict(self.state[p]) for p in params]
        hyper: dict[str, Any] = dict(
            lr=group["lr"],
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
        )
        grads = [p.grad for p in params]
        if self.impl == "compiled" and True:
            compiled.adagrad(params, grads, states, **hyper)
        else:
            adagrad(params, grads, states, **hyper, foreach=use_foreach(self.impl, params))
