"""NAdam against torch.optim.NAdam, step by step, and its momentum schedule against the formula.

A torch quirk shapes the reload tests: torch keeps ``mu_product`` as a float32 scalar, but
``load_state_dict`` casts every state entry except ``step`` to the parameter's dtype, so after a
round trip the product continues in float64. The trajectory moves by ~1e-8 relative in
``mu_product``; ours does the same, so a reloaded run is compared with a reloaded torch run.
"""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Any

import pytest
import torch

from course_lib.optim.nadam import NAdam, NAdamState, momentum_schedule, nadam
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

GRID = [
    {"weight_decay": wd, "decoupled_weight_decay": d, "momentum_decay": psi, "maximize": m}
    for wd, d, psi, m in itertools.product([0.0, 0.05], [False, True], [4e-3, 0.5], [False, True])
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
def test_nadam_matches_torch(hyper, impl, layout, device):
    groups = param_groups(make_params(device), layout, [{}, SECOND])
    two = layout == "two"
    assert_same_trajectory(
        lambda g: NAdam(g, lr=LR, impl=impl, **hyper),
        lambda g: torch.optim.NAdam(g, lr=LR, **hyper),
        groups,
        use_closure=two,
        reload_at=5 if two else None,
        reload_reference=True,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_defaults_match_torch(impl):
    groups = param_groups(make_params(), "one")
    assert_same_trajectory(lambda g: NAdam(g, impl=impl), torch.optim.NAdam, groups)


def test_momentum_schedule_formula():
    assert momentum_schedule(1, 0.9, 4e-3) == pytest.approx(0.9 * (1 - 0.5 * 0.96**0.004))
    assert momentum_schedule(250, 0.9, 4e-3) == pytest.approx(0.9 * (1 - 0.5 * 0.96))
    # psi = 0: constant beta1 / 2; large t: beta1.
    assert momentum_schedule(7, 0.9, 0.0) == pytest.approx(0.45)
    assert momentum_schedule(1e6, 0.9, 4e-3) == pytest.approx(0.9)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("psi", [4e-3, 0.0, 0.3])
def test_mu_product_is_the_product_of_the_schedule(impl, psi):
    params = make_params()
    opt = NAdam(params.values(), lr=LR, betas=(0.8, 0.99), momentum_decay=psi, impl=impl)
    expected = 1.0
    for t in range(1, 9):
        opt.zero_grad()
        objective(params, t).backward()
        opt.step()
        expected *= 0.8 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_product = opt.state[params["weight"]]["mu_product"]
        assert mu_product.dtype == torch.float32  # torch's scalar dtype, and its rounding
        assert mu_product.item() == pytest.approx(expected, rel=1e-6), t


@pytest.mark.parametrize("impl", IMPLS)
def test_functional_core_follows_the_equations(impl):
    """nadam() on one scalar against the update rule written out in Python floats."""
    lr, b1, b2, eps, psi = 0.1, 0.9, 0.99, 1e-8, 0.2
    theta = torch.tensor([1.0], dtype=torch.float64)
    state = NAdamState.zeros_like(theta)
    state.mu_product = state.mu_product.double()  # so the float reference can be exact
    x, m, v, prod = 1.0, 0.0, 0.0, 1.0
    for t, g in enumerate([0.5, -1.5, 2.0, 0.25, -0.75], start=1):
        nadam(
            [theta],
            [torch.tensor([g], dtype=torch.float64)],
            [state],
            lr=lr,
            beta1=b1,
            beta2=b2,
            eps=eps,
            weight_decay=0.0,
            momentum_decay=psi,
            decoupled_weight_decay=False,
            maximize=False,
            foreach=impl == "foreach",
        )
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        prod *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = (1 - mu) * g / (1 - prod) + mu_next * m / (1 - prod * mu_next)
        x -= lr * step / (math.sqrt(v / (1 - b2**t)) + eps)
        assert theta.item() == pytest.approx(x, rel=1e-12), t


def test_reload_casts_mu_product_like_torch():
    """After load_state_dict, mu_product has the parameter's dtype, in ours as in torch."""
    for cls in (NAdam, torch.optim.NAdam):
        p = torch.ones(3, dtype=torch.float64, requires_grad=True)
        opt = cls([p])
        p.grad = torch.ones_like(p)
        opt.step()
        assert opt.state[p]["mu_product"].dtype == torch.float32
        opt.load_state_dict(opt.state_dict())
        assert opt.state[p]["mu_product"].dtype == torch.float64, cls
        assert opt.state[p]["step"].dtype == torch.float32, cls


@pytest.mark.parametrize("impl", IMPLS)
def test_state_dict_cross_loads_mid_run(impl):
    kw = {"lr": LR, "weight_decay": 0.05, "momentum_decay": 0.1}
    ours = lambda g: NAdam(g, impl=impl, **kw)  # noqa: E731
    ref = lambda g: torch.optim.NAdam(g, **kw)  # noqa: E731
    groups = param_groups(make_params(), "two", [{}, SECOND])
    for first, then in ((ours, ref), (ref, ours)):
        assert_same_trajectory(
            alternate(first, then), ref, groups, reload_at=5, reload_reference=True
        )


@pytest.mark.parametrize("impl", IMPLS)
def test_tiny_lr_group_barely_moves(impl):
    groups = param_groups(make_params(), "two", [{}, {"lr": 1e-8}])
    ours = lambda g: NAdam(g, lr=LR, impl=impl)  # noqa: E731
    assert_same_trajectory(ours, lambda g: torch.optim.NAdam(g, lr=LR), groups)
    traj, _ = run_trajectory(ours, groups, 12, record_state=False)
    start = [p for g in groups for p in g["params"]]
    moved = {p.course_name: (traj[-1][i] - p).abs().max().item() for i, p in enumerate(start)}
    assert moved["kernel"] < 1e-6 and moved["scalar"] < 1e-6 and moved["weight"] > 1e-2


@pytest.mark.parametrize("impl", IMPLS)
def test_zero_gradient_and_frozen_parameters(impl):
    params = make_params()
    opt = NAdam(params.values(), lr=LR, impl=impl)
    zero0, frozen0 = params["zero"].detach().clone(), params["frozen"].detach().clone()
    for t in range(4):
        opt.zero_grad()
        objective(params, t).backward()
        opt.step()
    assert torch.equal(params["zero"], zero0)
    assert torch.equal(params["frozen"], frozen0)
    assert params["frozen"] not in opt.state
    assert list(opt.state[params["zero"]]) == ["step", "mu_product", "exp_avg", "exp_avg_sq"]


def test_foreach_agrees_with_readable():
    groups = param_groups(make_params(), "two", [{}, SECOND])
    for hyper in GRID[::2]:
        assert_same_trajectory(
            lambda g, h=hyper: NAdam(g, lr=LR, impl="foreach", **h),
            lambda g, h=hyper: NAdam(g, lr=LR, impl="readable", **h),
            groups,
            steps=20,
        )


def test_signature_is_torchs():
    def parameters(cls, drop):
        sig = inspect.signature(cls.__init__).parameters.values()
        return [(p.name, p.kind, p.default) for p in sig if p.name not in drop]

    ours = parameters(NAdam, {"impl"})
    ref = parameters(torch.optim.NAdam, {"foreach", "capturable", "differentiable"})
    assert ours == ref


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -1e-3}, r"lr.*-0\.001"),
        ({"eps": -1e-8}, r"eps.*-1e-08"),
        ({"betas": (1.0, 0.999)}, r"index 0.*1\.0"),
        ({"betas": (0.9, -0.5)}, r"index 1.*-0\.5"),
        ({"weight_decay": -0.01}, r"weight_decay.*-0\.01"),
        ({"momentum_decay": -4e-3}, r"momentum_decay.*-0\.004"),
    ],
)
def test_invalid_arguments_raise_like_torch(kwargs, match):
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        NAdam(p, **kwargs)
    with pytest.raises(ValueError):
        torch.optim.NAdam(p, **kwargs)
    with pytest.raises(ValueError, match="impl"):
        NAdam(p, impl="fused")
