"""course_lib's SGD against torch.optim.SGD, step by step, for every hyperparameter combination."""

import itertools

import pytest
import torch

from course_lib.optim.sgd import SGD, SGDState, sgd
from tests.optim.trajectory import (
    assert_same_trajectory,
    drive,
    grid_id,
    make_params,
    param_groups,
    run_trajectory,
    switching,
)

IMPLS = ("readable", "foreach")
LR = 0.05
TINY_LR = 1e-9  # small enough that 12 momentum steps move less than 1e-6

GRID = [
    {"momentum": m, "dampening": d, "nesterov": n, "weight_decay": wd, "maximize": mx}
    for m, d, n, wd, mx in itertools.product(
        (0.0, 0.9), (0.0, 0.3), (False, True), (0.0, 0.01), (False, True)
    )
    if not (n and (m == 0 or d != 0))  # torch rejects these: tested in test_invalid_arguments
]


@pytest.mark.parametrize("layout", ["one", "two"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("hyper", GRID, ids=grid_id)
def test_matches_torch_on_the_full_grid(hyper, impl, layout, device):
    # "two": the second group runs at a tiny lr, the step goes through a closure and the
    # optimizer is rebuilt from its own state_dict after step 5.
    two = layout == "two"
    assert_same_trajectory(
        lambda g: SGD(g, lr=LR, impl=impl, **hyper),
        lambda g: torch.optim.SGD(g, lr=LR, **hyper),
        param_groups(make_params(device), layout, [{}, {"lr": TINY_LR}]),
        use_closure=two,
        reload_at=5 if two else None,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_groups_with_their_own_hyperparameters(impl, device):
    other = {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1, "nesterov": True, "dampening": 0}
    assert_same_trajectory(
        lambda g: SGD(g, lr=LR, momentum=0.9, dampening=0.3, impl=impl),
        lambda g: torch.optim.SGD(g, lr=LR, momentum=0.9, dampening=0.3),
        param_groups(make_params(device), "two", [{}, other]),
        use_closure=True,
        reload_at=3,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_tiny_lr_group_barely_moves(impl):
    params = make_params()
    groups = param_groups(params, "two", [{}, {"lr": TINY_LR}])
    traj, _ = run_trajectory(
        lambda g: SGD(g, lr=LR, momentum=0.9, weight_decay=0.01, impl=impl),
        groups,
        steps=12,
        record_state=False,
    )
    names = [p.course_name for g in groups for p in g["params"]]
    moved = {
        n: (p - params[n].detach()).abs().max().item() for n, p in zip(names, traj[-1], strict=True)
    }
    assert max(moved[n] for n in ("kernel", "scalar")) < 1e-6
    assert min(moved[n] for n in ("weight", "bias")) > 1e-3
    assert moved["frozen"] == 0.0


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("direction", ["ours->torch", "torch->ours"])
def test_state_dict_cross_loads_mid_run(direction, impl, device):
    hyper = {"lr": LR, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}
    ours = lambda g: SGD(g, impl=impl, **hyper)  # noqa: E731
    ref = lambda g: torch.optim.SGD(g, **hyper)  # noqa: E731
    first, second = (ours, ref) if direction == "ours->torch" else (ref, ours)
    assert_same_trajectory(
        switching(first, second),
        ref,
        param_groups(make_params(device), "two", [{}, {"momentum": 0.5}]),
        reload_at=4,
    )


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("impl", IMPLS)
def test_state_layout_is_torchs(impl, momentum, device):
    p_ours, p_ref = make_params(device), make_params(device)
    ours = SGD(list(p_ours.values()), lr=LR, momentum=momentum, impl=impl)
    ref = torch.optim.SGD(list(p_ref.values()), lr=LR, momentum=momentum)
    drive(ours, p_ours, 3)
    drive(ref, p_ref, 3)
    assert ours.state_dict()["state"].keys() == ref.state_dict()["state"].keys()
    for name in p_ours:
        s_ours, s_ref = ours.state.get(p_ours[name], {}), ref.state.get(p_ref[name], {})
        assert s_ours.keys() == s_ref.keys(), name
        for key, value in s_ref.items():
            assert (s_ours[key].dtype, s_ours[key].device) == (value.dtype, value.device)
    # Plain SGD keeps no state; a parameter without gradient never gets any.
    assert (len(ours.state) == 0) == (momentum == 0)
    assert p_ours["frozen"] not in ours.state
    assert torch.equal(p_ours["frozen"], make_params(device)["frozen"])


@pytest.mark.parametrize("impl", IMPLS)
def test_readable_and_foreach_agree(impl, device):
    hyper = {"lr": LR, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01, "maximize": True}
    assert_same_trajectory(
        lambda g: SGD(g, impl=impl, **hyper),
        lambda g: SGD(g, impl="readable" if impl == "foreach" else "foreach", **hyper),
        param_groups(make_params(device), "two", [{}, {"nesterov": True, "dampening": 0}]),
        rtol=1e-13,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_tensor_lr(impl):
    assert_same_trajectory(
        lambda g: SGD(g, lr=torch.tensor(LR, dtype=torch.float64), momentum=0.9, impl=impl),
        lambda g: torch.optim.SGD(g, lr=torch.tensor(LR, dtype=torch.float64), momentum=0.9),
        param_groups(make_params(), "one"),
    )


def test_mixed_dtypes_in_one_group_fall_back_to_the_readable_path():
    def run(cls, **kw):
        a = torch.linspace(-1, 1, 6, dtype=torch.float32).requires_grad_()
        b = torch.linspace(-2, 1, 4, dtype=torch.float64).requires_grad_()
        opt = cls([a, b], lr=LR, momentum=0.9, **kw)
        for _ in range(5):
            opt.zero_grad()
            ((a**3).sum() + torch.cos(b).sum()).backward()
            opt.step()
        return a, b

    for ours, ref in zip(run(SGD, impl="foreach"), run(torch.optim.SGD), strict=True):
        assert ours.dtype == ref.dtype
        torch.testing.assert_close(ours, ref)


@pytest.mark.parametrize("impl", IMPLS)
def test_gradients_are_left_alone(impl):
    # torch's foreach Nesterov path writes g + mu b into p.grad; ours never modifies p.grad.
    p = torch.ones(3, dtype=torch.float64, requires_grad=True)
    opt = SGD([p], lr=LR, momentum=0.9, nesterov=True, impl=impl)
    for _ in range(2):
        p.grad = torch.ones_like(p)
        opt.step()
        assert torch.equal(p.grad, torch.ones_like(p))


def test_first_buffer_is_the_raw_gradient():
    # Closed form for a constant gradient g: b_1 = g, b_t = mu b_{t-1} + (1 - tau) g.
    g, mu, tau, lr = 2.0, 0.9, 0.3, 0.1
    theta = torch.zeros(1, dtype=torch.float64)
    state = SGDState()
    b, expected = None, 0.0
    for _ in range(4):
        sgd(
            [theta],
            [torch.full_like(theta, g)],
            [state],
            lr=lr,
            momentum=mu,
            dampening=tau,
            weight_decay=0.0,
            nesterov=False,
            maximize=False,
            foreach=False,
        )
        b = g if b is None else mu * b + (1 - tau) * g
        expected -= lr * b
        assert theta.item() == pytest.approx(expected, rel=1e-14)
    assert state.momentum_buffer.item() == pytest.approx(b, rel=1e-14)


def test_a_buffer_started_at_zero_is_caught():
    # The dampened-EMA variant (b_0 = 0) differs from torch at step 1: the harness must see it.
    def zero_started(groups):
        opt = SGD(groups, lr=LR, momentum=0.9, dampening=0.3)
        for p in (p for g in opt.param_groups for p in g["params"]):
            opt.state[p]["momentum_buffer"] = torch.zeros_like(p)
        return opt

    with pytest.raises(AssertionError, match="differs"):
        assert_same_trajectory(
            zero_started,
            lambda g: torch.optim.SGD(g, lr=LR, momentum=0.9, dampening=0.3),
            param_groups(make_params(), "one"),
        )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lr": -0.1}, "lr"),
        ({"momentum": -0.5}, "momentum"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"lr": torch.tensor([0.1, 0.2])}, "lr"),
        ({"nesterov": True}, "nesterov"),
        ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov"),
    ],
    ids=grid_id,
)
def test_invalid_arguments(kwargs, name):
    params = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=name):
        SGD(params, **kwargs)
    with pytest.raises(ValueError):  # torch rejects the same arguments
        torch.optim.SGD(params, **kwargs)
