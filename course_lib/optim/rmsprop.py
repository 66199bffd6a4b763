"""RMSprop: divide the gradient by a running root-mean-square of recent gradients.

Step for step as ``torch.optim.RMSprop``: :class:`RMSpropState` is the typed state (torch's
keys), :func:`rmsprop` the functional core (readable and ``foreach`` paths), :class:`RMSprop`
the optimizer class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from course_lib.optim import compiled
from course_lib.optim.base import CourseOptimizer, Impl, ParamsT, use_foreach
from course_lib.optim.state import TorchKeyedState, new_scalar
from course_lib.optim.validation import check_non_negative

__all__ = ["RMSprop", "RMSpropState", "rmsprop"]


@dataclass
class RMSpropState(TorchKeyedState):
    r"""State of one parameter; the fields are torch's state keys.

    Attributes:
        step: number of steps taken, a 0-d float tensor on the CPU (the update does not use it).
        square_avg: :math:`v_t`, running average of squared gradients.
        momentum_buffer: :math:`b_t`, kept only when ``momentum > 0``.
        grad_avg: :math:`\bar g_t`, running average of gradients, kept only when ``centered``.
    """

    step: Tensor
    square_avg: Tensor
    momentum_buffer: Tensor | None = None
    grad_avg: Tensor | None = None

    @classmethod
    def init(cls, param: Tensor, *, momentum: float, centered: bool) -> RMSpropState:
        """Fresh state: every average and buffer starts at zero."""

        def zeros() -> Tensor:
            return torch.zeros_like(param, memory_format=torch.preserve_format)

        return cls(
            step=new_scalar(0.0),
            square_avg=zeros(),
            momentum_buffer=zeros() if momentum > 0 else None,
            grad_avg=zeros() if centered else None,
        )


def rmsprop(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[RMSpropState],
    *,
    lr: float | Tensor,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
    foreach: bool,
) -> None:
    r"""One RMSprop step on every tensor of ``params``, in place (maths in :class:`RMSprop`).

    Args:
        params: parameters, updated in place.
        grads: their gradients (never modified).
        states: one :class:`RMSpropState` per parameter, updated in place; it must hold a
            ``momentum_buffer`` when ``momentum > 0`` and a ``grad_avg`` when ``centered``.
        lr: learning rate :math:`\eta`.
        alpha: smoothing constant :math:`\alpha` of the averages.
        eps: :math:`\epsilon`, added outside the square root.
        weight_decay: L2 penalty :math:`\lambda`, added to the gradient.
        momentum: momentum factor :math:`\mu` (0 turns momentum off).
        centered: divide by the estimated standard deviation instead of the RMS.
        maximize: ascend the objective instead of descending it.
        foreach: use the multi-tensor kernels (needs one device and dtype for all tensors).
    """
    core = _rmsprop_foreach if foreach else _rmsprop_readable
    core(
        params,
        grads,
        states,
        lr=lr,
        alpha=alpha,
        eps=eps,
        weight_decay=weight_decay,
        momentum=momentum,
        centered=centered,
        maximize=maximize,
    )


def _rmsprop_readable(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[RMSpropState],
    *,
    lr: float | Tensor,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    for theta, g, state in zip(params, grads, states, strict=True):
        state.step.add_(1)  # kept for torch's state layout; the update does not use it
        g = -g if maximize else g
        if weight_decay != 0:
            g = g.add(theta, alpha=weight_decay)  # g_t <- g_t + lambda theta_{t-1}
        v = state.square_avg
        v.mul_(alpha).addcmul_(g, g, value=1 - alpha)  # v_t = alpha v_{t-1} + (1 - alpha) g_t^2
        if centered:
            m = state.grad_avg
            m.lerp_(g, 1 - alpha)  # gbar_t = alpha gbar_{t-1} + (1 - alpha) g_t
            denom = v.addcmul(m, m, value=-1).sqrt_()  # sqrt(v_t - gbar_t^2): a std estimate
        else:
            denom = v.sqrt()
        denom.add_(eps)  # eps outside the root, and no bias correction
        if momentum > 0:
            b = state.momentum_buffer
            b.mul_(momentum).addcdiv_(g, denom)  # b_t = mu b_{t-1} + g_t / denom (b_0 = 0)
            theta.add_(b, alpha=-lr)  # theta_t = theta_{t-1} - eta b_t
        else:
            theta.addcdiv_(g, denom, value=-lr)  # theta_t = theta_{t-1} - eta g_t / denom


def _rmsprop_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[RMSpropState],
    *,
    lr: float | Tensor,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    steps = [s.step for s in states]
    square_avgs = [s.square_avg for s in states]
    if maximize:
        grads = torch._foreach_neg(grads)
    torch._foreach_add_(steps, 1)
    if weight_decay != 0:
        if maximize:  # grads is already our own copy
            torch._foreach_add_(grads, params, alpha=weight_decay)
        else:  # never write into the caller's p.grad
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_mul_(square_avgs, alpha)
    torch._foreach_addcmul_(square_avgs, grads, grads, value=1 - alpha)
    if centered:
        grad_avgs = [s.grad_avg for s in states]
        torch._foreach_lerp_(grad_avgs, grads, 1 - alpha)
        denom = torch._foreach_addcmul(square_avgs, grad_avgs, grad_avgs, value=-1)
        torch._foreach_sqrt_(denom)
    else:
        denom = torch._foreach_sqrt(square_avgs)
    torch._foreach_add_(denom, eps)
    if momentum > 0:
        bufs = [s.momentum_buffer for s in states]
        torch._foreach_mul_(bufs, momentum)
        torch._foreach_addcdiv_(bufs, grads, denom)
        torch._foreach_add_(params, bufs, alpha=-lr)
    else:
        torch._foreach_addcdiv_(params, grads, denom, value=-lr)


class RMSprop(CourseOptimizer):
    r"""RMSprop, step for step as ``torch.optim.RMSprop``.

    With gradient :math:`g_t = \nabla f_t(\theta_{t-1})` (negated when ``maximize``) and
    :math:`v_0 = \bar g_0 = b_0 = 0`:

    .. math::

        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        v_t &= \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
        \bar g_t &= \alpha \bar g_{t-1} + (1 - \alpha) g_t
            \quad\text{and}\quad \tilde v_t = v_t - \bar g_t^2 \qquad \text{(centered)} \\
        \tilde v_t &= v_t \qquad \text{(otherwise)} \\
        b_t &= \mu b_{t-1} + \frac{g_t}{\sqrt{\tilde v_t} + \epsilon}, \qquad
        \theta_t = \theta_{t-1} - \eta b_t \qquad (\mu > 0) \\
        \theta_t &= \theta_{t-1} - \eta \frac{g_t}{\sqrt{\tilde v_t} + \epsilon}
            \qquad (\mu = 0)

    Semantics that trip people up:

    * ``eps`` is added outside the square root and there is no bias correction. Keras and
      optax put ``eps`` inside the root, and Keras defaults to ``alpha`` (their ``rho``) = 0.9,
      so the same numbers give different trajectories.
    * Without bias correction :math:`v_1 = (1 - \alpha) g_1^2`, so the first step has size about
      :math:`\eta / \sqrt{1 - \alpha}` per coordinate: ten times ``lr`` at ``alpha = 0.99``.
    * The momentum buffer starts at zero (unlike SGD's) and accumulates the *normalised*
      gradient; ``lr`` multiplies the buffer, so an lr change takes effect at once.
    * Like torch, only ``alpha >= 0`` is checked: ``alpha >= 1`` is accepted (and then
      :math:`v_t` never grows, or turns negative). ``maximize`` is keyword-only here because
      torch's eighth positional argument is ``capturable``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate :math:`\eta` (a float, or a 0-d tensor).
        alpha: smoothing constant :math:`\alpha`.
        eps: :math:`\epsilon`, added to the denominator for numerical stability.
        weight_decay: L2 penalty :math:`\lambda`.
        momentum: momentum factor :math:`\mu`.
        centered: normalise by an estimate of the gradient's variance instead of its second
            moment.
        maximize: maximise the objective instead of minimising it.
        impl: ``"readable"`` (per-tensor loop), ``"foreach"`` (multi-tensor kernels) or
            ``"compiled"`` (one fused loop per tensor, see :mod:`course_lib.optim.compiled`).

    Raises:
        ValueError: if any of ``lr``, ``alpha``, ``eps``, ``weight_decay``, ``momentum`` is
            negative; the message names it.
    """

    impls = ("readable", "foreach", "compiled")

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
        impl: Impl = "readable",
    ) -> None:
        check_non_negative("lr", lr)
        check_non_negative("alpha", alpha)
        check_non_negative("eps", eps)
        check_non_negative("weight_decay", weight_decay)
        check_non_negative("momentum", momentum)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults, impl)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("maximize", False)
        for s in self.state.values():  # very old state dicts stored ``step`` as a number
            if "step" in s and not torch.is_tensor(s["step"]):
                s["step"] = new_scalar(float(s["step"]))

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        momentum, centered = group["momentum"], group["centered"]
        states = []
        for p in params:
            raw = self.state[p]
            if not raw:
                raw.update(RMSpropState.init(p, momentum=momentum, centered=centered).to_dict())
            for key, wanted in (("momentum_buffer", momentum > 0), ("grad_avg", centered)):
                if wanted and key not in raw:  # switched on after step 1 (torch: KeyError)
                    raw[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
            states.append(RMSpropState.from_dict(raw))
        hyper: dict[str, Any] = dict(
            lr=group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=momentum,
            centered=centered,
            maximize=group["maximize"],
        )
        grads = [p.grad for p in params]
        if self.impl == "compiled" and True:
            compiled.rmsprop(params, grads, states, **hyper)
        else:
            rmsprop(params, grads, states, **hyper, foreach=use_foreach(self.impl, params))
