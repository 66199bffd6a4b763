"""course_lib's RMSprop against torch.optim.RMSprop, step by step, for every combination."""

import itertools

import pytest
import torch

from course_lib.optim.rmsprop import RMSprop, RMSpropState, rmsprop
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
LR = 0.01
# The first RMSprop step is about lr / sqrt(1 - alpha) = 10 lr per coordinate, and momentum
# adds up to 1 / (1 - mu) of those: 12 steps at this lr stay well under 1e-6.
TINY_LR = 1e-9

GRID = [
    {"centered": c, "momentum": m, "weight_decay": wd, "maximize": mx, "alpha": a}
    for c, m, wd, mx, a in itertools.product(
        (False, True), (0.0, 0.9), (0.0, 0.01), (False, True), (0.99, 0.5)
    )
]


@pytest.mark.parametrize("layout", ["one", "two"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("hyper", GRID, ids=grid_id)
def test_matches_torch_on_the_full_grid(hyper, impl, layout, device):
    # "two": the second group runs at a tiny lr, the step goes through a closure and the
    # optimizer is rebuilt from its own state_dict after step 5.
    two = layout == "two"
    assert_same_trajectory(
        lambda g: RMSprop(g, lr=LR, impl=impl, **hyper),
        lambda g: torch.optim.RMSprop(g, lr=LR, **hyper),
        param_groups(make_params(device), layout, [{}, {"lr": TINY_LR}]),
        use_closure=two,
        reload_at=5 if two else None,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_groups_with_their_own_hyperparameters(impl, device):
    other = {"lr": 0.03, "alpha": 0.9, "eps": 1e-3, "momentum": 0.5, "centered": True}
    assert_same_trajectory(
        lambda g: RMSprop(g, lr=LR, weight_decay=0.01, impl=impl),
        lambda g: torch.optim.RMSprop(g, lr=LR, weight_decay=0.01),
        param_groups(make_params(device), "two", [{}, other]),
        use_closure=True,
        reload_at=3,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_tiny_lr_group_barely_moves(impl):
    params = make_params()
    groups = param_groups(params, "two", [{}, {"lr": TINY_LR}])
    traj, _ = run_trajectory(
        lambda g: RMSprop(g, lr=LR, momentum=0.9, centered=True, impl=impl),
        groups,
        12,
        record_state=False,
    )
    names = [p.course_name for g in groups for p in g["params"]]
    final = dict(zip(names, traj[-1], strict=True))
    moved = {n: (p - params[n].detach()).abs().max().item() for n, p in final.items()}
    assert max(moved[n] for n in ("kernel", "scalar")) < 1e-6
    assert min(moved[n] for n in ("weight", "bias")) > 1e-3
    assert moved["frozen"] == moved["zero"] == 0.0


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("direction", ["ours->torch", "torch->ours"])
def test_state_dict_cross_loads_mid_run(direction, impl, device):
    hyper = {"lr": LR, "momentum": 0.9, "centered": True, "weight_decay": 0.01}
    ours = lambda g: RMSprop(g, impl=impl, **hyper)  # noqa: E731
    ref = lambda g: torch.optim.RMSprop(g, **hyper)  # noqa: E731
    first, second = (ours, ref) if direction == "ours->torch" else (ref, ours)
    assert_same_trajectory(
        switching(first, second),
        ref,
        param_groups(make_params(device), "two", [{}, {"momentum": 0.0, "centered": False}]),
        reload_at=4,
    )


@pytest.mark.parametrize(("momentum", "centered"), [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("impl", IMPLS)
def test_state_layout_is_torchs(impl, momentum, centered, device):
    p_ours, p_ref = make_params(device), make_params(device)
    hyper = {"momentum": momentum, "centered": centered}
    ours = RMSprop(list(p_ours.values()), impl=impl, **hyper)
    ref = torch.optim.RMSprop(list(p_ref.values()), **hyper)
    drive(ours, p_ours, 3)
    drive(ref, p_ref, 3)
    assert ours.state_dict()["state"].keys() == ref.state_dict()["state"].keys()
    for name in p_ours:
        s_ours, s_ref = ours.state.get(p_ours[name], {}), ref.state.get(p_ref[name], {})
        assert s_ours.keys() == s_ref.keys(), name
        for key, value in s_ref.items():
            assert (s_ours[key].dtype, s_ours[key].device) == (value.dtype, value.device)
    assert p_ours["frozen"] not in ours.state
    assert ours.state[p_ours["weight"]]["step"].item() == 3


@pytest.mark.parametrize("impl", IMPLS)
def test_readable_and_foreach_agree(impl, device):
    hyper = {"lr": LR, "momentum": 0.9, "centered": True, "weight_decay": 0.01, "maximize": True}
    assert_same_trajectory(
        lambda g: RMSprop(g, impl=impl, **hyper),
        lambda g: RMSprop(g, impl="readable" if impl == "foreach" else "foreach", **hyper),
        param_groups(make_params(device), "two", [{}, {"momentum": 0.0, "centered": False}]),
        rtol=1e-13,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_tensor_lr(impl):
    lr = torch.tensor(LR, dtype=torch.float64)
    assert_same_trajectory(
        lambda g: RMSprop(g, lr=lr, momentum=0.9, impl=impl),
        lambda g: torch.optim.RMSprop(g, lr=lr, momentum=0.9),
        param_groups(make_params(), "one"),
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_switching_momentum_on_later_starts_the_buffer_at_zero(impl):
    params = make_params()
    opt = RMSprop(list(params.values()), lr=LR, impl=impl)
    drive(opt, params, 2)
    opt.param_groups[0]["momentum"] = 0.9
    opt.param_groups[0]["centered"] = True
    drive(opt, params, 1)
    state = opt.state[params["weight"]]
    assert {"momentum_buffer", "grad_avg"} <= state.keys()
    # After one step from zero: b = g / denom and gbar = (1 - alpha) g.
    assert state["momentum_buffer"].abs().max() > 0


@pytest.mark.parametrize("foreach", [False, True])
def test_no_bias_correction_and_eps_outside_the_root(foreach):
    # Step 1 with gradient g: v_1 = (1 - alpha) g^2, so theta moves by lr g / (sqrt(v_1) + eps),
    # about lr / sqrt(1 - alpha) = 10 lr. Keras/optax put eps inside the root: a different step.
    lr, alpha, eps, g = 0.01, 0.99, 1e-2, 3.0
    theta = torch.zeros(1, dtype=torch.float64)
    state = RMSpropState.init(theta, momentum=0.0, centered=False)
    rmsprop(
        [theta],
        [torch.full_like(theta, g)],
        [state],
        lr=lr,
        alpha=alpha,
        eps=eps,
        weight_decay=0.0,
        momentum=0.0,
        centered=False,
        maximize=False,
        foreach=foreach,
    )
    ours = lr * g / (((1 - alpha) * g * g) ** 0.5 + eps)
    keras = lr * g / ((1 - alpha) * g * g + eps) ** 0.5
    assert -theta.item() == pytest.approx(ours, rel=1e-14)
    assert abs(ours - keras) > 1e-4
    assert state.step.item() == 1


def test_a_different_eps_is_caught():
    # An optimizer with a slightly different eps must fail the comparison (the tests can fail).
    with pytest.raises(AssertionError, match="differs"):
        assert_same_trajectory(
            lambda g: RMSprop(g, lr=LR, eps=1e-8, alpha=0.5),
            lambda g: torch.optim.RMSprop(g, lr=LR, eps=1e-6, alpha=0.5),
            param_groups(make_params(), "one"),
        )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lr": -0.1}, "lr"),
        ({"alpha": -0.5}, "alpha"),
        ({"eps": -1e-8}, "eps"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"momentum": -0.9}, "momentum"),
        ({"lr": torch.tensor([0.1, 0.2])}, "lr"),
    ],
    ids=grid_id,
)
def test_invalid_arguments(kwargs, name):
    params = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=name):
        RMSprop(params, **kwargs)
    with pytest.raises(ValueError):  # torch rejects the same arguments
        torch.optim.RMSprop(params, **kwargs)


def test_maximize_is_keyword_only():
    # torch's eighth positional argument is ``capturable``: refuse rather than guess.
    with pytest.raises(TypeError):
        RMSprop([torch.zeros(2, requires_grad=True)], 0.01, 0.99, 1e-8, 0, 0, False, True)
