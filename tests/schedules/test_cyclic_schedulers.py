"""CyclicLR and OneCycleLR against torch: lrs and cycled momentum / betas[0], quirks included."""

import itertools

import pytest
import torch

from course_lib import schedules as ours
from tests.schedules.compare import compare, compare_resume, make_optimizer

T = torch.optim.lr_scheduler

CYCLIC = [
    dict(step_size_up=up, step_size_down=down, mode=mode, gamma=gamma)
    for (up, down), mode, gamma in itertools.product(
        [(4, None), (3, 5), (1, 1), (6, 2)],
        ["triangular", "triangular2", "exp_range"],
        [1.0, 0.97],
    )
    if mode == "exp_range" or gamma == 1.0
]


@pytest.mark.parametrize("kwargs", CYCLIC, ids=[str(k) for k in CYCLIC])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_cyclic_matches_torch_over_several_cycles(kwargs, kind):
    compare(
        lambda o: T.CyclicLR(o, base_lr=[0.01, 0.001], max_lr=[0.1, 0.05], **kwargs),
        lambda o: ours.CyclicLR(o, base_lr=[0.01, 0.001], max_lr=[0.1, 0.05], **kwargs),
        steps=40,
        kind=kind,
        reload_at=9,
    )


@pytest.mark.parametrize("last_epoch", [0, 5, 13])
def test_cyclic_resume_matches_torch(last_epoch):
    compare_resume(
        lambda o, e: T.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2", last_epoch=e),
        lambda o, e: ours.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2", last_epoch=e),
        last_epoch=last_epoch,
        steps=20,
    )


class HalfEachCycle:
    """A callable object: its __dict__ survives state_dict, like torch's rule for scale_fn."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, x):
        return self.base ** (x - 1)


@pytest.mark.parametrize("scale_mode", ["cycle", "iterations"])
def test_cyclic_custom_scale_fn_matches_torch_and_survives_a_reload(scale_mode):
    compare(
        lambda o: T.CyclicLR(o, 0.01, 0.1, 3, scale_fn=HalfEachCycle(), scale_mode=scale_mode),
        lambda o: ours.CyclicLR(o, 0.01, 0.1, 3, scale_fn=HalfEachCycle(), scale_mode=scale_mode),
        steps=25,
        reload_at=8,
    )


def test_cyclic_without_momentum_cycling_matches_torch_on_adagrad():
    compare(
        lambda o: T.CyclicLR(o, 0.01, 0.1, 4, cycle_momentum=False),
        lambda o: ours.CyclicLR(o, 0.01, 0.1, 4, cycle_momentum=False),
        steps=20,
        kind="adagrad",
    )


def test_cyclic_raises_like_torch_when_the_optimizer_has_no_momentum():
    with pytest.raises(ValueError, match="momentum"):
        T.CyclicLR(make_optimizer("adagrad"), 0.01, 0.1)
    with pytest.raises(ValueError, match="momentum"):
        ours.CyclicLR(make_optimizer("adagrad"), 0.01, 0.1)


def test_cyclic_switches_momentum_on_for_sgd_without_momentum_like_torch():
    opt = make_optimizer("sgd0")
    assert opt.param_groups[0]["momentum"] == 0
    ours.CyclicLR(opt, 0.01, 0.1)
    assert opt.param_groups[0]["momentum"] == 0.9
    compare(
        lambda o: T.CyclicLR(o, 0.01, 0.1, 3),
        lambda o: ours.CyclicLR(o, 0.01, 0.1, 3),
        steps=10,
        kind="sgd0",
    )


ONE_CYCLE = [
    dict(total_steps=n, pct_start=p, anneal_strategy=a, three_phase=three)
    for n, p, a, three in itertools.product(
        [10, 37, 100], [0.3, 0.25, 0.5], ["cos", "linear"], [False, True]
    )
]


@pytest.mark.parametrize("kwargs", ONE_CYCLE, ids=[str(k) for k in ONE_CYCLE])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_cycle_matches_torch_to_the_last_allowed_step(kwargs, kind):
    # total_steps further steps after the constructor: the last one is torch's extrapolation
    compare(
        lambda o: T.OneCycleLR(o, max_lr=[0.1, 0.02], **kwargs),
        lambda o: ours.OneCycleLR(o, max_lr=[0.1, 0.02], **kwargs),
        steps=kwargs["total_steps"],
        kind=kind,
        reload_at=kwargs["total_steps"] // 2,
    )


def test_one_cycle_other_arguments_match_torch():
    kwargs = dict(
        epochs=3,
        steps_per_epoch=7,
        div_factor=10.0,
        final_div_factor=100.0,
        base_momentum=[0.8, 0.7],
        max_momentum=0.99,
    )
    compare(
        lambda o: T.OneCycleLR(o, max_lr=0.2, **kwargs),
        lambda o: ours.OneCycleLR(o, max_lr=0.2, **kwargs),
        steps=21,
        kind="adam",
    )


@pytest.mark.parametrize("last_epoch", [0, 6, 19])
def test_one_cycle_resume_matches_torch(last_epoch):
    compare_resume(
        lambda o, e: T.OneCycleLR(o, 0.1, total_steps=25, last_epoch=e),
        lambda o, e: ours.OneCycleLR(o, 0.1, total_steps=25, last_epoch=e),
        last_epoch=last_epoch,
        steps=25 - last_epoch - 1,
    )


def test_one_cycle_raises_when_stepped_past_total_steps_like_torch():
    for lib in (T, ours):
        opt = make_optimizer()
        sched = lib.OneCycleLR(opt, max_lr=0.1, total_steps=5)
        for _ in range(5):
            opt.step()
            sched.step()
        opt.step()
        with pytest.raises(ValueError, match="Tried to step 6 times"):
            sched.step()


def test_one_cycle_start_and_end_lrs_follow_the_default_factors():
    opt = make_optimizer(lrs=(1.0,))
    sched = ours.OneCycleLR(opt, max_lr=1.0, total_steps=20, cycle_momentum=False)
    first = sched.get_last_lr()[0]
    for _ in range(19):
        opt.step()
        sched.step()
    assert first == pytest.approx(1.0 / 25, rel=1e-15)
    assert sched.get_last_lr()[0] == pytest.approx(1.0 / 25 / 1e4, rel=1e-12)


def test_one_cycle_requires_a_length():
    with pytest.raises(ValueError, match="total_steps"):
        ours.OneCycleLR(make_optimizer(), max_lr=0.1)
