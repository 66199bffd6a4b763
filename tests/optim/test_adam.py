"""Adam and AdamW against torch.optim, step by step, over their whole hyperparameter grid.

Every trajectory test compares parameters and every state tensor torch keeps, after every step,
in float64 to 1e-10 relative (``tests/optim/trajectory.py``). The parameter set includes a
parameter with an exactly zero gradient and one without a gradient.
"""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Any

import pytest
import torch

from course_lib.optim.adam import Adam, AdamState, AdamW, adam
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
# The second group gets its own lr and betas, so a mix-up between groups shows.
SECOND = {"lr": 0.02, "betas": (0.8, 0.99)}

ADAM_GRID = [
    {"amsgrad": a, "weight_decay": wd, "decoupled_weight_decay": d, "maximize": m, "betas": b}
    for a, wd, d, m, b in itertools.product(
        [False, True], [0.0, 0.05], [False, True], [False, True], [(0.9, 0.999), (0.5, 0.9)]
    )
]
# weight_decay None: AdamW's default (0.01).
ADAMW_GRID = [
    {"amsgrad": a, "maximize": m} | ({} if wd is None else {"weight_decay": wd})
    for a, wd, m in itertools.product([False, True], [None, 0.1], [False, True])
]


def hyper_id(hyper: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in hyper.items())


def alternate(first, then):
    """A factory that builds ``first`` on its first call and ``then`` afterwards.

    With the harness's ``reload_at`` this saves a state dict from one class and loads it into
    the other mid-run.
    """
    calls: list[None] = []

    def factory(groups):
        calls.append(None)
        return (first if len(calls) == 1 else then)(groups)

    return factory


def check_trajectory(ours, ref, device: str, layout: str, steps: int = 12) -> None:
    """The "one" layout runs plainly; "two" also uses a closure and a state_dict round trip."""
    groups = param_groups(make_params(device), layout, [{}, SECOND])
    two = layout == "two"
    assert_same_trajectory(
        ours, ref, groups, steps=steps, use_closure=two, reload_at=5 if two else None
    )


