"""Invalid arguments raise ValueError naming the argument, at construction time."""

import pytest
import torch

from course_lib import schedules as S
from tests.schedules.compare import make_optimizer

NAN = float("nan")

# (factory, valid keyword arguments, the argument to spoil, bad values)
PURE = [
    (S.constant_schedule, {"base_lr": 0.1}, "base_lr", [-0.1, NAN, "0.1", True]),
    (S.step_schedule, {"base_lr": 0.1, "step_size": 3}, "step_size", [0, 2.5, -1]),
    (S.step_schedule, {"base_lr": 0.1, "step_size": 3}, "gamma", [0.0, -0.5, float("inf")]),
    (S.multistep_schedule, {"base_lr": 0.1, "milestones": [2]}, "milestones", [[-1], [1.5]]),
    (S.exponential_schedule, {"base_lr": 0.1, "gamma": 0.9}, "gamma", [0.0, -1.0]),
    (S.polynomial_schedule, {"base_lr": 0.1, "total_steps": 5}, "total_steps", [0, 5.0]),
    (S.polynomial_schedule, {"base_lr": 0.1, "total_steps": 5}, "power", [0.0, -1.0]),
    (S.polynomial_schedule, {"base_lr": 0.1, "total_steps": 5}, "end_lr", [-1e-3]),
    (S.linear_schedule, {"base_lr": 0.1, "total_steps": 5}, "start_factor", [-0.1]),
    (S.cosine_schedule, {"base_lr": 0.1, "total_steps": 5}, "total_steps", [0]),
    (S.cosine_schedule, {"base_lr": 0.1, "total_steps": 5}, "min_lr", [-0.1]),
    (S.cosine_warm_restarts_schedule, {"base_lr": 0.1, "T_0": 5}, "T_0", [0]),
    (S.cosine_warm_restarts_schedule, {"base_lr": 0.1, "T_0": 5}, "T_mult", [0, 1.5]),
    (S.linear_warmup_schedule, {"base_lr": 0.1, "warmup_steps": 5}, "warmup_steps", [-1]),
    (S.linear_warmup_schedule, {"base_lr": 0.1, "warmup_steps": 5}, "start_factor", [1.5]),
    (
        S.warmup_cosine_schedule,
        {"base_lr": 0.1, "warmup_steps": 5, "total_steps": 10},
        "total_steps",
        [5, 3],
    ),
    (
        S.warmup_linear_schedule,
        {"base_lr": 0.1, "warmup_steps": 5, "total_steps": 10},
        "end_lr",
        [-1.0],
    ),
    (S.cyclical_schedule, {"base_lr": 0.01, "max_lr": 0.1}, "mode", ["triangle"]),
    (S.cyclical_schedule, {"base_lr": 0.01, "max_lr": 0.1}, "step_size_down", [0]),
    (S.cyclical_schedule, {"base_lr": 0.01, "max_lr": 0.1}, "gamma", [0.0, 1.5]),
    (S.one_cycle_schedule, {"max_lr": 0.1, "total_steps": 10}, "pct_start", [-0.1, 1.1]),
    (S.one_cycle_schedule, {"max_lr": 0.1, "total_steps": 10}, "anneal_strategy", ["cosine"]),
    (S.one_cycle_schedule, {"max_lr": 0.1, "total_steps": 10}, "div_factor", [0.0]),
    (S.one_cycle_schedule, {"max_lr": 0.1, "total_steps": 10}, "final_div_factor", [-1.0]),
]

