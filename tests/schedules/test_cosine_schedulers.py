"""CosineAnnealingLR and CosineAnnealingWarmRestarts against torch, quirks included."""

import itertools
import math

import pytest
import torch

from course_lib import schedules as ours
from tests.schedules.compare import compare, compare_resume, make_optimizer

T = torch.optim.lr_scheduler

COSINE = list(itertools.product([1, 2, 7, 50], [0.0, 1e-3, 0.05]))


@pytest.mark.parametrize(("T_max", "eta_min"), COSINE)
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_cosine_annealing_matches_torch_through_three_periods(T_max, eta_min, kind):
    # 3 * T_max + 3 steps: down, back up (the quirk), down again; eta_min = 0.05 lies between
    # the two groups' lrs (0.1, 0.03), so one group "anneals" upwards.
    compare(
        lambda o: T.CosineAnnealingLR(o, T_max, eta_min),
        lambda o: ours.CosineAnnealingLR(o, T_max, eta_min),
        steps=3 * T_max + 3,
        kind=kind,
        reload_at=T_max + 1,
    )


@pytest.mark.parametrize(("T_max", "eta_min"), COSINE)
@pytest.mark.parametrize("last_epoch", [0, 3, 10])
def test_cosine_annealing_resume_matches_torch(T_max, eta_min, last_epoch):
    compare_resume(
        lambda o, e: T.CosineAnnealingLR(o, T_max, eta_min, last_epoch=e),
        lambda o, e: ours.CosineAnnealingLR(o, T_max, eta_min, last_epoch=e),
        last_epoch=last_epoch,
        steps=2 * T_max + 3,
    )


def test_cosine_annealing_rises_again_after_t_max():
    opt = make_optimizer(lrs=(1.0,))
    sched = ours.CosineAnnealingLR(opt, T_max=4)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(8):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs[4] == 0.0
    assert lrs[8] == pytest.approx(1.0, rel=1e-12)  # back at the initial lr at 2 * T_max
    assert lrs[5:9] == sorted(lrs[5:9])


def test_cosine_annealing_is_chainable_like_torch():
    def make(lib):
        return lambda o: T.ChainedScheduler(
            [lib.CosineAnnealingLR(o, T_max=6, eta_min=0.01), T.ExponentialLR(o, gamma=0.9)]
        )

    compare(make(T), make(ours), steps=20)


WARM = list(itertools.product([1, 3, 5], [1, 2, 3], [0.0, 0.01]))


@pytest.mark.parametrize(("T_0", "T_mult", "eta_min"), WARM)
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_warm_restarts_match_torch_over_several_restarts(T_0, T_mult, eta_min, kind):
    compare(
        lambda o: T.CosineAnnealingWarmRestarts(o, T_0, T_mult, eta_min),
        lambda o: ours.CosineAnnealingWarmRestarts(o, T_0, T_mult, eta_min),
        steps=60,
        kind=kind,
        reload_at=T_0 + 2,
    )


@pytest.mark.parametrize(("T_0", "T_mult", "eta_min"), WARM)
@pytest.mark.parametrize("last_epoch", [0, 4, 17])
def test_warm_restarts_resume_matches_torch(T_0, T_mult, eta_min, last_epoch):
    # includes torch's single-wrap quirk (T_mult > 1, last_epoch past the second restart)
    compare_resume(
        lambda o, e: T.CosineAnnealingWarmRestarts(o, T_0, T_mult, eta_min, last_epoch=e),
        lambda o, e: ours.CosineAnnealingWarmRestarts(o, T_0, T_mult, eta_min, last_epoch=e),
        last_epoch=last_epoch,
        steps=30,
    )


@pytest.mark.parametrize(("T_0", "T_mult"), [(3, 1), (2, 2), (5, 3)])
def test_warm_restarts_fractional_epochs_match_torch(T_0, T_mult):
    opt_r, opt_o = make_optimizer(), make_optimizer()
    ref = T.CosineAnnealingWarmRestarts(opt_r, T_0, T_mult, eta_min=0.001)
    mine = ours.CosineAnnealingWarmRestarts(opt_o, T_0, T_mult, eta_min=0.001)
    iters = 7  # per epoch: 1/7 is not exact in binary, so this exercises rounding too
    for epoch in range(20):
        for i in range(iters):
            e = epoch + i / iters
            ref.step(e)
            mine.step(e)
            assert mine.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12), e
            assert (mine.T_cur, mine.T_i) == pytest.approx((ref.T_cur, ref.T_i), rel=1e-12)


def test_warm_restarts_rejects_a_negative_epoch():
    sched = ours.CosineAnnealingWarmRestarts(make_optimizer(), T_0=3)
    with pytest.raises(ValueError, match="epoch"):
        sched.step(-1)


def test_warm_restarts_restart_exactly_at_the_initial_lr():
    opt = make_optimizer(lrs=(0.5,))
    sched = ours.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(14):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    # cycles of length 2, 4, 8 start at steps 0, 2, 6, 14
    assert [t for t, lr in enumerate(lrs) if lr == 0.5] == [0, 2, 6, 14]
    assert lrs[4] == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 4)) / 2, rel=1e-15)
