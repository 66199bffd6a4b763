"""The compiled fast path follows torch.optim step by step, like the other two paths.

Each case compiles (seconds on a 2-core CPU), so the grid here is smaller than the readable and
foreach grids; it still covers every flag each kernel branches on.
"""

import itertools

import pytest
import torch

from course_lib import optim
from tests.optim.trajectory import assert_same_trajectory, make_params, param_groups

CASES = [
    *(
        (optim.SGD, torch.optim.SGD, {"lr": 0.05, **kw})
        for kw in (
            {"momentum": 0.0, "weight_decay": 0.01, "maximize": True},
            {"momentum": 0.9, "dampening": 0.2},
            {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
        )
    ),
    *(
        (optim.Adam, torch.optim.Adam, {"lr": 0.01, **kw})
        for kw in (
            {},
            {"amsgrad": True, "weight_decay": 0.05, "maximize": True},
            {"weight_decay": 0.05, "decoupled_weight_decay": True},
        )
    ),
    (optim.AdamW, torch.optim.AdamW, {"lr": 0.01, "amsgrad": True}),
    *(
        (optim.RMSprop, torch.optim.RMSprop, {"lr": 0.01, **kw})
        for kw in (
            {"weight_decay": 0.01, "maximize": True},
            {"momentum": 0.5, "centered": True},
        )
    ),
    (optim.Adagrad, torch.optim.Adagrad, {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.01}),
]


@pytest.mark.slow
@pytest.mark.parametrize(("ours", "ref", "kwargs"), CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_compiled_path_follows_torch(ours, ref, kwargs, device):
    groups = param_groups(make_params(device), "two", [{}, {"lr": 1e-3}])
    assert_same_trajectory(
        lambda g: ours(g, impl="compiled", **kwargs),
        lambda g: ref(g, **kwargs),
        groups,
        steps=6,
        reload_at=3,
        use_closure=True,
    )


@pytest.mark.slow
def test_compiled_path_follows_a_changing_learning_rate_without_recompiling():
    params = make_params()
    groups = param_groups(params, "one")
    schedule = [0.01 * 0.7**t for t in range(8)]

    def with_schedule(cls, **kw):
        def factory(g):
            opt = cls(g, lr=schedule[0], **kw)
            step = opt.step

            def scheduled_step(closure=None):
                loss = step(closure)
                for group in opt.param_groups:  # what an lr scheduler does between steps
                    group["lr"] = schedule[min(scheduled_step.t, len(schedule) - 1)]
                scheduled_step.t += 1
                return loss

            scheduled_step.t = 1
            opt.step = scheduled_step
            return opt

        return factory

    torch._dynamo.reset()
    with torch._dynamo.config.patch(error_on_recompile=True):
        # A recompilation per new lr value would raise here; the first call compiles once and
        # the state-creating first step runs on the foreach path.
        assert_same_trajectory(
            with_schedule(optim.Adam, impl="compiled"),
            with_schedule(torch.optim.Adam),
            groups,
            steps=8,
        )


def test_compiled_is_refused_where_there_is_no_kernel():
    p = [torch.zeros(2, requires_grad=True)]
    for cls in (optim.RAdam, optim.NAdam):
        with pytest.raises(ValueError, match="impl='compiled' is not available for"):
            cls(p, impl="compiled")
    assert all("compiled" in cls.impls for cls in (optim.SGD, optim.Adam, optim.AdamW))
    assert set(itertools.chain(optim.RMSprop.impls, optim.Adagrad.impls)) == set(optim.IMPLS)
