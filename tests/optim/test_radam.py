"""RAdam against torch.optim.RAdam, step by step, and its rectification switch against the formula.

Trajectories run 14 steps so that both the un-rectified steps (t <= 5 for beta2 = 0.999) and
the rectified ones are compared; the second group's beta2 = 0.99 gives another rho_inf (it
switches at t = 6 as well, see ``test_switch_step_for_other_betas``).
"""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Any

import pytest
import torch

from course_lib.optim.radam import RAdam, RAdamState, radam, rectification, sma_length
from tests.optim.trajectory import (
    assert_same_trajectory,
    make_params,
    objective,
    param_groups,
    run_trajectory,
)

# The compiled path has its own, smaller grid in test_compiled.py (each case compiles).
IMPLS = ("readable", "foreach")

LR = 0.05
SECOND = {"lr": 0.02, "betas": (0.8, 0.99)}
STEPS = 14

GRID = [
    {"weight_decay": wd, "decoupled_weight_decay": d, "maximize": m}
    for wd, d, m in itertools.product([0.0, 0.05], [False, True], [False, True])
]


def hyper_id(hyper: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in hyper.items())


def alternate(first, then):
    """A factory building ``first`` on its first call and ``then`` afterwards (cross-loading)."""
    calls: list[None] = []

    def factory(groups):
        calls.append(None)
        return (first if len(calls) == 1 else then)(groups)

    return factory


