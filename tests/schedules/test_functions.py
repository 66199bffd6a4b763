"""Pure decay schedules: each against its formula (written out here) and torch's lr sequence."""

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from course_lib import schedules as S

T = torch.optim.lr_scheduler
RTOL = 1e-12


def torch_lrs(make, steps, base_lr=0.1):
    """The lr torch's scheduler gives at steps 0..steps (one param group)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make(opt)
    out = [sched.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def assert_close(ours, expected, atol=1e-18):
    assert len(ours) == len(expected)
    for t, (a, b) in enumerate(zip(ours, expected, strict=True)):
        assert abs(a - b) <= atol + RTOL * abs(b), f"step {t}: ours {a!r}, expected {b!r}"


def test_constant():
    assert [S.constant_schedule(0.3)(t) for t in range(5)] == [0.3] * 5


@pytest.mark.parametrize(("step_size", "gamma"), list(itertools.product([1, 4], [0.1, 0.7])))
def test_step(step_size, gamma):
    f = S.step_schedule(0.1, step_size, gamma)
    got = [f(t) for t in range(30)]
    assert_close(got, [0.1 * gamma ** (t // step_size) for t in range(30)])
    assert_close(got, torch_lrs(lambda o: T.StepLR(o, step_size, gamma), 29))


@pytest.mark.parametrize("milestones", [[3, 8], [8, 3, 3], [0, 12]])
def test_multistep(milestones):
    f = S.multistep_schedule(0.1, milestones, 0.5)
    got = [f(t) for t in range(20)]
    assert_close(got, [0.1 * 0.5 ** sum(m <= t for m in milestones) for t in range(20)])
    assert_close(got, torch_lrs(lambda o: T.MultiStepLR(o, milestones, 0.5), 19))


@pytest.mark.parametrize("gamma", [0.5, 0.95, 1.0])
def test_exponential(gamma):
    f = S.exponential_schedule(0.1, gamma)
    got = [f(t) for t in range(60)]
    assert_close(got, [0.1 * gamma**t for t in range(60)])
    assert_close(got, torch_lrs(lambda o: T.ExponentialLR(o, gamma), 59))


@pytest.mark.parametrize(("total", "power"), list(itertools.product([1, 10], [1.0, 2.0, 0.5])))
def test_polynomial(total, power):
    f = S.polynomial_schedule(0.1, total, power)
    got = [f(t) for t in range(total + 10)]
    assert_close(got, [0.1 * (1 - min(t, total) / total) ** power for t in range(total + 10)])
    assert_close(got, torch_lrs(lambda o: T.PolynomialLR(o, total, power), total + 9))
    g = S.polynomial_schedule(0.1, total, power, end_lr=0.01)
    assert g(0) == 0.1 and g(total) == 0.01 and g(total + 5) == 0.01


@pytest.mark.parametrize(("f0", "f1", "total"), [(1 / 3, 1.0, 5), (0.2, 0.0, 8), (1.0, 0.5, 3)])
def test_linear(f0, f1, total):
    f = S.linear_schedule(0.1, total, f0, f1)
    got = [f(t) for t in range(total + 5)]
    assert_close(got, [0.1 * (f0 + (f1 - f0) * min(t, total) / total) for t in range(total + 5)])
    assert_close(got, torch_lrs(lambda o: T.LinearLR(o, f0, f1, total), total + 4))


@pytest.mark.parametrize(("total", "min_lr"), list(itertools.product([1, 10, 100], [0.0, 0.001])))
def test_cosine_matches_torch_up_to_total_steps_then_is_clamped(total, min_lr):
    f = S.cosine_schedule(0.1, total, min_lr)
    got = [f(t) for t in range(total + 1)]
    formula = [
        min_lr + (0.1 - min_lr) * (1 + math.cos(math.pi * t / total)) / 2 for t in range(total + 1)
    ]
    assert_close(got, formula)
    assert_close(got, torch_lrs(lambda o: T.CosineAnnealingLR(o, total, min_lr), total))
    # torch's rises again after T_max; ours stays at min_lr
    assert [f(t) for t in range(total, 3 * total + 2)] == [min_lr] * (2 * total + 2)


@pytest.mark.parametrize(("T_0", "T_mult"), list(itertools.product([1, 3], [1, 2, 3])))
def test_warm_restarts(T_0, T_mult):
    f = S.cosine_warm_restarts_schedule(0.1, T_0, T_mult, eta_min=0.001)
    got = [f(t) for t in range(80)]
    assert_close(got, torch_lrs(lambda o: T.CosineAnnealingWarmRestarts(o, T_0, T_mult, 0.001), 79))
    # the formula, cycle by cycle: restarts at 0, T_0, T_0 + T_0 T_mult, ...
    starts, length, expected = 0, T_0, []
    while len(expected) < 80:
        expected += [
            0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * c / length)) / 2 for c in range(length)
        ]
        starts, length = starts + length, length * T_mult
    assert_close(got, expected[:80])


@given(
    base=st.floats(1e-6, 10.0),
    total=st.integers(1, 500),
    frac=st.floats(0.0, 1.0),
    step=st.integers(0, 2000),
)
def test_cosine_stays_between_its_bounds_and_never_increases(base, total, frac, step):
    min_lr = frac * base
    f = S.cosine_schedule(base, total, min_lr)
    assert min_lr * (1 - 1e-15) <= f(step) <= base * (1 + 1e-15)
    assert f(step + 1) <= f(step) * (1 + 1e-15)


@given(t0=st.integers(1, 20), mult=st.integers(1, 4), step=st.integers(0, 5000))
def test_warm_restart_position_is_inside_its_cycle(t0, mult, step):
    t_cur, t_i = S.functions.warm_restart_position(step, t0, mult)
    assert 0 <= t_cur < t_i
    assert t_i % t0 == 0
