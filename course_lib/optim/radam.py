r"""RAdam: Adam whose adaptive step is switched on gradually, by a variance rectification term.

Early in training :math:`v_t` averages only a few squared gradients, so :math:`1/\sqrt{\hat v_t}`
has a large variance. RAdam (Liu et al., 2020) estimates the length :math:`\rho_t` of the simple
moving average that :math:`v_t` approximates, takes plain momentum-SGD steps while it is short,
and afterwards multiplies the Adam step by a factor :math:`r_t \to 1`.

Layers as in :mod:`course_lib.optim.adam`: :class:`RAdamState` (torch's keys), the functional
core :func:`radam`, and the class :class:`RAdam`.
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

__all__ = ["RAdam", "RAdamState", "radam", "rectification", "sma_length"]

# torch takes the rectified (adaptive) step when rho_t > 5. The paper's Algorithm 2 says
# rho_t > 4, where r_t is already defined; the two differ at exactly one step (t = 5 for
# beta2 = 0.999, where rho_5 = 4.996).
RHO_THRESHOLD = 5.0


def sma_length(t: float, beta2: float) -> float:
    r"""Length :math:`\rho_t = \rho_\infty - 2t\beta_2^t/(1-\beta_2^t)` of the approximated SMA.

    Args:
        t: step number (1 for the first update).
        beta2: second-moment decay :math:`\beta_2`.

    Returns:
        :math:`\rho_t`; it grows from 1 at :math:`t=1` towards
        :math:`\rho_\infty = 2/(1-\beta_2) - 1`.
    """
    rho_inf = 2 / (1 - beta2) - 1
    return rho_inf - 2 * t * beta2**t / (1 - beta2**t)


def rectification(t: float, beta2: float) -> float:
    r"""The rectification term :math:`r_t`, or 0 on the steps where torch does not rectify.

    .. math::
        r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}
        \quad\text{if } \rho_t > 5.

    Args:
        t: step number (1 for the first update).
        beta2: second-moment decay :math:`\beta_2`.
    """
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = sma_length(t, beta2)
    if not rho_t > RHO_THRESHOLD:
        return 0.0
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


@dataclass
class RAdamState(TorchKeyedState):
    """Per-parameter RAdam state under torch's key names.

    Attributes:
        step: number of updates taken, a 0-d float tensor on the CPU (:math:`t`).
        exp_avg: first-moment estimate :math:`m_t`.
        exp_avg_sq: second-moment estimate :math:`v_t`.
    """

    step: Tensor
    exp_avg: Tensor
    exp_avg_sq: Tensor

    @classmethod
    def zeros_like(cls, param: Tensor) -> RAdamState:
        """Fresh state for ``param``: step 0 and zero moments."""
        zeros = torch.zeros_like(param, memory_format=torch.preserve_format)
        return cls(new_scalar(0.0), zeros, zeros.clone())


def radam(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    states: Sequence[RAdamState],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
    foreach: bool = False,
) -> None:
    r"""One RAdam step on every tensor in ``params``, in place (see :class:`RAdam`).

    Args:
        params: parameters to update.
        grads: their gradients (not modified).
        states: their states (updated in place).
        lr: learning rate :math:`\eta`.
        beta1: first-moment decay :math:`\beta_1`.
        beta2: second-moment decay :math:`\beta_2`.
        eps: :math:`\epsilon`, added to :math:`\sqrt{v_t}` (before bias correction).
        weight_decay: :math:`\lambda`.
        decoupled_weight_decay: decay the parameters (RAdamW) instead of an L2 gradient term.
        maximize: ascend instead of descend.
        foreach: use the multi-tensor kernels (every tensor on one device and dtype).
    """
    step_fn = _radam_foreach if foreach else _radam_readable
    step_fn(
        list(params),
        list(grads),
        list(states),
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
    )


def _radam_readable(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[RAdamState],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> None:
    for theta, g, s in zip(params, grads, states, strict=True):
        g = -g if maximize else g
        s.step.add_(1)
        t = host_value(s.step)
        if weight_decay != 0:
            if decoupled_weight_decay:
                theta.mul_(1 - lr * weight_decay)  # RAdamW, as in the authors' code
            else:
                g = g + weight_decay * theta  # L2 penalty, as in the paper's Adam
        s.exp_avg.mul_(beta1).add_(g, alpha=1 - beta1)  # m_t
        s.exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t
        m_hat = s.exp_avg / (1 - beta1**t)
        r_t = rectification(t, beta2)
        if r_t > 0:
            # Adaptive step. Unlike Adam, eps is added to sqrt(v_t) *before* bias correction:
            # l_t = sqrt(1 - beta2^t) / (sqrt(v_t) + eps).
            l_t = (1 - beta2**t) ** 0.5 / (s.exp_avg_sq.sqrt() + eps)
            theta.sub_(lr * r_t * m_hat * l_t)
        else:
            # Too few effective samples in v_t to trust 1/sqrt(v_t) yet: momentum-SGD step.
            theta.sub_(lr * m_hat)


def _radam_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[RAdamState],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> None:
    # The same maths as _radam_readable, one kernel per operation for the whole list.
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
    # Which tensors take the rectified step depends only on their step counts (host scalars),
    # so the list splits in two; in a group that started together one part is empty.
    ts = [host_value(step) for step in steps]
    rects = [rectification(t, beta2) for t in ts]
    adaptive = [i for i, r in enumerate(rects) if r > 0]
    plain = [i for i, r in enumerate(rects) if not r > 0]
    if adaptive:
        denom = torch._foreach_sqrt([exp_avg_sqs[i] for i in adaptive])
        torch._foreach_add_(denom, eps)
        sizes = [
            -lr * rects[i] * (1 - beta2 ** ts[i]) ** 0.5 / (1 - beta1 ** ts[i]) for i in adaptive
        ]
        adaptive_params = [params[i] for i in adaptive]
        adaptive_exp_avgs = [exp_avgs[i] for i in adaptive]
        torch._foreach_addcdiv_(adaptive_params, adaptive_exp_avgs, denom, sizes)
    if plain:
        sizes = [-lr / (1 - beta1 ** ts[i]) for i in plain]
        update = torch._foreach_mul([exp_avgs[i] for i in plain], sizes)
        torch._foreach_add_([params[i] for i in plain], update)


class RAdam(CourseOptimizer):
    r"""RAdam (Liu et al., 2020): Adam with a rectified, gradually switched-on adaptive step.

    With :math:`g_t` (negated if ``maximize``; weight decay as in :class:`Adam`: L2 on the
    gradient, or :math:`\theta \leftarrow (1-\eta\lambda)\theta` if decoupled),
    :math:`m_t, v_t` as in Adam and :math:`\hat m_t = m_t/(1-\beta_1^t)`:

    .. math::
        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t}\\
        \theta_t &= \begin{cases}
            \theta_{t-1} - \eta\, r_t\, \hat m_t\, \dfrac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon}
                & \rho_t > 5,\\
            \theta_{t-1} - \eta\, \hat m_t & \text{otherwise,}
        \end{cases}\\
        r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}.

    Semantics that trip people up:

    * torch switches to the rectified step when :math:`\rho_t > 5`; the paper says
      :math:`\rho_t > 4`. With :math:`\beta_2 = 0.999`, :math:`\rho_5 \approx 4.996`, so the
      first rectified step is :math:`t = 6` here and :math:`t = 5` in the paper.
    * Before the switch the step is :math:`\eta\hat m_t`, un-normalised: its size scales with
      the gradient, unlike Adam's.
    * :math:`\rho_t < \rho_\infty`, so with :math:`\beta_2 \le 2/3` (:math:`\rho_\infty \le 5`)
      the switch never comes and RAdam is momentum SGD throughout.
    * :math:`\epsilon` is added to :math:`\sqrt{v_t}` before the bias correction, i.e. the
      denominator is :math:`\sqrt{\hat v_t} + \epsilon/\sqrt{1-\beta_2^t}` (Adam's is
      :math:`\sqrt{\hat v_t} + \epsilon`).

    Args:
        params: parameters or parameter groups.
        lr: learning rate :math:`\eta`.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1).
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda`.
        decoupled_weight_decay: decay the parameters directly (RAdamW).
        maximize: maximise the objective instead of minimising it.
        impl: ``"readable"`` or ``"foreach"``.

    Raises:
        ValueError: on a negative ``lr``, ``eps`` or ``weight_decay``, or a beta outside [0, 1).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        impl: Impl = "readable",
    ) -> None:
        check_adam_family(lr, betas, eps, weight_decay)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
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
                self.state[p].update(RAdamState.zeros_like(p).to_dict())
            states.append(RAdamState.from_dict(self.state[p]))
        beta1, beta2 = group["betas"]
        radam(
            params,
            [p.grad for p in params],
            states,
            lr=as_float(group["lr"]),
            beta1=as_float(beta1),
            beta2=as_float(beta2),
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"],
            foreach=use_foreach(self.impl, params),
        )
