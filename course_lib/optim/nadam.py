r"""NAdam: Adam with Nesterov momentum and a warming-up momentum schedule (Dozat, 2016).

Nesterov's idea in Adam's terms: the step uses the momentum *one step ahead*,
:math:`\mu_{t+1} m_t`, plus the part of the current gradient that the momentum has not yet
absorbed, :math:`(1-\mu_t) g_t`. Dozat also lets :math:`\mu_t` warm up from
:math:`\beta_1/2` towards :math:`\beta_1` (torch's ``momentum_decay`` :math:`\psi`).

Layers as in :mod:`course_lib.optim.adam`: :class:`NAdamState` (torch's keys), the functional
core :func:`nadam`, and the class :class:`NAdam`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from course_lib.optim.adam import check_adam_family
from course_lib.optim.base import CourseOptimizer, Impl, ParamsT, use_foreach
from course_lib.optim.state import TorchKeyedState, as_float, host_value, new_scalar
from course_lib.optim.validation import check_non_negative

__all__ = ["NAdam", "NAdamState", "momentum_schedule", "nadam"]


def momentum_schedule(t: float, beta1: float, momentum_decay: float) -> float:
    r"""The momentum coefficient :math:`\mu_t = \beta_1 (1 - \tfrac12 \cdot 0.96^{t\psi})`.

    Args:
        t: step number (1 for the first update).
        beta1: the limit :math:`\beta_1` of the schedule.
        momentum_decay: :math:`\psi`; 0 gives the constant :math:`\beta_1/2`.
    """
    return beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))


@dataclass
class NAdamState(TorchKeyedState):
    r"""Per-parameter NAdam state under torch's key names.

    Attributes:
        step: number of updates taken, a 0-d float tensor on the CPU (:math:`t`).
        mu_product: :math:`\prod_{i \le t} \mu_i`, a 0-d tensor like ``step`` (float32 unless
            the default dtype is float64, as in torch; loading a state dict moves it to the
            parameter's dtype and device, again as in torch).
        exp_avg: first-moment estimate :math:`m_t`.
        exp_avg_sq: second-moment estimate :math:`v_t`.
    """

    step: Tensor
    mu_product: Tensor
    exp_avg: Tensor
    exp_avg_sq: Tensor

    @classmethod
    def zeros_like(cls, param: Tensor) -> NAdamState:
        """Fresh state for ``param``: step 0, empty product 1, zero moments."""
        zeros = torch.zeros_like(param, memory_format=torch.preserve_format)
        return cls(new_scalar(0.0), new_scalar(1.0), zeros, zeros.clone())


def nadam(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    states: Sequence[NAdamState],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    momentum_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
    foreach: bool = False,
) -> None:
    r"""One NAdam step on every tensor in ``params``, in place (see :class:`NAdam`).

    Args:
        params: parameters to update.
        grads: their gradients (not modified).
        states: their states (updated in place).
        lr: learning rate :math:`\eta`.
        beta1: first-moment decay :math:`\beta_1`, also the limit of :math:`\mu_t`.
        beta2: second-moment decay :math:`\beta_2`.
        eps: :math:`\epsilon`, added to :math:`\sqrt{\hat v_t}`.
        weight_decay: :math:`\lambda`.
        momentum_decay: :math:`\psi` in the momentum schedule.
        decoupled_weight_decay: decay the parameters (NAdamW) instead of an L2 gradient term.
        maximize: ascend instead of descend.
        foreach: use the multi-tensor kernels (every tensor on one device and dtype).
    """
    step_fn = _nadam_foreach if foreach else _nadam_readable
    step_fn(
        list(params),
        list(grads),
        list(states),
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        momentum_decay=momentum_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
    )


def _nadam_readable(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[NAdamState],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    momentum_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> None:
    for theta, g, s in zip(params, grads, states, strict=True):
        g = -g if maximize else g
        s.step.add_(1)
        t = host_value(s.step)
        if weight_decay != 0:
            if decoupled_weight_decay:
                theta.mul_(1 - lr * weight_decay)  # NAdamW
            else:
                g = g + weight_decay * theta  # L2 penalty
        mu = momentum_schedule(t, beta1, momentum_decay)
        mu_next = momentum_schedule(t + 1, beta1, momentum_decay)
        # In place on the stored scalar, in its own dtype (float32 by default), like torch.
        s.mu_product.mul_(mu)
        mu_prod = host_value(s.mu_product)
        s.exp_avg.mul_(beta1).add_(g, alpha=1 - beta1)  # m_t
        s.exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t
        denom = (s.exp_avg_sq / (1 - beta2**t)).sqrt() + eps  # sqrt(v_hat) + eps, as in Adam
        # Nesterov: the current gradient's share, and the momentum one step ahead, each
        # bias-corrected by the product of the mus that multiply it.
        g_hat = (1 - mu) / (1 - mu_prod) * g
        m_hat = mu_next / (1 - mu_prod * mu_next) * s.exp_avg
        theta.sub_(lr * (g_hat + m_hat) / denom)


def _nadam_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[NAdamState],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    momentum_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> None:
    # The same maths as _nadam_readable, one kernel per operation for the whole list.
    steps = [s.step for s in states]
    mu_products = [s.mu_product for s in states]
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
    ts = [host_value(step) for step in steps]
    mus = [momentum_schedule(t, beta1, momentum_decay) for t in ts]
    mu_nexts = [momentum_schedule(t + 1, beta1, momentum_decay) for t in ts]
    torch._foreach_mul_(mu_products, mus)
    mu_prods = [host_value(mp) for mp in mu_products]
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, [(1 - beta2**t) ** 0.5 for t in ts])
    torch._foreach_add_(denom, eps)
    grad_sizes = [-lr * (1 - mu) / (1 - mp) for mu, mp in zip(mus, mu_prods, strict=True)]
    avg_sizes = [-lr * mn / (1 - mp * mn) for mn, mp in zip(mu_nexts, mu_prods, strict=True)]
    torch._foreach_addcdiv_(params, grads, denom, grad_sizes)
    torch._foreach_addcdiv_(params, exp_avgs, denom, avg_sizes)


class NAdam(CourseOptimizer):
    r"""NAdam (Dozat, 2016): Adam with Nesterov momentum and a momentum warm-up schedule.

    With :math:`g_t` (negated if ``maximize``; weight decay as in :class:`Adam`: L2 on the
    gradient, or :math:`\theta \leftarrow (1-\eta\lambda)\theta` if decoupled) and
    :math:`m_t, v_t` as in Adam:

    .. math::
        \mu_t &= \beta_1\big(1 - \tfrac12\, 0.96^{t\psi}\big), \qquad
        \hat v_t = \frac{v_t}{1-\beta_2^t}\\
        \theta_t &= \theta_{t-1} - \eta\,\frac{1}{\sqrt{\hat v_t}+\epsilon}\left(
            \frac{(1-\mu_t)\, g_t}{1-\prod_{i=1}^{t}\mu_i}
            + \frac{\mu_{t+1}\, m_t}{1-\prod_{i=1}^{t+1}\mu_i}\right)

    Semantics that trip people up:

    * ``momentum_decay`` :math:`\psi` is not a decay of the momentum: it sets how fast
      :math:`\mu_t` rises from :math:`\beta_1/2` to :math:`\beta_1`. With the default
      :math:`\psi = 0.004`, :math:`\mu_t` is about :math:`0.51\beta_1` at :math:`t = 100`,
      :math:`0.58\beta_1` at :math:`t = 1000`, and reaches :math:`0.9\beta_1` near
      :math:`t = 9860`.
    * :math:`m_t` itself is still an EMA with :math:`\beta_1`; the schedule enters only through
      the two coefficients of the step.
    * torch keeps :math:`\prod\mu_i` as a float32 scalar (unless the default dtype is float64),
      so its rounding is part of the update; ours does the same so trajectories agree.

    Args:
        params: parameters or parameter groups.
        lr: learning rate :math:`\eta`.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1).
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda`.
        momentum_decay: :math:`\psi`.
        decoupled_weight_decay: decay the parameters directly (NAdamW).
        maximize: maximise the objective instead of minimising it.
        impl: ``"readable"`` or ``"foreach"``.

    Raises:
        ValueError: on a negative ``lr``, ``eps``, ``weight_decay`` or ``momentum_decay``, or a
            beta outside [0, 1).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        impl: Impl = "readable",
    ) -> None:
        check_adam_family(lr, betas, eps, weight_decay)
        check_non_negative("momentum_decay", momentum_decay)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults, impl)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # State dicts from older torch versions may lack the newer flags (torch does the same).
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("maximize", False)
            group.setdefault("decoupled_weight_decay", False)

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        states = []
        for p in params:
            if not self.state[p]:
                self.state[p].update(NAdamState.zeros_like(p).to_dict())
            states.append(NAdamState.from_dict(self.state[p]))
        beta1, beta2 = group["betas"]
        nadam(
            params,
            [p.grad for p in params],
            states,
            lr=as_float(group["lr"]),
            beta1=as_float(beta1),
            beta2=as_float(beta2),
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum_decay=group["momentum_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"],
            foreach=use_foreach(self.impl, params),
        )
