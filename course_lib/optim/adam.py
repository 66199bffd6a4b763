r"""Adam and AdamW: bias-corrected moment estimates, with coupled (L2) or decoupled weight decay.

The functional core :func:`adam` updates lists of parameters in place; the classes :class:`Adam`
and :class:`AdamW` only collect the tensors and their state. The state of one parameter is an
:class:`AdamState` whose field names are torch's state keys, so ``self.state[p]`` holds exactly
what ``torch.optim.Adam`` keeps and state dicts move freely between the two libraries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from course_lib.optim import compiled
from course_lib.optim.base import CourseOptimizer, Impl, ParamsT, use_foreach
from course_lib.optim.state import TorchKeyedState, as_float, host_value, new_scalar
from course_lib.optim.validation import check_betas, check_non_negative

__all__ = ["Adam", "AdamState", "AdamW", "adam"]


def check_adam_family(
    lr: float | Tensor, betas: tuple[Any, Any], eps: float, weight_decay: float
) -> None:
    """The checks torch makes for Adam, AdamW, RAdam and NAdam, raised as ``ValueError``."""
    check_non_negative("lr", lr)
    check_non_negative("eps", eps)
    check_betas(betas)
    check_non_negative("weight_decay", weight_decay)


@dataclass
class AdamState(TorchKeyedState):
    """Per-parameter Adam state under torch's key names.

    Attributes:
        step: number of updates taken, a 0-d float tensor on the CPU (:math:`t`).
        exp_avg: first-moment estimate :math:`m_t`, shaped like the parameter.
        exp_avg_sq: second-moment estimate :math:`v_t`, shaped like the parameter.
        max_exp_avg_sq: running maximum of :math:`v_t` (AMSGrad only, else ``None``).
    """

    step: Tensor
    exp_avg: Tensor
    exp_avg_sq: Tensor
    max_exp_avg_sq: Tensor | None = None

    @classmethod
    def zeros_like(cls, param: Tensor, *, amsgrad: bool = False) -> AdamState:
        """Fresh state for ``param``: step 0 and zero moments."""

        def zeros() -> Tensor:
            return torch.zeros_like(param, memory_format=torch.preserve_format)

        return cls(new_scalar(0.0), zeros(), zeros(), zeros() if amsgrad else None)


def adam(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    states: Sequence[AdamState],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
    foreach: bool = False,
) -> None:
    r"""One Adam step on every tensor in ``params``, in place (see :class:`Adam` for the rule).

    Args:
        params: parameters to update.
        grads: their gradients (not modified).
        states: their states (updated in place).
        lr: learning rate :math:`\eta`.
        beta1: first-moment decay :math:`\beta_1`.
        beta2: second-moment decay :math:`\beta_2`.
        eps: :math:`\epsilon`, added to :math:`\sqrt{\hat v_t}`.
        weight_decay: :math:`\lambda`.
        amsgrad: normalise by the running maximum of :math:`v_t`.
        maximize: ascend instead of descend.
        decoupled_weight_decay: AdamW's decay of the parameters instead of an L2 gradient term.
        foreach: use the multi-tensor kernels (every tensor on one device and dtype).
    """
    step_fn = _adam_foreach if foreach else _adam_readable
    step_fn(
        list(params),
        list(grads),
        list(states),
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
        decoupled_weight_decay=decoupled_weight_decay,
    )


def _adam_readable(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[AdamState],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> None:
    for theta, g, s in zip(params, grads, states, strict=True):
        g = -g if maximize else g
        s.step.add_(1)
        t = host_value(s.step)
        if weight_decay != 0:
            if decoupled_weight_decay:
                # AdamW: shrink the weights directly; the decay never enters m or v.
                theta.mul_(1 - lr * weight_decay)
            else:
                # L2-Adam: the penalty's gradient joins g, so 1/sqrt(v) rescales it too.
                g = g + weight_decay * theta
        s.exp_avg.mul_(beta1).add_(g, alpha=1 - beta1)  # m_t = b1 m + (1 - b1) g
        s.exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t = b2 v + (1 - b2) g^2
        v = s.exp_avg_sq
        if amsgrad:
            torch.maximum(s.max_exp_avg_sq, v, out=s.max_exp_avg_sq)
            v = s.max_exp_avg_sq
        m_hat = s.exp_avg / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        # eps is added after the square root and after bias correction. In-place square root
        # and addition, then one fused theta -= lr * m_hat / denom: two temporaries, not six.
        denom = v_hat.sqrt_().add_(eps)
        theta.addcdiv_(m_hat, denom, value=-lr)


def _adam_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[AdamState],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> None:
    # The same maths as _adam_readable, one kernel per operation for the whole list.
    steps = [s.step for s in states]
    exp_avgs = [s.exp_avg for s in states]
    exp_avg_sqs = [s.exp_avg_sq for s in states]
    if maximize:
        grads = torch._foreach_neg(grads)
    torch._foreach_add_(steps, 1.0)
    if weight_decay != 0:
        if decoupled_weight_decay:
            torch._foreach_mul_(params, 1 - lr * weight_decay)
        else:
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
    v = exp_avg_sqs
    if amsgrad:
        v = [s.max_exp_avg_sq for s in states]
        torch._foreach_maximum_(v, exp_avg_sqs)
    # Bias corrections are host scalars, one per tensor (steps can differ across a group).
    ts = [host_value(step) for step in steps]
    bias_correction2_sqrt = [(1 - beta2**t) ** 0.5 for t in ts]
    step_sizes = [-lr / (1 - beta1**t) for t in ts]
    denom = torch._foreach_sqrt(v)
    torch._foreach_div_(denom, bias_correction2_sqrt)
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denom, step_sizes)


class Adam(CourseOptimizer):
    r"""Adam (Kingma & Ba, 2015), with torch's AMSGrad and decoupled-weight-decay options.

    For each parameter, with gradient :math:`g_t` (negated if ``maximize``):

    .. math::
        g_t &\leftarrow g_t + \lambda\theta_{t-1}
            \quad\text{(L2-Adam: if } \lambda \ne 0 \text{ and not decoupled)}\\
        \theta_{t-1} &\leftarrow (1 - \eta\lambda)\,\theta_{t-1}
            \quad\text{(AdamW: if decoupled)}\\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2\\
        \hat m_t &= \frac{m_t}{1-\beta_1^t}, \qquad
        \hat v_t = \frac{v_t}{1-\beta_2^t}
            \quad(\text{AMSGrad: } v_t \to \max_{s \le t} v_s)\\
        \theta_t &= \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    Semantics that trip people up:

    * :math:`\epsilon` sits outside the square root and after bias correction; putting it
      inside, or before the correction, gives a different optimizer early in training.
    * ``weight_decay`` without ``decoupled_weight_decay`` adds :math:`\lambda\theta` to the
      gradient: that is L2-regularised Adam, and the decay is then divided by
      :math:`\sqrt{\hat v_t}`. AdamW multiplies the parameters by :math:`1-\eta\lambda` instead.
    * The AMSGrad maximum is taken over raw :math:`v_t`, then bias-corrected.

    Args:
        params: parameters or parameter groups.
        lr: learning rate :math:`\eta`; a one-element tensor is read as a Python float (torch
            computes with the tensor, so a float32 one rounds its bias corrections to float32).
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1); both floats or both tensors.
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda`.
        amsgrad: use the running maximum of :math:`v_t` (Reddi et al., 2018).
        maximize: maximise the objective instead of minimising it.
        decoupled_weight_decay: decay the parameters directly (this makes it AdamW).
        impl: ``"readable"``, ``"foreach"`` or ``"compiled"``
            (see :mod:`course_lib.optim.compiled`).

    Raises:
        ValueError: on a negative ``lr``, ``eps`` or ``weight_decay``, or a beta outside [0, 1).
    """

    impls = ("readable", "foreach", "compiled")

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        impl: Impl = "readable",
    ) -> None:
        check_adam_family(lr, betas, eps, weight_decay)
        if isinstance(betas[0], Tensor) != isinstance(betas[1], Tensor):
            raise ValueError(f"betas must be either both floats or both Tensors, got {betas!r}")
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults, impl)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # State dicts from older torch versions may lack the newer flags (torch does the same).
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("decoupled_weight_decay", False)

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        amsgrad = group["amsgrad"]
        states = []
        for p in params:
            raw = self.state[p]
            if not raw:
                raw.update(AdamState.zeros_like(p, amsgrad=amsgrad).to_dict())
            elif amsgrad and "max_exp_avg_sq" not in raw:
                raise RuntimeError("amsgrad was switched on after the first step; torch fails too")
            states.append(AdamState.from_dict(raw))
        beta1, beta2 = group["betas"]
        hyper: dict[str, Any] = dict(
            lr=as_float(group["lr"]),
            beta1=as_float(beta1),
            beta2=as_float(beta2),
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            amsgrad=amsgrad,
            maximize=group["maximize"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
        )
        grads = [p.grad for p in params]
        if self.impl == "compiled" and True:
            compiled.adam(params, grads, states, **hyper)
        else:
            adam(params, grads, states, **hyper, foreach=use_foreach(self.impl, params))


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    Exactly :class:`Adam` with ``decoupled_weight_decay=True`` (as in torch), and a default
    :math:`\lambda = 10^{-2}`. Each step first shrinks the parameters,
    :math:`\theta \leftarrow (1-\eta\lambda)\,\theta`, then takes the Adam step; the decay never
    passes through :math:`m_t` or :math:`v_t`. Note that the shrink factor is
    :math:`\eta\lambda`, so a learning-rate schedule also schedules the decay.

    Args:
        params: parameters or parameter groups.
        lr: learning rate :math:`\eta`.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1).
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda`.
        amsgrad: use the running maximum of :math:`v_t`.
        maximize: maximise the objective instead of minimising it.
        impl: ``"readable"``, ``"foreach"`` or ``"compiled"``
            (see :mod:`course_lib.optim.compiled`).

    Raises:
        ValueError: on a negative ``lr``, ``eps`` or ``weight_decay``, or a beta outside [0, 1).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        impl: Impl = "readable",
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            impl=impl,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Like torch: whatever state dict is loaded (even plain Adam's), AdamW stays decoupled.
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
