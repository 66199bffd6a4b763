"""Step-by-step comparison of a scheduler against its reference (usually torch's class).

Both schedulers drive their own optimizer, built identically: two param groups with different
lrs (so a scheduler that ignores a group's own base lr is caught), with momentum (SGD) or betas
(Adam) so that momentum cycling can be checked. After the constructor and after every step, the
schedulers' ``get_last_lr()``, the groups' lr and the groups' momentum / ``betas[0]`` must agree
to ``rtol`` (plus an absolute 1e-16 of the largest initial lr: where the exact lr is 0, torch's
recursion leaves rounding noise of about 1e-19, e.g. a *negative* lr at the end of
``LinearLR(end_factor=0)``, while a closed form gives 0). Optionally both are saved and
reloaded mid-run (``state_dict`` round trip through pickle, into a fresh optimizer and
scheduler), or resumed with ``last_epoch``.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import torch

SchedulerFactory = Callable[..., Any]

RTOL = 1e-12
LRS = (0.1, 0.03)
ATOL = 1e-16 * max(LRS)


def make_optimizer(kind: str = "sgd", lrs: Sequence[float] = LRS) -> torch.optim.Optimizer:
    """Fresh optimizer over one small float64 tensor per group, one group per lr."""
    gen = torch.Generator().manual_seed(0)
    groups = [
        {
            "params": [torch.randn(3, generator=gen, dtype=torch.float64, requires_grad=True)],
            "lr": lr,
        }
        for lr in lrs
    ]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)
    if kind == "sgd0":  # momentum 0: the case where CyclicLR switches momentum on
        return torch.optim.SGD(groups, lr=lrs[0])
    if kind == "adam":
        return torch.optim.Adam(groups, lr=lrs[0], betas=(0.9, 0.99))
    if kind == "adagrad":  # no momentum at all
        return torch.optim.Adagrad(groups, lr=lrs[0])
    raise ValueError(kind)


def _momenta(opt: torch.optim.Optimizer) -> list[float]:
    out = []
    for g in opt.param_groups:
        if "betas" in g:
            out.append(float(g["betas"][0]))
        elif "momentum" in g:
            out.append(float(g["momentum"]))
    return out


def assert_same(
    ref: Any,
    ours: Any,
    opt_r: torch.optim.Optimizer,
    opt_o: torch.optim.Optimizer,
    where: str,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> None:
    """last lrs, group lrs and momenta must agree; the message says at which step they differ."""
    pairs = {
        "get_last_lr()": (
            [float(v) for v in ref.get_last_lr()],
            [float(v) for v in ours.get_last_lr()],
        ),
        "group lr": (
            [float(g["lr"]) for g in opt_r.param_groups],
            [float(g["lr"]) for g in opt_o.param_groups],
        ),
        "momentum": (_momenta(opt_r), _momenta(opt_o)),
    }
    for what, (a, b) in pairs.items():
        # plain Python, not np.allclose: this runs ~10^5 times per test session
        if len(a) != len(b) or any(
            not abs(y - x) <= atol + rtol * abs(x) for x, y in zip(a, b, strict=True)
        ):
            raise AssertionError(f"{what} differs {where}: reference {a}, ours {b}")


def round_trip(
    make: SchedulerFactory, sched: Any, opt: torch.optim.Optimizer, kind: str, lrs: Sequence[float]
) -> tuple[torch.optim.Optimizer, Any]:
    """Save optimizer and scheduler (through pickle), load them into fresh ones."""
    opt_state = copy.deepcopy(opt.state_dict())
    sched_state = pickle.loads(pickle.dumps(sched.state_dict()))
    new_opt = make_optimizer(kind, lrs)
    new_sched = make(new_opt)
    new_opt.load_state_dict(opt_state)
    new_sched.load_state_dict(sched_state)
    return new_opt, new_sched


def compare(
    make_ref: SchedulerFactory,
    make_ours: SchedulerFactory,
    steps: int,
    *,
    kind: str = "sgd",
    lrs: Sequence[float] = LRS,
    reload_at: int | None = None,
    metrics: Sequence[float] | None = None,
    rtol: float = RTOL,
) -> list[list[float]]:
    """Run both schedulers ``steps`` steps and check them after each; return our lr history."""
    opt_r, opt_o = make_optimizer(kind, lrs), make_optimizer(kind, lrs)
    ref, ours = make_ref(opt_r), make_ours(opt_o)
    assert_same(ref, ours, opt_r, opt_o, "after the constructor", rtol)
    history = [[float(v) for v in ours.get_last_lr()]]
    for t in range(1, steps + 1):
        opt_r.step()
        opt_o.step()
        if metrics is None:
            ref.step()
            ours.step()
        else:
            ref.step(metrics[t - 1])
            ours.step(metrics[t - 1])
        assert_same(ref, ours, opt_r, opt_o, f"at step {t}", rtol)
        history.append([float(v) for v in ours.get_last_lr()])
        if t == reload_at:
            opt_r, ref = round_trip(make_ref, ref, opt_r, kind, lrs)
            opt_o, ours = round_trip(make_ours, ours, opt_o, kind, lrs)
            assert_same(ref, ours, opt_r, opt_o, f"after reloading at step {t}", rtol)
    return history


def compare_resume(
    make_ref: SchedulerFactory,
    make_ours: SchedulerFactory,
    last_epoch: int,
    steps: int,
    *,
    kind: str = "sgd",
    lrs: Sequence[float] = LRS,
) -> None:
    """Resume both with ``last_epoch`` from a checkpoint of the reference run, then compare.

    ``make_*(optimizer, last_epoch)``. The checkpoint is the optimizer state after
    ``last_epoch`` reference steps (its groups hold ``initial_lr`` and the current lr).
    """
    opt = make_optimizer(kind, lrs)
    sched = make_ref(opt, -1)
    for _ in range(last_epoch):
        opt.step()
        sched.step()
    state = copy.deepcopy(opt.state_dict())
    opt_r, opt_o = make_optimizer(kind, lrs), make_optimizer(kind, lrs)
    opt_r.load_state_dict(state)
    opt_o.load_state_dict(copy.deepcopy(state))
    ref, ours = make_ref(opt_r, last_epoch), make_ours(opt_o, last_epoch)
    assert_same(ref, ours, opt_r, opt_o, f"after resuming at last_epoch={last_epoch}")
    for t in range(1, steps + 1):
        opt_r.step()
        opt_o.step()
        ref.step()
        ours.step()
        assert_same(ref, ours, opt_r, opt_o, f"at step {t} after resuming at {last_epoch}")
