r"""The compiled fast path (``impl="compiled"``): per-tensor updates fused by ``torch.compile``.

The foreach path launches one kernel per operation for all tensors, so Adam reads and writes
every state tensor several times per step. torch's ``fused=True`` kernels read each tensor once.
We get the same single pass without writing C++: each kernel below is the readable per-tensor
update, written with tensor-valued scalars (the step count and the learning rate are 0-d tensors,
not Python floats), and ``torch.compile`` turns each tensor's update into one loop.

Why tensor-valued scalars: ``torch.compile`` treats a Python float as a constant of the compiled
graph, so a learning rate that a scheduler changes every step, or a bias correction that changes
with the step, would trigger a recompilation each step. As graph inputs they do not.

The numbers are those of the readable path: scalar factors (learning rate, bias corrections) are
computed in float64 from the step count, as torch does with Python floats, then cast to the
parameters' dtype before they touch a tensor, as torch's kernels cast a Python scalar. (Left in
float64, they would promote the whole update to float64: slower, and not torch's numbers.)

Hyperparameters that are Python floats or bools (betas, eps, weight decay, flags) are constants
of the compiled graph: changing one recompiles once, which is cheap compared with training.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:  # the optimizer modules import this one: types only, to avoid a cycle
    from course_lib.optim.adagrad import AdagradState
    from course_lib.optim.adam import AdamState
    from course_lib.optim.rmsprop import RMSpropState
    from course_lib.optim.sgd import SGDState

__all__ = ["adagrad", "adam", "rmsprop", "sgd"]


def _lazily_compiled(kernel: Callable[..., None]) -> Callable[..., None]:
    """Compile ``kernel`` on first use (importing this module must stay cheap)."""
    compiled: Callable[..., None] | None = None

    @functools.wraps(kernel)
    def run(*args: Any, **kwargs: Any) -> None:
        nonlocal compiled
        if compiled is None:
            # dynamic=False: a training run keeps the same parameter shapes, so specialise on them.
            compiled = torch.compile(kernel, dynamic=False)
        try:
            compiled(*(_no_zero_dim(a) for a in args), **kwargs)
        except torch._dynamo.exc.BackendCompilerFailed as err:  # no C++ compiler, for example
            raise RuntimeError(
                "impl='compiled' needs a working torch.compile (on the CPU: a C++ compiler); "
                "use impl='foreach' instead, which gives the same numbers"
            ) from err

    return run


def _no_zero_dim(arg: Any) -> Any:
    """0-d tensors (and lists of them) as 1-element views of the same storage.

    The compiled graph does not write back in-place updates to 0-d tensor inputs (torch 2.13
    turns them into scalars), which would silently drop the update of a scalar parameter or of a
    step counter; a view of shape (1,) is updated in place like any other tensor.
    """
    if isinstance(arg, Tensor):
        return arg.view(1) if arg.dim() == 0 else arg
    if isinstance(arg, list):
        return [_no_zero_dim(a) for a in arg]
    return arg


def _scalar(value: float | Tensor) -> Tensor:
    """A hyperparameter as a 0-d float64 CPU tensor: a graph input, not a baked-in constant."""
    if isinstance(value, Tensor):
        return value.detach().to(device="cpu", dtype=torch.float64)
    return torch.tensor(value, dtype=torch.float64)


@_lazily_compiled
def _sgd_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    bufs: list[Tensor],
    lr: Tensor,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    for p, g, b in zip(params, grads, bufs, strict=True):
        eta = lr.to(p.dtype)
        d = -g if maximize else g
        if weight_decay != 0:
            d = d + weight_decay * p
        if momentum != 0:
            b.mul_(momentum).add_(d, alpha=1 - dampening)
            d = d + momentum * b if nesterov else b
        p.sub_(eta * d)


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
) -> None:
    """SGD step (see :class:`course_lib.optim.SGD`); every momentum buffer must exist already.

    Plain SGD (``momentum == 0``) passes the parameters as dummy buffers, which are not touched.
    """
    bufs = [s.momentum_buffer if momentum != 0 else p for s, p in zip(states, params, strict=True)]
    _sgd_kernel(
        params, grads, bufs, _scalar(lr), momentum, dampening, weight_decay, nesterov, maximize
    )


@_lazily_compiled
def _adam_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    step_sizes: Tensor,
    bias_corrections2_sqrt: Tensor,
    lr: Tensor,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> None:
    for i, (p, g, m, v) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs, strict=True)):
        d = -g if maximize else g
        if weight_decay != 0:
            if decoupled_weight_decay:
                p.mul_((1 - lr * weight_decay).to(p.dtype))
            else:
                d = d + weight_decay * p
        m.lerp_(d, 1 - beta1)
        v.mul_(beta2).addcmul_(d, d, value=1 - beta2)
        if amsgrad:
            torch.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])
            v = max_exp_avg_sqs[i]
        step_size = step_sizes[i].to(p.dtype)
        bias_correction2_sqrt = bias_corrections2_sqrt[i].to(p.dtype)
        p.sub_(step_size * m / (v.sqrt() / bias_correction2_sqrt + eps))


def adam(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[AdamState],
    *,
    lr: float | Tensor,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> None:
    """Adam/AdamW step (see :class:`course_lib.optim.Adam`), states updated in place.

    The bias corrections are computed here, eagerly, for all tensors at once: inside the compiled
    kernel they would be inlined into each tensor's loop and recomputed (two ``pow``) for every
    block of elements.
    """
    steps = [s.step for s in states]
    torch._foreach_add_(steps, 1.0)
    t = torch.stack(steps).to(torch.float64)
    lr64 = _scalar(lr)
    step_sizes = (lr64 / (1 - beta1**t)).to(params[0].device)
    bias_corrections2_sqrt = (1 - beta2**t).sqrt().to(params[0].device)
    _adam_kernel(
        params,
        grads,
        [s.exp_avg for s in states],
        [s.exp_avg_sq for s in states],
        [s.max_exp_avg_sq for s in states] if amsgrad else [],
        step_sizes,
        bias_corrections2_sqrt,
        lr64,
        beta1,
        beta2,
        eps,
        weight_decay,
        amsgrad,
        maximize,
        decoupled_weight_decay,
    )


@_lazily_compiled
def _rmsprop_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    square_avgs: list[Tensor],
    grad_avgs: list[Tensor],
    bufs: list[Tensor],
    steps: list[Tensor],
    lr: Tensor,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    for i, (p, g, sq, step) in enumerate(zip(params, grads, square_avgs, steps, strict=True)):
        step.add_(1)
        eta = lr.to(p.dtype)
        d = -g if maximize else g
        if weight_decay != 0:
            d = d + weight_decay * p
        sq.mul_(alpha).addcmul_(d, d, value=1 - alpha)
        if centered:
            grad_avgs[i].lerp_(d, 1 - alpha)
            avg = (sq - grad_avgs[i] * grad_avgs[i]).sqrt() + eps
        else:
            avg = sq.sqrt() + eps
        if momentum > 0:
            bufs[i].mul_(momentum).addcdiv_(d, avg)
            p.sub_(eta * bufs[i])
        else:
            p.sub_(eta * d / avg)


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
) -> None:
    """RMSprop step (see :class:`course_lib.optim.RMSprop`), states updated in place."""
    _rmsprop_kernel(
        params,
        grads,
        [s.square_avg for s in states],
        [s.grad_avg for s in states] if centered else [],
        [s.momentum_buffer for s in states] if momentum > 0 else [],
        [s.step for s in states],
        _scalar(lr),
        alpha,
        eps,
        weight_decay,
        momentum,
        centered,
        maximize,
    )


@_lazily_compiled
def _adagrad_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    sums: list[Tensor],
    clrs: Tensor,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> None:
    for i, (p, g, s) in enumerate(zip(params, grads, sums, strict=True)):
        d = -g if maximize else g
        if weight_decay != 0:
            d = d + weight_decay * p
        clr = clrs[i].to(p.dtype)
        s.addcmul_(d, d, value=1)
        p.sub_(clr * d / (s.sqrt() + eps))


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
) -> None:
    """Adagrad step (see :class:`course_lib.optim.Adagrad`), states updated in place.

    The decayed learning rates are computed eagerly for all tensors at once (see :func:`adam`).
    """
    steps = [s.step for s in states]
    torch._foreach_add_(steps, 1.0)
    t = torch.stack(steps).to(torch.float64)
    clrs = (_scalar(lr) / (1 + (t - 1) * lr_decay)).to(params[0].device)
    _adagrad_kernel(
        params,
        grads,
        [s.sum for s in states],
        clrs,
        weight_decay,
        eps,
        maximize,
    )
