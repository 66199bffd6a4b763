"""StepLR, MultiStepLR, ExponentialLR, LinearLR, PolynomialLR against torch, over argument grids.

Every case runs past the interesting points (several decays, past total_iters), reloads from a
state_dict mid-run, and every class is also resumed with ``last_epoch`` from a checkpoint,
where torch's recursive classes have their quirks.
"""

import itertools

import pytest
import torch

from course_lib import schedules as ours
from tests.schedules.compare import compare, compare_resume

T = torch.optim.lr_scheduler

CASES = (
    [
        ("StepLR", {"step_size": s, "gamma": g})
        for s, g in itertools.product([1, 3, 7], [0.1, 0.5, 0.93])
    ]
    + [
        ("MultiStepLR", {"milestones": m, "gamma": g})
        for m, g in itertools.product([[2, 5, 9], [9, 2, 5], [0, 4, 4, 10], [30]], [0.1, 0.7])
    ]
    + [("ExponentialLR", {"gamma": g}) for g in [0.5, 0.9, 0.999, 1.0]]
    + [
        ("LinearLR", {"start_factor": s, "end_factor": e, "total_iters": n})
        for s, e, n in itertools.product([1 / 3, 0.01, 1.0], [1.0, 0.5, 0.0], [1, 5, 12])
    ]
    + [
        ("PolynomialLR", {"total_iters": n, "power": p})
        for n, p in itertools.product([1, 5, 12], [1.0, 2.0, 0.5, 3.7])
    ]
)


def _ids(case):
    return f"{case[0]}-" + "-".join(f"{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_matches_torch_step_by_step_with_a_reload(case, kind):
    name, kwargs = case
    compare(
        lambda o: getattr(T, name)(o, **kwargs),
        lambda o: getattr(ours, name)(o, **kwargs),
        steps=40,
        kind=kind,
        reload_at=7,
    )


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("last_epoch", [0, 2, 5, 13])
def test_resume_with_last_epoch_matches_torch(case, last_epoch):
    # torch's quirks live here: StepLR/MultiStepLR apply step k+1 at construction, the others
    # hold the checkpoint's lr one step and then multiply it (see ClosedFormLR).
    name, kwargs = case
    compare_resume(
        lambda o, e: getattr(T, name)(o, **kwargs, last_epoch=e),
        lambda o, e: getattr(ours, name)(o, **kwargs, last_epoch=e),
        last_epoch=last_epoch,
        steps=25,
    )


def test_exponential_resume_lags_the_uninterrupted_run_by_one_step():
    # The documented quirk, spelled out: torch (and we) hold the lr for one step on resume.
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = ours.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        opt.step()
        sched.step()
    assert sched.get_last_lr() == [0.125]
    resumed = ours.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    assert resumed.get_last_lr() == [0.125] and resumed.last_epoch == 4
    opt.step()
    resumed.step()
    assert resumed.get_last_lr() == [0.0625]  # the uninterrupted run has 0.03125 at step 5


def test_closed_form_values_and_per_group_base_lrs():
    opt = torch.optim.SGD(
        [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in (1.0, 0.25)], lr=1.0
    )
    sched = ours.MultiStepLR(opt, milestones=[3, 1, 3], gamma=0.5)
    lrs = [sched.get_last_lr()]
    for _ in range(4):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    # milestone 3 is listed twice: two decays there
    assert lrs == [[1.0, 0.25], [0.5, 0.125], [0.5, 0.125], [0.125, 0.03125], [0.125, 0.03125]]


def test_sequential_lr_interoperates_like_torch():
    def make(lib):
        def factory(o):
            warm = lib.LinearLR(o, start_factor=0.1, total_iters=4)
            decay = lib.ExponentialLR(o, gamma=0.8)
            return T.SequentialLR(o, [warm, decay], milestones=[4])

        return factory

    compare(make(T), make(ours), steps=20)
