"""Pure cyclical and one-cycle schedules: Smith's formulas and torch's sequences."""

import itertools
import math

import pytest
import torch

from course_lib import schedules as S
from tests.schedules.test_functions import assert_close, torch_lrs

T = torch.optim.lr_scheduler


def smith_clr(t, base, high, step_size, mode, gamma):
    """Smith (2017), Section 3.1, symmetric triangle, as printed (plus the two scalings)."""
    cycle = math.floor(1 + t / (2 * step_size))
    x = abs(t / step_size - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma**t}[mode]
    return base + (high - base) * max(0.0, 1 - x) * scale


@pytest.mark.parametrize(
    ("step_size", "mode"),
    list(itertools.product([1, 4, 10], ["triangular", "triangular2", "exp_range"])),
)
def test_cyclical_matches_smith_formula_and_torch(step_size, mode):
    f = S.cyclical_schedule(0.01, 0.1, step_size, mode=mode, gamma=0.99)
    got = [f(t) for t in range(100)]
    assert_close(got, [smith_clr(t, 0.01, 0.1, step_size, mode, 0.99) for t in range(100)])
    ref = torch_lrs(
        lambda o: T.CyclicLR(o, 0.01, 0.1, step_size, mode=mode, gamma=0.99, cycle_momentum=False),
        99,
    )
    assert_close(got, ref)


def test_cyclical_with_unequal_halves_matches_torch():
    f = S.cyclical_schedule(0.01, 0.1, step_size_up=2, step_size_down=7)
    ref = torch_lrs(lambda o: T.CyclicLR(o, 0.01, 0.1, 2, 7, cycle_momentum=False), 50)
    assert_close([f(t) for t in range(51)], ref)
    # peak after 2 steps, back down 7 steps later
    assert f(2) == pytest.approx(0.1, rel=1e-15) and f(9) == pytest.approx(0.01, rel=1e-15)


ONE = list(itertools.product([10, 37, 100], [0.3, 0.25, 0.5], ["cos", "linear"], [False, True]))


@pytest.mark.parametrize(("total", "pct", "anneal", "three"), ONE)
def test_one_cycle_matches_torch(total, pct, anneal, three):
    f = S.one_cycle_schedule(0.1, total, pct, anneal, three_phase=three)
    ref = torch_lrs(
        lambda o: T.OneCycleLR(
            o,
            0.1,
            total,
            pct_start=pct,
            anneal_strategy=anneal,
            three_phase=three,
            cycle_momentum=False,
        ),
        total - 1,
    )
    assert_close([f(t) for t in range(total)], ref)
    assert f(0) == pytest.approx(0.1 / 25, rel=1e-15)
    assert f(total - 1) == pytest.approx(0.1 / 25 / 1e4, rel=1e-12)
    assert f(total) == f(total - 1) == f(10 * total)  # held, not extrapolated


def test_one_cycle_peak_is_max_lr_when_the_warmup_ends_on_a_step():
    f = S.one_cycle_schedule(1.0, 100, pct_start=0.3)  # warm-up ends at step 29
    assert f(29) == 1.0
    assert max(f(t) for t in range(100)) == 1.0


def test_one_cycle_rejects_a_zero_length_warmup():
    # pct_start * total_steps == 1: torch divides 0 by 0 at step 0
    with pytest.raises(ZeroDivisionError):
        T.OneCycleLR(
            torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), 0.1, 10, pct_start=0.1
        )
    with pytest.raises(ValueError, match="zero length"):
        S.one_cycle_schedule(0.1, 10, pct_start=0.1)
