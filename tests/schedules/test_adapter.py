"""ScheduleLR: drives any optimizer from pure schedules, like LambdaLR or absolutely."""

import pickle

import pytest
import torch

from course_lib import schedules as S
from tests.schedules.compare import compare, compare_resume, make_optimizer

T = torch.optim.lr_scheduler


@pytest.mark.parametrize("kind", ["sgd", "adam", "adagrad"])
def test_one_schedule_multiplies_each_groups_lr_like_lambda_lr(kind):
    schedule = S.warmup_cosine_schedule(1.0, warmup_steps=5, total_steps=30, min_lr=0.1)
    compare(
        lambda o: T.LambdaLR(o, schedule),
        lambda o: S.ScheduleLR(o, schedule),
        steps=40,
        kind=kind,
        reload_at=12,
    )


def test_a_list_gives_each_group_its_absolute_schedule():
    schedules = [S.step_schedule(0.5, 3), S.cyclical_schedule(0.001, 0.01, 4)]
    opt = make_optimizer()
    sched = S.ScheduleLR(opt, schedules)
    for t in range(1, 20):
        opt.step()
        sched.step()
        assert sched.get_last_lr() == [schedules[0](t), schedules[1](t)]
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()


def test_relative_overrides_the_default():
    schedule = S.exponential_schedule(0.5, 0.9)
    opt = make_optimizer()  # lrs 0.1 and 0.03
    absolute = S.ScheduleLR(opt, schedule, relative=False)
    assert absolute.get_last_lr() == [0.5, 0.5]
    opt2 = make_optimizer()
    scaled = S.ScheduleLR(opt2, [schedule, schedule], relative=True)
    assert scaled.get_last_lr() == pytest.approx([0.05, 0.015], rel=1e-15)


def test_matches_the_equivalent_torch_scheduler():
    compare(
        lambda o: T.StepLR(o, 4, 0.5),
        lambda o: S.ScheduleLR(o, S.step_schedule(1.0, 4, 0.5)),
        steps=20,
    )


@pytest.mark.parametrize("last_epoch", [0, 7])
def test_resume_continues_the_closed_form(last_epoch):
    schedule = S.cosine_schedule(1.0, 20)
    compare_resume(
        lambda o, e: T.LambdaLR(o, schedule, last_epoch=e),
        lambda o, e: S.ScheduleLR(o, schedule, last_epoch=e),
        last_epoch=last_epoch,
        steps=15,
    )


def test_state_dict_is_picklable_and_keeps_the_schedules():
    schedule = S.polynomial_schedule(1.0, 10, 2.0)
    opt = make_optimizer()
    sched = S.ScheduleLR(opt, schedule)
    state = pickle.loads(pickle.dumps(sched.state_dict()))
    assert "_schedules" not in state
    other = S.ScheduleLR(make_optimizer(), schedule)
    other.load_state_dict(state)
    assert other._schedules == [schedule, schedule]


@pytest.mark.parametrize("bad", [[S.constant_schedule(1.0)], [1.0, 2.0], "cosine"])
def test_rejects_a_list_of_the_wrong_length_or_non_callables(bad):
    with pytest.raises(ValueError, match="schedule"):
        S.ScheduleLR(make_optimizer(), bad)
