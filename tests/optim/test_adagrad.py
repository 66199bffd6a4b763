"""course_lib's Adagrad against torch.optim.Adagrad, step by step, for every combination."""

import itertools

import pytest
import torch

from course_lib.optim.adagrad import Adagrad, AdagradState, adagrad
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
LR = 0.1
TINY_LR = 1e-9  # an Adagrad step moves each coordinate by at most about lr

GRID = [
    {"lr_decay": d, "weight_decay": wd, "initial_accumulator_value": a, "eps": e, "maximize": mx}
    for d, wd, a, e, mx in itertools.product(
        (0.0, 0.1), (0.0, 0.01), (0.0, 0.1), (1e-10, 1e-3), (False, True)
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
        lambda g: Adagrad(g, lr=LR, impl=impl, **hyper),
        lambda g: torch.optim.Adagrad(g, lr=LR, **hyper),
        param_groups(make_params(device), layout, [{}, {"lr": TINY_LR}]),
        use_closure=two,
        reload_at=5 if two else None,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_groups_with_their_own_hyperparameters(impl, device):
    # A per-group initial_accumulator_value is ignored, by torch and by us: the accumulator is
    # filled from the constructor's value when the optimizer is built.
    other = {"lr": 0.03, "lr_decay": 0.5, "weight_decay": 0.1, "eps": 1e-2}
    other["initial_accumulator_value"] = 5.0
    assert_same_trajectory(
        lambda g: Adagrad(g, lr=LR, initial_accumulator_value=0.1, impl=impl),
        lambda g: torch.optim.Adagrad(g, lr=LR, initial_accumulator_value=0.1),
        param_groups(make_params(device), "two", [{}, other]),
        use_closure=True,
        reload_at=3,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_tiny_lr_group_barely_moves(impl):
    params = make_params()
    groups = param_groups(params, "two", [{}, {"lr": TINY_LR}])
    traj, _ = run_trajectory(
        lambda g: Adagrad(g, lr=LR, weight_decay=0.01, impl=impl), groups, 12, record_state=False
    )
    names = [p.course_name for g in groups for p in g["params"]]
    final = dict(zip(names, traj[-1], strict=True))
    moved = {n: (p - params[n].detach()).abs().max().item() for n, p in final.items()}
    assert max(moved[n] for n in ("kernel", "scalar")) < 1e-6
    assert min(moved[n] for n in ("weight", "bias")) > 1e-3
    assert moved["frozen"] == 0.0


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("direction", ["ours->torch", "torch->ours"])
def test_state_dict_cross_loads_mid_run(direction, impl, device):
    hyper = {"lr": LR, "lr_decay": 0.1, "weight_decay": 0.01, "initial_accumulator_value": 0.1}
    ours = lambda g: Adagrad(g, impl=impl, **hyper)  # noqa: E731
    ref = lambda g: torch.optim.Adagrad(g, **hyper)  # noqa: E731
    first, second = (ours, ref) if direction == "ours->torch" else (ref, ours)
    assert_same_trajectory(
        switching(first, second),
        ref,
        param_groups(make_params(device), "two", [{}, {"eps": 1e-3}]),
        reload_at=4,
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_state_layout_is_torchs(impl, device):
    p_ours, p_ref = make_params(device), make_params(device)
    ours = Adagrad(list(p_ours.values()), initial_accumulator_value=0.1, impl=impl)
    ref = torch.optim.Adagrad(list(p_ref.values()), initial_accumulator_value=0.1)
    for steps in (0, 3):  # torch makes the state at construction, for every parameter
        drive(ours, p_ours, steps)
        drive(ref, p_ref, steps)
        assert ours.state_dict()["state"].keys() == ref.state_dict()["state"].keys()
        for name in p_ours:
            s_ours, s_ref = ours.state[p_ours[name]], ref.state[p_ref[name]]
            assert s_ours.keys() == s_ref.keys() == {"step", "sum"}, name
            for key, value in s_ref.items():
                assert (s_ours[key].dtype, s_ours[key].device) == (value.dtype, value.device)
                torch.testing.assert_close(s_ours[key], value, rtol=1e-10, atol=0)
    # The parameter without gradient keeps its value and its fresh state.
    assert ours.state[p_ours["frozen"]]["step"].item() == 0
    assert torch.equal(p_ours["frozen"], make_params(device)["frozen"])


def test_step_dtype_follows_the_default_dtype():
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        ours, ref = Adagrad([p]), torch.optim.Adagrad([p])
        assert ours.state[p]["step"].dtype == ref.state[p]["step"].dtype == torch.float64
    finally:
        torch.set_default_dtype(previous)


@pytest.mark.parametrize("impl", IMPLS)
def test_readable_and_foreach_agree(impl, device):
    hyper = {"lr": LR, "lr_decay": 0.1, "weight_decay": 0.01, "maximize": True}
    assert_same_trajectory(
        lambda g: Adagrad(g, impl=impl, **hyper),
        lambda g: Adagrad(g, impl="readable" if impl == "foreach" else "foreach", **hyper),
        param_groups(make_params(device), "two", [{}, {"lr_decay": 0.0}]),
        rtol=1e-13,
    )


@pytest.mark.parametrize("lr_decay", [0.0, 0.1])
@pytest.mark.parametrize("impl", IMPLS)
def test_tensor_lr(impl, lr_decay):
    lr = torch.tensor(LR, dtype=torch.float64)
    assert_same_trajectory(
        lambda g: Adagrad(g, lr=lr, lr_decay=lr_decay, impl=impl),
        lambda g: torch.optim.Adagrad(g, lr=lr, lr_decay=lr_decay),
        param_groups(make_params(), "one"),
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_a_parameter_added_later_gets_state(impl):
    # The constructor makes state for its own parameters only; a group added afterwards gets it
    # on its first step, from the constructor's initial_accumulator_value (as torch).
    def run(factory):
        a = torch.linspace(-1, 1, 3, dtype=torch.float64).requires_grad_()
        b = torch.linspace(0, 2, 3, dtype=torch.float64).requires_grad_()
        opt = factory([a])
        opt.add_param_group({"params": [b], "initial_accumulator_value": 3.0})
        for _ in range(3):
            opt.zero_grad()
            (torch.sin(a).sum() + (b**2).sum()).backward()
            opt.step()
        return a, b, opt.state[b]["sum"]

    ours = run(lambda p: Adagrad(p, lr=LR, initial_accumulator_value=0.5, impl=impl))
    ref = run(lambda p: torch.optim.Adagrad(p, lr=LR, initial_accumulator_value=0.5))
    for x, y in zip(ours, ref, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=0)


@pytest.mark.parametrize("foreach", [False, True])
def test_lr_decay_closed_form(foreach):
    # Constant gradient 1: G_t = G_0 + t and eta_t = eta / (1 + (t - 1) delta).
    lr, delta, g0, eps = 0.5, 0.25, 0.2, 1e-10
    theta = torch.zeros(1, dtype=torch.float64)
    state = AdagradState.init(theta, g0)
    expected = 0.0
    for t in range(1, 6):
        adagrad(
            [theta],
            [torch.ones_like(theta)],
            [state],
            lr=lr,
            lr_decay=delta,
            weight_decay=0.0,
            eps=eps,
            maximize=False,
            foreach=foreach,
        )
        expected -= lr / (1 + (t - 1) * delta) / ((g0 + t) ** 0.5 + eps)
        assert theta.item() == pytest.approx(expected, rel=1e-14)
        assert state.step.item() == t


def test_a_different_lr_decay_is_caught():
    with pytest.raises(AssertionError, match="differs"):
        assert_same_trajectory(
            lambda g: Adagrad(g, lr=LR, lr_decay=0.1),
            lambda g: torch.optim.Adagrad(g, lr=LR, lr_decay=0.1001),
            param_groups(make_params(), "one"),
        )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lr": -0.1}, "lr"),
        ({"lr_decay": -0.5}, "lr_decay"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
        ({"eps": -1e-10}, "eps"),
        ({"lr": torch.tensor([0.1, 0.2])}, "lr"),
    ],
    ids=grid_id,
)
def test_invalid_arguments(kwargs, name):
    params = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=name):
        Adagrad(params, **kwargs)
    with pytest.raises(ValueError):  # torch rejects the same arguments
        torch.optim.Adagrad(params, **kwargs)