@pytest.mark.parametrize("layout", ["one", "two"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("hyper", GRID, ids=hyper_id)
def test_radam_matches_torch(hyper, impl, layout, device):
    groups = param_groups(make_params(device), layout, [{}, SECOND])
    two = layout == "two"
    assert_same_trajectory(
        lambda g: RAdam(g, lr=LR, impl=impl, **hyper),
        lambda g: torch.optim.RAdam(g, lr=LR, **hyper),
        groups,
        steps=STEPS,
        use_closure=two,
        reload_at=4 if two else None,  # reload before the switch: the step count must survive
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_defaults_match_torch(impl):
    groups = param_groups(make_params(), "one")
    assert_same_trajectory(lambda g: RAdam(g, impl=impl), torch.optim.RAdam, groups, steps=STEPS)


def test_rho_crosses_five_at_step_six_for_beta2_0999():
    rho = [sma_length(t, 0.999) for t in range(1, 8)]
    assert rho[0] == pytest.approx(1.0)  # rho_1 = 1 for every beta2
    assert 4 < rho[4] < 5 < rho[5]  # rho_5 > 4 (paper rectifies), rho_6 > 5 (torch rectifies)
    assert [rectification(t, 0.999) > 0 for t in range(1, 8)] == [False] * 5 + [True] * 2


@pytest.mark.parametrize("impl", IMPLS)
def test_switch_happens_at_step_six(impl):
    """Steps 1..5 are momentum-SGD steps; step 6 is the first rectified one (paper: step 5)."""
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    grads = [0.5, -1.5, 2.0, 0.25, -0.75, 1.0, 0.5, -0.2]
    rho_inf = 2 / (1 - b2) - 1

    def r(rho_t: float) -> float:
        return math.sqrt(
            (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
        )

    theta = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    ours = RAdam([theta], lr=lr, betas=(b1, b2), eps=eps, impl=impl)
    x, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        theta.grad = torch.tensor([g], dtype=torch.float64)
        before = theta.item()
        ours.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        adaptive = math.sqrt(1 - b2**t) / (math.sqrt(v) + eps)
        plain_step = lr * m_hat
        rect_step = lr * m_hat * r(rho_t) * adaptive if rho_t > 4 else None
        taken = before - theta.item()
        if t <= 5:
            assert taken == pytest.approx(plain_step, rel=1e-12), t
        else:
            assert taken == pytest.approx(rect_step, rel=1e-12), t
        if t == 5:
            # The paper's rule (rho_t > 4) would already rectify here, with a much smaller step.
            assert rect_step is not None and abs(rect_step) < 0.1 * abs(plain_step)
        x -= taken
    assert theta.item() == pytest.approx(x)


def test_switch_step_for_other_betas():
    # beta2 = 0.99: rho_inf = 199 and rho_t still first exceeds 5 at t = 6.
    assert [rectification(t, 0.99) > 0 for t in range(1, 8)] == [False] * 5 + [True] * 2
    # beta2 = 0.8: rho_inf = 9; the switch comes later, at t = 7.
    switch = next(t for t in range(1, 50) if rectification(t, 0.8) > 0)
    assert switch == 7 and sma_length(6, 0.8) <= 5 < sma_length(7, 0.8)
    # beta2 <= 2/3 makes rho_inf <= 5: never rectified, RAdam is momentum SGD throughout.
    assert not any(rectification(t, 0.6) > 0 for t in range(1, 10_000))


def test_functional_core_on_steps_that_differ_within_a_list():
    """In foreach, one tensor may be rectified while another is not (different step counts)."""
    runs = []
    for impl in IMPLS:
        a = torch.tensor([1.0, -2.0], dtype=torch.float64)
        b = torch.tensor([0.5], dtype=torch.float64)
        sa, sb = RAdamState.zeros_like(a), RAdamState.zeros_like(b)
        sa.step.fill_(5.0)  # next step is 6: rectified; b's next step is 1: not
        sa.exp_avg_sq.fill_(0.01)
        g = [
            torch.tensor([0.3, -0.1], dtype=torch.float64),
            torch.tensor([2.0], dtype=torch.float64),
        ]
        radam(
            [a, b],
            g,
            [sa, sb],
            lr=0.1,
            beta1=0.9,
            beta2=0.999,
            eps=1e-8,
            weight_decay=0.0,
            decoupled_weight_decay=False,
            maximize=False,
            foreach=impl == "foreach",
        )
        runs.append(torch.cat([a, b]))
    torch.testing.assert_close(runs[0], runs[1], rtol=1e-14, atol=0)
    # b took a plain step: lr * m_hat = 0.1 * 2.0.
    assert runs[0][2].item() == pytest.approx(0.5 - 0.2, rel=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
def test_state_dict_cross_loads_mid_run(impl):
    kw = {"lr": LR, "weight_decay": 0.05, "decoupled_weight_decay": True}
    ours = lambda g: RAdam(g, impl=impl, **kw)  # noqa: E731
    ref = lambda g: torch.optim.RAdam(g, **kw)  # noqa: E731
    groups = param_groups(make_params(), "two", [{}, SECOND])
    assert_same_trajectory(alternate(ours, ref), ref, groups, steps=STEPS, reload_at=5)
    assert_same_trajectory(alternate(ref, ours), ref, groups, steps=STEPS, reload_at=5)


@pytest.mark.parametrize("impl", IMPLS)
def test_tiny_lr_group_barely_moves(impl):
    groups = param_groups(make_params(), "two", [{}, {"lr": 1e-8}])
    ours = lambda g: RAdam(g, lr=LR, impl=impl)  # noqa: E731
    assert_same_trajectory(ours, lambda g: torch.optim.RAdam(g, lr=LR), groups, steps=STEPS)
    traj, _ = run_trajectory(ours, groups, STEPS, record_state=False)
    start = [p for g in groups for p in g["params"]]
    names = [p.course_name for p in start]
    moved = {
        n: (traj[-1][i] - p).abs().max().item()
        for i, (n, p) in enumerate(zip(names, start, strict=True))
    }
    assert moved["kernel"] < 1e-6 and moved["scalar"] < 1e-6 and moved["weight"] > 1e-2


@pytest.mark.parametrize("impl", IMPLS)
def test_zero_gradient_and_frozen_parameters(impl):
    params = make_params()
    opt = RAdam(params.values(), lr=LR, impl=impl)
    zero0, frozen0 = params["zero"].detach().clone(), params["frozen"].detach().clone()
    for t in range(8):  # across the switch
        opt.zero_grad()
        objective(params, t).backward()
        opt.step()
    assert torch.equal(params["zero"], zero0)
    assert torch.equal(params["frozen"], frozen0)
    assert params["frozen"] not in opt.state
    assert list(opt.state[params["zero"]]) == ["step", "exp_avg", "exp_avg_sq"]


def test_foreach_agrees_with_readable():
    groups = param_groups(make_params(), "two", [{}, SECOND])
    for hyper in GRID:
        assert_same_trajectory(
            lambda g, h=hyper: RAdam(g, lr=LR, impl="foreach", **h),
            lambda g, h=hyper: RAdam(g, lr=LR, impl="readable", **h),
            groups,
            steps=20,
        )


def test_signature_is_torchs():
    def parameters(cls, drop):
        sig = inspect.signature(cls.__init__).parameters.values()
        return [(p.name, p.kind, p.default) for p in sig if p.name not in drop]

    ours = parameters(RAdam, {"impl"})
    ref = parameters(torch.optim.RAdam, {"foreach", "capturable", "differentiable"})
    assert ours == ref


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -1e-3}, r"lr.*-0\.001"),
        ({"eps": -1e-8}, r"eps.*-1e-08"),
        ({"betas": (1.0, 0.999)}, r"index 0.*1\.0"),
        ({"betas": (0.9, 1.5)}, r"index 1.*1\.5"),
        ({"weight_decay": -0.01}, r"weight_decay.*-0\.01"),
    ],
)
def test_invalid_arguments_raise_like_torch(kwargs, match):
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        RAdam(p, **kwargs)
    with pytest.raises(ValueError):
        torch.optim.RAdam(p, **kwargs)
    with pytest.raises(ValueError, match="impl"):
        RAdam(p, impl="fused")