@pytest.mark.parametrize("layout", ["one", "two"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("hyper", ADAM_GRID, ids=hyper_id)
def test_adam_matches_torch(hyper, impl, layout, device):
    check_trajectory(
        lambda g: Adam(g, lr=LR, impl=impl, **hyper),
        lambda g: torch.optim.Adam(g, lr=LR, **hyper),
        device,
        layout,
    )


@pytest.mark.parametrize("layout", ["one", "two"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("hyper", ADAMW_GRID, ids=hyper_id)
def test_adamw_matches_torch(hyper, impl, layout, device):
    check_trajectory(
        lambda g: AdamW(g, lr=LR, impl=impl, **hyper),
        lambda g: torch.optim.AdamW(g, lr=LR, **hyper),
        device,
        layout,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_defaults_match_torch(impl):
    groups = param_groups(make_params(), "one")
    assert_same_trajectory(lambda g: Adam(g, impl=impl), torch.optim.Adam, groups)
    assert_same_trajectory(lambda g: AdamW(g, impl=impl), torch.optim.AdamW, groups)


@pytest.mark.parametrize("impl", IMPLS)
def test_tensor_lr_and_betas_match_torch(impl):
    """torch accepts a one-element tensor lr and a pair of tensor betas; so do we.

    We read them as Python floats. torch computes with the tensors themselves, so with float32
    tensors its bias corrections carry float32 rounding (~1e-8 relative): float64 here.
    """

    def kw() -> dict[str, Any]:
        f64 = {"dtype": torch.float64}
        return {
            "lr": torch.tensor([LR], **f64),
            "betas": (torch.tensor(0.8, **f64), torch.tensor(0.99, **f64)),
        }

    groups = param_groups(make_params(), "one")
    assert_same_trajectory(
        lambda g: Adam(g, impl=impl, **kw()), lambda g: torch.optim.Adam(g, **kw()), groups
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_tiny_lr_group_barely_moves(impl):
    groups = param_groups(make_params(), "two", [{}, {"lr": 1e-8}])
    ours = lambda g: Adam(g, lr=LR, impl=impl)  # noqa: E731
    assert_same_trajectory(ours, lambda g: torch.optim.Adam(g, lr=LR), groups)
    traj, _ = run_trajectory(ours, groups, 12, record_state=False)
    start = [p for g in groups for p in g["params"]]
    moved = [(traj[-1][i] - p).abs().max().item() for i, p in enumerate(start)]
    # Adam's step is about lr per coordinate: 12 steps at lr 1e-8 stay far below 1e-6.
    names = [p.course_name for p in start]
    assert moved[names.index("kernel")] < 1e-6 and moved[names.index("scalar")] < 1e-6
    assert moved[names.index("weight")] > 1e-2


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
def test_state_dict_cross_loads_mid_run(cls, impl):
    ours_cls, torch_cls = {"Adam": Adam, "AdamW": AdamW}[cls], getattr(torch.optim, cls)
    kw = {"lr": LR, "amsgrad": True, "weight_decay": 0.05}
    ours = lambda g: ours_cls(g, impl=impl, **kw)  # noqa: E731
    ref = lambda g: torch_cls(g, **kw)  # noqa: E731
    groups = param_groups(make_params(), "two", [{}, SECOND])
    # ours for 5 steps, then torch from our state dict; and the other way round.
    assert_same_trajectory(alternate(ours, ref), ref, groups, reload_at=5)
    assert_same_trajectory(alternate(ref, ours), ref, groups, reload_at=5)


def test_state_layout_is_torchs():
    """Same keys, dtypes, devices and shapes as torch, and our groups load into torch."""
    kw = {"lr": LR, "amsgrad": True}
    ours_p, ref_p = make_params(), make_params()
    ours, ref = Adam(ours_p.values(), **kw), torch.optim.Adam(ref_p.values(), **kw)
    for opt, params in ((ours, ours_p), (ref, ref_p)):
        for t in range(3):
            opt.zero_grad()
            objective(params, t).backward()
            opt.step()
    for name in ours_p:
        a, b = ours.state.get(ours_p[name], {}), ref.state.get(ref_p[name], {})
        assert list(a) == list(b), name
        for key in b:
            assert (a[key].dtype, a[key].device, a[key].shape) == (
                b[key].dtype,
                b[key].device,
                b[key].shape,
            ), (name, key)
    assert ours.state[ours_p["weight"]]["step"].item() == 3
    assert set(ours.param_groups[0]) <= set(ref.param_groups[0])
    ref.load_state_dict(ours.state_dict())  # no error: torch fills in its own extra flags


@pytest.mark.parametrize("impl", IMPLS)
def test_zero_gradient_and_frozen_parameters(impl):
    params = make_params()
    opt = Adam(params.values(), lr=LR, impl=impl)
    zero0, frozen0 = params["zero"].detach().clone(), params["frozen"].detach().clone()
    for t in range(4):
        opt.zero_grad()
        objective(params, t).backward()
        opt.step()
    assert torch.equal(params["zero"], zero0)  # m = v = 0, so the step is 0 / (0 + eps) = 0
    assert torch.equal(params["frozen"], frozen0)
    assert params["frozen"] not in opt.state
    assert opt.state[params["zero"]]["step"].item() == 4


def test_adamw_is_adam_with_decoupled_weight_decay():
    groups = param_groups(make_params(), "two", [{}, SECOND])
    for impl, amsgrad in itertools.product(IMPLS, [False, True]):
        kw = {"lr": LR, "weight_decay": 0.1, "amsgrad": amsgrad}
        assert_same_trajectory(
            lambda g, kw=kw, impl=impl: AdamW(g, impl=impl, **kw),
            lambda g, kw=kw, impl=impl: Adam(g, impl=impl, decoupled_weight_decay=True, **kw),
            groups,
            rtol=0.0,
            atol=0.0,
        )


def test_adamw_is_not_l2_adam():
    """Decoupled decay differs from weight decay added to the gradient, and visibly so."""
    groups = param_groups(make_params(), "one")
    adamw = lambda g: AdamW(g, lr=LR, weight_decay=0.1)  # noqa: E731
    l2_adam = lambda g: Adam(g, lr=LR, weight_decay=0.1)  # noqa: E731
    with pytest.raises(AssertionError, match="differs"):
        assert_same_trajectory(adamw, l2_adam, groups)
    a, _ = run_trajectory(adamw, groups, 12, record_state=False)
    b, _ = run_trajectory(l2_adam, groups, 12, record_state=False)
    assert max((x - y).abs().max().item() for x, y in zip(a[-1], b[-1], strict=True)) > 1e-2

    # Where the loss gradient is exactly zero the difference is stark. L2-Adam normalises the
    # penalty gradient lambda*theta by its own size, so the first step is about lr * sign(theta)
    # whatever lambda is; AdamW shrinks theta by the factor (1 - lr*lambda).
    zero = [p.course_name for p in groups[0]["params"]].index("zero")
    theta0 = groups[0]["params"][zero].detach()
    torch.testing.assert_close(a[0][zero], theta0 * (1 - LR * 0.1), rtol=1e-12, atol=0)
    torch.testing.assert_close(b[0][zero], theta0 - LR * theta0.sign(), rtol=1e-6, atol=0)


def test_functional_core_follows_the_equations():
    """adam() on one scalar against the update rule written out in Python floats."""
    lr, b1, b2, eps, wd = 0.1, 0.9, 0.99, 1e-8, 0.3
    grads = [0.5, -1.5, 2.0, 0.25, -0.75]
    for amsgrad, decoupled in itertools.product([False, True], [False, True]):
        for impl in IMPLS:
            theta = torch.tensor([1.0], dtype=torch.float64)
            state = AdamState.zeros_like(theta, amsgrad=amsgrad)
            x, m, v, vmax = 1.0, 0.0, 0.0, 0.0
            for t, g in enumerate(grads, start=1):
                adam(
                    [theta],
                    [torch.tensor([g], dtype=torch.float64)],
                    [state],
                    lr=lr,
                    beta1=b1,
                    beta2=b2,
                    eps=eps,
                    weight_decay=wd,
                    amsgrad=amsgrad,
                    maximize=False,
                    decoupled_weight_decay=decoupled,
                    foreach=impl == "foreach",
                )
                if decoupled:
                    x *= 1 - lr * wd
                else:
                    g += wd * x
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * g * g
                vmax = max(vmax, v)
                v_hat = (vmax if amsgrad else v) / (1 - b2**t)
                x -= lr * (m / (1 - b1**t)) / (math.sqrt(v_hat) + eps)
                assert theta.item() == pytest.approx(x, rel=1e-12), (amsgrad, decoupled, impl, t)
            assert state.step.item() == len(grads)


def test_foreach_agrees_with_readable():
    groups = param_groups(make_params(), "two", [{}, SECOND])
    for hyper in ADAM_GRID[::3]:
        assert_same_trajectory(
            lambda g, h=hyper: Adam(g, lr=LR, impl="foreach", **h),
            lambda g, h=hyper: Adam(g, lr=LR, impl="readable", **h),
            groups,
            steps=20,
        )


def test_foreach_falls_back_on_mixed_dtypes():
    runs = []
    for impl in IMPLS:
        a = torch.ones(3, dtype=torch.float32, requires_grad=True)
        b = torch.ones(2, dtype=torch.float64, requires_grad=True)
        opt = Adam([a, b], lr=0.1, impl=impl)
        for t in range(3):
            opt.zero_grad()
            ((a - t) ** 2).sum().add((b * t).sum()).backward()
            opt.step()
        runs.append((a.detach().clone(), b.detach().clone()))
    assert all(torch.equal(x, y) for x, y in zip(*runs, strict=True))


def test_adamw_stays_decoupled_when_loading_adam_state():
    p = [torch.zeros(2, requires_grad=True)]
    saved = torch.optim.Adam(p, weight_decay=0.1).state_dict()
    for cls in (AdamW, torch.optim.AdamW):
        opt = cls([torch.zeros(2, requires_grad=True)])
        opt.load_state_dict(saved)
        assert opt.param_groups[0]["decoupled_weight_decay"] is True, cls


TORCH_ONLY = {"foreach", "fused", "capturable", "differentiable"}


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_signature_is_torchs(name):
    import course_lib.optim.adam as module

    def parameters(cls, drop):
        sig = inspect.signature(cls.__init__).parameters.values()
        return [(p.name, p.kind, p.default) for p in sig if p.name not in drop]

    ours = parameters(getattr(module, name), {"impl"})
    ref = parameters(getattr(torch.optim, name), TORCH_ONLY)
    # Keyword-only arguments may come in any order.
    assert ours[:7] == ref[:7] and sorted(ours[7:]) == sorted(ref[7:])
    assert inspect.signature(getattr(module, name).__init__).parameters["impl"].default == (
        "readable"
    )


BAD_ARGS = [
    ({"lr": -1e-3}, r"lr.*-0\.001"),
    ({"eps": -1e-8}, r"eps.*-1e-08"),
    ({"betas": (1.0, 0.999)}, r"index 0.*1\.0"),
    ({"betas": (-0.1, 0.999)}, r"index 0.*-0\.1"),
    ({"betas": (0.9, 1.0)}, r"index 1.*1\.0"),
    ({"weight_decay": -0.01}, r"weight_decay.*-0\.01"),
]


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize(("kwargs", "match"), BAD_ARGS)
def test_invalid_arguments_raise_like_torch(name, kwargs, match):
    import course_lib.optim.adam as module

    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        getattr(module, name)(p, **kwargs)
    with pytest.raises(ValueError):
        getattr(torch.optim, name)(p, **kwargs)


def test_invalid_impl_and_mixed_beta_types():
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="impl='fast'"):
        Adam(p, impl="fast")
    with pytest.raises(ValueError, match="betas"):
        Adam(p, betas=(torch.tensor(0.9), 0.999))
    # Boundary values torch accepts are accepted.
    Adam(p, lr=0.0, eps=0.0, betas=(0.0, 0.0), weight_decay=0.0)
