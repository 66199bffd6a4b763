"""Lookahead against an independent transcription of Algorithm 1 of Zhang et al. (2019).

The reference below is written from the paper, loop for loop: the inner optimizer A is a
torch.optim class stepping its own copy of the parameters, and the slow-weight arithmetic is done
by hand on separate tensors. ``Lookahead`` (wrapping either torch's classes or course_lib's) must
follow it step by step in float64 to 1e-10.
"""

from __future__ import annotations

import copy
import importlib
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch

from course_lib.optim.lookahead import Lookahead
from tests.optim.trajectory import (
    _clone_groups,
    assert_same_trajectory,
    make_params,
    objective,
    param_groups,
    run_trajectory,
)

Factory = Callable[[list[dict[str, Any]]], torch.optim.Optimizer]

# (name of the class under test, name of torch's class that is the reference inner optimizer,
# hyperparameters). course_lib's classes follow torch's trajectories, so both are checked
# against the paper's algorithm driven by torch's class.
INNER: list[tuple[str, str, dict[str, Any]]] = [
    ("torch.optim.SGD", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("torch.optim.Adam", "Adam", {"lr": 0.01}),
    ("torch.optim.AdamW", "AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("torch.optim.RMSprop", "RMSprop", {"lr": 0.01, "momentum": 0.5}),
    ("torch.optim.Adagrad", "Adagrad", {"lr": 0.1}),
    ("course_lib.optim.sgd.SGD", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("course_lib.optim.adam.Adam", "Adam", {"lr": 0.01}),
    ("course_lib.optim.adam.AdamW", "AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("course_lib.optim.rmsprop.RMSprop", "RMSprop", {"lr": 0.01, "momentum": 0.5}),
    ("course_lib.optim.adagrad.Adagrad", "Adagrad", {"lr": 0.1}),
    ("course_lib.optim.radam.RAdam", "RAdam", {"lr": 0.01}),
    ("course_lib.optim.nadam.NAdam", "NAdam", {"lr": 0.01}),
]
IDS = [row[0] for row in INNER]


def resolve(dotted: str) -> type[torch.optim.Optimizer]:
    """Import ``package.module.Class`` (an ImportError fails the test: no silent skip)."""
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def paper_lookahead(
    inner: Factory,
    groups: list[dict[str, Any]],
    steps: int,
    k: int,
    alpha: float,
    scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
) -> list[list[torch.Tensor]]:
    """Algorithm 1, written out: parameters after every inner step (slow weights after a sync)."""
    cloned, theta = _clone_groups(groups)
    names = [p.course_name for g in groups for p in g["params"]]
    A = inner(cloned)
    sched = scheduler(A) if scheduler is not None else None
    phi = [p.detach().clone() for p in theta]  # phi_0 = theta_0
    record: list[list[torch.Tensor]] = []
    t = 0  # index of the inner step, which also picks the minibatch
    while len(record) < steps:
        with torch.no_grad():  # theta_{t,0} <- phi_{t-1}
            for p, s in zip(theta, phi, strict=True):
                p.copy_(s)
        for i in range(1, k + 1):  # k steps of the inner optimizer
            A.zero_grad(set_to_none=True)
            objective(dict(zip(names, theta, strict=True)), t).backward()
            A.step()
            if sched is not None:
                sched.step()
            t += 1
            if i == k:  # phi_t <- phi_{t-1} + alpha (theta_{t,k} - phi_{t-1})
                phi = [s + alpha * (p.detach() - s) for p, s in zip(theta, phi, strict=True)]
                record.append([s.clone() for s in phi])
            else:
                record.append([p.detach().clone() for p in theta])
            if len(record) == steps:
                break
    return record


def assert_close_trajectories(
    ours: list[list[torch.Tensor]], ref: list[list[torch.Tensor]]
) -> None:
    assert len(ours) == len(ref)
    for t, (a_list, b_list) in enumerate(zip(ours, ref, strict=True)):
        for j, (a, b) in enumerate(zip(a_list, b_list, strict=True)):
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), (
                f"step {t + 1}, parameter {j}: max error {(a - b).abs().max().item():.3e}"
            )


@pytest.mark.parametrize(("ours", "ref", "hyper"), INNER, ids=IDS)
@pytest.mark.parametrize(("k", "alpha"), [(3, 0.5), (5, 0.8)])
def test_matches_paper_algorithm(ours: str, ref: str, hyper: dict, k: int, alpha: float, device):
    groups = param_groups(make_params(device), "two", [{}, {"lr": hyper["lr"] / 4}])
    cls, ref_cls = resolve(ours), getattr(torch.optim, ref)
    steps = 3 * k + 2  # three synchronisations, then part of a fourth cycle
    expected = paper_lookahead(lambda g: ref_cls(g, **hyper), groups, steps, k, alpha)
    got, _ = run_trajectory(
        lambda g: Lookahead(cls(g, **hyper), k=k, alpha=alpha), groups, steps, record_state=False
    )
    assert_close_trajectories(got, expected)


def test_reference_can_fail():
    """The comparison sees a wrong alpha (so a passing test means something)."""
    groups = param_groups(make_params(), "one")
    expected = paper_lookahead(lambda g: torch.optim.SGD(g, lr=0.1), groups, 6, 3, 0.5)
    got, _ = run_trajectory(
        lambda g: Lookahead(torch.optim.SGD(g, lr=0.1), k=3, alpha=0.6), groups, 6
    )
    with pytest.raises(AssertionError, match="step 3"):
        assert_close_trajectories(got, expected)


@pytest.mark.parametrize(("ours", "ref", "hyper"), INNER[:3] + INNER[5:7], ids=IDS[:3] + IDS[5:7])
def test_k1_alpha1_is_the_inner_optimizer(ours: str, ref: str, hyper: dict):
    groups = param_groups(make_params(), "two", [{}, {"lr": 1e-3}])
    cls, ref_cls = resolve(ours), getattr(torch.optim, ref)
    assert_same_trajectory(
        lambda g: Lookahead(cls(g, **hyper), k=1, alpha=1.0),
        lambda g: ref_cls(g, **hyper),
        groups,
        use_closure=True,
    )


def test_alpha0_returns_to_initial_weights_on_every_sync():
    groups = param_groups(make_params(), "one")
    initial = [p.detach().clone() for p in groups[0]["params"]]
    traj, _ = run_trajectory(
        lambda g: Lookahead(torch.optim.Adam(g, lr=0.1), k=4, alpha=0.0), groups, 12
    )
    for t, params in enumerate(traj, start=1):
        same = all(torch.equal(a, b) for a, b in zip(params, initial, strict=True))
        assert same == (t % 4 == 0), f"step {t}: equal to the initial weights is {same}"


@pytest.mark.parametrize("reload_at", [2, 3, 5])
def test_state_dict_round_trip_mid_run(reload_at: int):
    """Reloaded mid-cycle, on a sync step and after one: the paper's trajectory continues."""
    groups = param_groups(make_params(), "two", [{}, {"lr": 1e-3}])
    expected = paper_lookahead(lambda g: torch.optim.Adam(g, lr=0.02), groups, 10, 3, 0.5)
    got, _ = run_trajectory(
        lambda g: Lookahead(torch.optim.Adam(g, lr=0.02), k=3, alpha=0.5),
        groups,
        10,
        reload_at=reload_at,
    )
    assert_close_trajectories(got, expected)


def test_state_dict_contents_and_load_into_fresh_wrapper():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = Lookahead(torch.optim.SGD([w], lr=0.1, momentum=0.9), k=3, alpha=0.25)
    for _ in range(4):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    sd = copy.deepcopy(opt.state_dict())
    assert sd["inner_steps"] == 4 and sd["k"] == 3 and sd["alpha"] == 0.25
    assert torch.equal(sd["slow_weights"][0], opt.slow_weights[w])
    assert "momentum_buffer" in sd["inner"]["state"][0]
    other = Lookahead(torch.optim.SGD([w], lr=0.1, momentum=0.9), k=7, alpha=0.9)
    other.load_state_dict(sd)
    assert (other.k, other.alpha, other.inner_steps) == (3, 0.25, 4)
    assert torch.equal(other.slow_weights[w], opt.slow_weights[w])
    # param_groups is still the inner optimizer's list after it replaced it while loading
    assert other.param_groups is other.optimizer.param_groups
    with pytest.raises(ValueError, match="slow weights"):
        other.load_state_dict({**sd, "slow_weights": []})


SCHEDULERS = {
    "StepLR": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    "CosineAnnealingLR": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7),
    "OneCycleLR": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=12),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_schedulers_drive_lookahead(name: str):
    """A scheduler on the wrapper sets the lr the inner optimizer uses (and the trajectory is the
    paper's with the same scheduler on the inner optimizer); OneCycleLR also cycles momentum."""
    make = SCHEDULERS[name]
    groups = param_groups(make_params(), "one")
    inner = lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9)  # noqa: E731
    expected = paper_lookahead(inner, groups, 12, 3, 0.5, scheduler=make)

    cloned, leaves = _clone_groups(groups)
    names = [p.course_name for g in groups for p in g["params"]]
    opt = Lookahead(inner(cloned), k=3, alpha=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        sched = make(opt)
        got, lrs = [], []
        for t in range(12):
            opt.zero_grad()
            objective(dict(zip(names, leaves, strict=True)), t).backward()
            opt.step()
            sched.step()
            got.append([p.detach().clone() for p in leaves])
            lrs.append(opt.optimizer.param_groups[0]["lr"])
    assert_close_trajectories(got, expected)
    assert len(set(lrs)) > 2, "the scheduler did not change the inner optimizer's lr"


def test_step_with_closure_hooks_and_zero_grad():
    w = torch.nn.Parameter(torch.tensor([3.0], dtype=torch.float64))
    opt = Lookahead(torch.optim.LBFGS([w], lr=1, max_iter=1), k=2, alpha=0.5)

    def closure():
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss

    calls = []
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(o))
    assert opt.step(closure).item() == pytest.approx(4.0)
    assert calls == [opt]  # torch's step hooks run around the wrapper's step
    opt.zero_grad(set_to_none=True)
    assert w.grad is None


def test_add_param_group_gets_slow_weights_at_its_current_value():
    a = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=torch.float64))
    b = torch.nn.Parameter(torch.tensor([-1.0], dtype=torch.float64))
    opt = Lookahead(torch.optim.SGD([a], lr=0.1), k=3, alpha=0.0)
    a0 = a.detach().clone()

    def one_step():
        opt.zero_grad()
        ((a - 5) ** 2).sum().add(((b - 5) ** 2).sum()).backward()
        opt.step()

    one_step()
    with torch.no_grad():
        b.add_(1.0)  # b changes before it is handed to the optimizer
    b_added = b.detach().clone()
    opt.add_param_group({"params": [b], "lr": 0.2})
    assert opt.optimizer.param_groups[-1]["params"] == [b]
    one_step()
    assert not torch.equal(b, b_added)
    one_step()  # third step: synchronise everything, alpha = 0 resets to the slow weights
    assert torch.equal(a, a0) and torch.equal(b, b_added)


def test_deepcopy_keeps_the_wrapper():
    w = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = Lookahead(torch.optim.Adam([w]), k=4, alpha=0.3)
    dup = copy.deepcopy(opt)
    assert (dup.k, dup.alpha) == (4, 0.3)
    assert dup.param_groups[0]["params"][0] in dup.slow_weights


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"k": 0}, "k"),
        ({"k": 2.5}, "k"),
        ({"k": True}, "k"),
        ({"alpha": -0.1}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": "half"}, "alpha"),
    ],
)
def test_invalid_arguments(kwargs: dict, name: str):
    w = torch.nn.Parameter(torch.ones(1))
    with pytest.raises(ValueError, match=name):
        Lookahead(torch.optim.SGD([w], lr=0.1), **kwargs)


def test_rejects_a_non_optimizer():
    with pytest.raises(TypeError, match="Optimizer"):
        Lookahead([torch.ones(1)])  # type: ignore[arg-type]