CLASSES = [
    (S.StepLR, {"step_size": 3}, "step_size", [0]),
    (S.StepLR, {"step_size": 3}, "gamma", [0.0]),
    (S.StepLR, {"step_size": 3}, "last_epoch", [-2, 1.0]),
    (S.MultiStepLR, {"milestones": [3]}, "milestones", [[-3]]),
    (S.ExponentialLR, {"gamma": 0.9}, "gamma", [-0.9]),
    (S.LinearLR, {}, "start_factor", [0.0, 1.5]),
    (S.LinearLR, {}, "end_factor", [-0.1, 1.5]),
    (S.LinearLR, {}, "total_iters", [0]),
    (S.PolynomialLR, {}, "total_iters", [0]),
    (S.PolynomialLR, {}, "power", [0.0]),
    (S.CosineAnnealingLR, {"T_max": 5}, "T_max", [0, 2.5]),
    (S.CosineAnnealingLR, {"T_max": 5}, "eta_min", [-1.0]),
    (S.CosineAnnealingWarmRestarts, {"T_0": 5}, "T_0", [0]),
    (S.CosineAnnealingWarmRestarts, {"T_0": 5}, "T_mult", [0]),
    (S.CyclicLR, {"base_lr": 0.01, "max_lr": 0.1}, "mode", ["triangle"]),
    (S.CyclicLR, {"base_lr": 0.01, "max_lr": 0.1}, "base_lr", [[0.1], -0.1]),
    (S.CyclicLR, {"base_lr": 0.01, "max_lr": 0.1}, "max_momentum", [1.5]),
    (S.CyclicLR, {"base_lr": 0.01, "max_lr": 0.1}, "scale_mode", ["epoch"]),
    (S.OneCycleLR, {"max_lr": 0.1, "total_steps": 10}, "total_steps", [0]),
    (S.OneCycleLR, {"max_lr": 0.1, "total_steps": 10}, "pct_start", [2.0]),
    (S.OneCycleLR, {"max_lr": 0.1, "total_steps": 10}, "max_lr", [[0.1, 0.1, 0.1]]),
    (S.OneCycleLR, {"max_lr": 0.1, "epochs": 2, "steps_per_epoch": 5}, "epochs", [0]),
    (S.ReduceLROnPlateau, {}, "factor", [1.0, -0.1]),
    (S.ReduceLROnPlateau, {}, "mode", ["minimum"]),
    (S.ReduceLROnPlateau, {}, "threshold_mode", ["relative"]),
    (S.ReduceLROnPlateau, {}, "patience", [-1]),
    (S.ReduceLROnPlateau, {}, "cooldown", [-1]),
    (S.ReduceLROnPlateau, {}, "eps", [-1e-8]),
]


def _cases(table):
    return [(f, kw, name, bad) for f, kw, name, bads in table for bad in bads]


def _id(case):
    f, _, name, bad = case
    return f"{f.__name__}-{name}={bad!r}"


@pytest.mark.parametrize("case", _cases(PURE), ids=[_id(c) for c in _cases(PURE)])
def test_pure_schedules_reject_bad_arguments(case):
    factory, kwargs, name, bad = case
    factory(**kwargs)  # the valid arguments are valid
    with pytest.raises(ValueError, match=name):
        factory(**{**kwargs, name: bad})


@pytest.mark.parametrize("case", _cases(CLASSES), ids=[_id(c) for c in _cases(CLASSES)])
def test_schedulers_reject_bad_arguments(case):
    cls, kwargs, name, bad = case
    cls(make_optimizer(), **kwargs)
    with pytest.raises(ValueError, match=name):
        cls(make_optimizer(), **{**kwargs, name: bad})


def test_negative_steps_are_rejected():
    with pytest.raises(ValueError, match="step"):
        S.cosine_schedule(0.1, 10)(-1)


def test_a_non_optimizer_is_a_type_error_like_torch():
    for cls, kwargs in [
        (S.StepLR, {"step_size": 2}),
        (S.ReduceLROnPlateau, {}),
        (S.CosineAnnealingLR, {"T_max": 3}),
        (S.ScheduleLR, {"schedule": S.constant_schedule(1.0)}),
    ]:
        with pytest.raises(TypeError, match="not an Optimizer"):
            cls(torch.nn.Linear(2, 2), **kwargs)


def test_messages_name_the_value_and_the_allowed_range():
    with pytest.raises(
        ValueError,
        match=r"Invalid gamma value: -0\.5; gamma must be a finite "
        r"number in \(0, inf\)",
    ):
        S.exponential_schedule(0.1, -0.5)
