"""Hidden tests of the ``lr_schedules`` assignment (never released to students).

Values are compared with ``torch.optim.lr_scheduler``'s sequences (computed here, in the
trusted process) and with ``course_lib.schedules``' closed forms; ``with_warmup`` wraps a
reference schedule so that it is tested alone. The static check for ready-made schedules is
:func:`course_lib.grading.forbid.find_forbidden` on the answer cells' source, with this
assignment's ``FORBID`` names (also blocked in the worker at grading).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from course_lib import schedules as S
from course_lib.grading.drivers.lr_schedules import reference_schedule
from course_lib.grading.forbid import find_forbidden
from course_lib.grading.testing import StudentCode, TestFailure, TestSuite, expect

suite = TestSuite("lr_schedules", hidden=True)

FORBID = [
    "course_lib.schedules.*",
    *(
        f"torch.optim.lr_scheduler.{name}"
        for name in (
            "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR",
            "LinearLR", "SequentialLR", "LambdaLR", "MultiplicativeLR", "PolynomialLR",
            "CosineAnnealingWarmRestarts", "CyclicLR",
        )
    ),
]  # fmt: skip
RTOL = 1e-9


def torch_lrs(base_lr: float, make: Callable, steps: int) -> list[float]:
    """The lr torch's scheduler ``make(optimizer)`` gives at steps 0 .. steps - 1."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = make(opt)
        out = []
        for _ in range(steps):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    return out


def describe(spec: dict) -> str:
    parts = [repr(a) for a in spec.get("args", [])]
    parts += [f"{k}={v!r}" for k, v in spec.get("kwargs", {}).items()]
    if "inner" in spec:
        parts.insert(0, describe(spec["inner"]))
    return f"{spec['factory']}({', '.join(parts)})"


def evaluate(student: StudentCode, spec: dict, steps: list[int]) -> list[float]:
    out = student.run_driver("lr_schedules:evaluate", spec=spec, steps=steps)
    if out["error"] is not None:
        raise TestFailure(out["message"])
    if out["not_float"]:
        raise TestFailure(
            f"{describe(spec)} returned {out['not_float'][0]} values; a schedule returns a "
            "Python float"
        )
    return out["values"]


def compare(student: StudentCode, spec: dict, steps: list[int], want: list[float], source: str):
    got = evaluate(student, spec, steps)
    for step, g, w in zip(steps, got, want, strict=True):
        if abs(g - w) > RTOL * abs(w) + 1e-15:
            raise TestFailure(
                f"{describe(spec)} at step {step} returned {g:.10g}; expected {w:.10g} "
                f"({source}). The first {steps.index(step)} steps checked were right."
            )


def spec(factory: str, *args: object, **kwargs: object) -> dict:
    return {"factory": factory, "args": list(args), "kwargs": kwargs}


@suite.test("step_values", points=2, description="step_schedule matches torch's StepLR")
def _(student: StudentCode) -> None:
    for base, size, gamma, n in [(0.1, 7, 0.5, 60), (1.0, 1, 0.9, 30), (0.03, 25, 0.1, 80)]:
        want = torch_lrs(
            base, lambda o, s=size, g=gamma: torch.optim.lr_scheduler.StepLR(o, s, g), n
        )
        compare(student, spec("step_schedule", base, size, gamma), list(range(n)), want,
                f"torch's StepLR(step_size={size}, gamma={gamma})")  # fmt: skip


@suite.test(
    "exponential_values", points=2, description="exponential_schedule matches ExponentialLR"
)
def _(student: StudentCode) -> None:
    for base, gamma, n in [(0.1, 0.97, 80), (0.002, 1.05, 40)]:
        want = torch_lrs(base, lambda o, g=gamma: torch.optim.lr_scheduler.ExponentialLR(o, g), n)
        compare(student, spec("exponential_schedule", base, gamma), list(range(n)), want,
                f"torch's ExponentialLR(gamma={gamma})")  # fmt: skip


@suite.test(
    "cosine_values",
    points=2,
    description="cosine_schedule matches CosineAnnealingLR up to T and holds min_lr after",
)
def _(student: StudentCode) -> None:
    for base, total, floor in [(0.1, 50, 0.001), (3e-4, 17, 0.0)]:
        want = torch_lrs(
            base,
            lambda o, t=total, f=floor: torch.optim.lr_scheduler.CosineAnnealingLR(o, t, f),
            total + 1,
        )
        case = spec("cosine_schedule", base, total, min_lr=floor)
        source = f"torch's CosineAnnealingLR(T_max={total})"
        compare(student, case, list(range(total + 1)), want, source)
        after = list(range(total + 1, total + 6))
        compare(student, spec("cosine_schedule", base, total, min_lr=floor), after,
                [floor] * len(after), "held at min_lr after total_steps")  # fmt: skip


@suite.test(
    "cosine_edge_cases",
    points=1,
    description="cosine_schedule with total_steps=1 and 2, and the last step",
)
def _(student: StudentCode) -> None:
    compare(student, spec("cosine_schedule", 0.5, 1, min_lr=0.1), [0, 1, 2], [0.5, 0.1, 0.1],
            "total_steps=1: base_lr at step 0, min_lr from step 1")  # fmt: skip
    compare(student, spec("cosine_schedule", 0.5, 2), [0, 1, 2], [0.5, 0.25, 0.0],
            "total_steps=2: the midpoint at step 1")  # fmt: skip
    compare(student, spec("cosine_schedule", 1.0, 1000, min_lr=0.01), [999, 1000],
            [S.cosine_schedule(1.0, 1000, 0.01)(999), 0.01], "the closed form")  # fmt: skip


def warm(inner: dict, steps: int) -> dict:
    return {"factory": "with_warmup", "inner": inner, "args": [steps]}


@suite.test(
    "warmup_values",
    points=2,
    description="with_warmup ramps from 0 then runs the wrapped schedule shifted",
)
def _(student: StudentCode) -> None:
    cases = [
        warm(spec("cosine_schedule", 0.1, 90), 10),
        warm(spec("step_schedule", 0.05, 20, 0.5), 7),
        warm(spec("exponential_schedule", 1.0, 0.95), 3),
    ]
    for case in cases:
        steps = list(range(110))
        ref = reference_schedule(case)
        compare(student, case, steps, [ref(t) for t in steps], "linear ramp from 0, then the "
                "wrapped schedule from its step 0")  # fmt: skip
    # The warm-up + cosine recipe against course_lib's one-piece closed form.
    steps = list(range(101))
    ref = S.warmup_cosine_schedule(0.1, 10, 100)
    compare(student, warm(spec("cosine_schedule", 0.1, 90), 10), steps, [ref(t) for t in steps],
            "course_lib.schedules.warmup_cosine_schedule(0.1, 10, 100)")  # fmt: skip


@suite.test(
    "warmup_edge_cases",
    points=1,
    description="with_warmup with 0 and 1 warm-up steps",
)
def _(student: StudentCode) -> None:
    inner = spec("cosine_schedule", 0.2, 10)
    ref = S.cosine_schedule(0.2, 10)
    compare(student, warm(inner, 0), list(range(12)), [ref(t) for t in range(12)],
            "0 warm-up steps: the wrapped schedule unchanged")  # fmt: skip
    compare(student, warm(inner, 1), list(range(12)), [0.0] + [ref(t) for t in range(11)],
            "1 warm-up step: 0 at step 0, then the wrapped schedule")  # fmt: skip


def torch_one_cycle(max_lr: float, total: int, **kw: float) -> list[float]:
    return torch_lrs(
        max_lr,
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr, total_steps=total, cycle_momentum=False, **kw
        ),
        total,
    )


@suite.test(
    "one_cycle_values", points=3, description="one_cycle_schedule matches torch's OneCycleLR"
)
def _(student: StudentCode) -> None:
    cases = [
        (0.1, 100, {}),
        (0.01, 37, {"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}),
        (1.0, 1000, {"pct_start": 0.1}),
    ]
    for max_lr, total, kw in cases:
        want = torch_one_cycle(max_lr, total, **kw)
        compare(student, spec("one_cycle_schedule", max_lr, total, **kw), list(range(total)),
                want, f"torch's OneCycleLR(max_lr={max_lr}, total_steps={total}"
                + "".join(f", {k}={v}" for k, v in kw.items()) + ")")  # fmt: skip


@suite.test(
    "one_cycle_edge_cases",
    points=1,
    description="one_cycle_schedule after the last step, and with total_steps=1",
)
def _(student: StudentCode) -> None:
    final = 0.1 / 25 / 1e4
    compare(student, spec("one_cycle_schedule", 0.1, 50), [49, 50, 51, 80], [final] * 4,
            "held at max_lr / div_factor / final_div_factor from the last step on")  # fmt: skip
    ref = S.one_cycle_schedule(0.1, 1)
    compare(student, spec("one_cycle_schedule", 0.1, 1), [0, 1], [ref(0), ref(1)],
            "total_steps=1: the final rate at step 0 (the step is past phase 1's end)")  # fmt: skip


INVALID = [
    spec("step_schedule", -0.1, 5),
    spec("step_schedule", 0.1, 0),
    spec("step_schedule", 0.1, 5, 0.0),
    spec("exponential_schedule", 0.1, 0.0),
    spec("exponential_schedule", -1.0, 0.9),
    spec("cosine_schedule", 0.1, 0),
    spec("cosine_schedule", 0.1, 10, min_lr=-0.1),
    warm(spec("constant_schedule", 0.1), -1),
    spec("one_cycle_schedule", 0.1, 0),
    spec("one_cycle_schedule", 0.1, 100, pct_start=1.5),
    spec("one_cycle_schedule", -0.1, 100),
]
VALID = [
    spec("step_schedule", 0.1, 5),
    spec("exponential_schedule", 0.1, 0.9),
    spec("cosine_schedule", 0.1, 10),
    warm(spec("constant_schedule", 0.1), 2),
    spec("one_cycle_schedule", 0.1, 100),
]


@suite.test(
    "argument_checks",
    points=2,
    description="every schedule raises ValueError on invalid arguments and returns floats",
)
def _(student: StudentCode) -> None:
    for case in INVALID:
        out = student.run_driver("lr_schedules:evaluate", spec=case, steps=[0, 1])
        got = "no error" if out["error"] is None else out["error"]
        expect(out["error"] == "ValueError", f"{describe(case)} should raise ValueError when "
               f"called; it gave {got}")  # fmt: skip
    for case in VALID:
        evaluate(student, case, [0, 1, 2, 3])


@suite.test(
    "no_ready_made_schedules",
    points=1,
    description="no course_lib.schedules or torch.optim.lr_scheduler scheduler is used",
)
def _(student: StudentCode) -> None:
    found = find_forbidden(student.source, FORBID)
    if found:
        raise TestFailure(
            "your answer cells use ready-made schedules, which this assignment forbids: "
            + "; ".join(found)
        )
    for case in VALID:  # the check needs working schedules
        evaluate(student, case, [0, 1])


@suite.test(
    "training_warmup_cosine",
    points=3,
    description="a short IMDB run with warm-up + cosine trains like the reference schedule",
    timeout=180.0,
)
def _(student: StudentCode) -> None:
    steps, warmup, peak = 12, 3, 1e-2
    case = warm(spec("cosine_schedule", peak, steps - warmup), warmup)
    out = student.run_driver(
        "lr_schedules:train", timeout=170.0, spec=case, steps=steps, subset=1000, val_size=256
    )
    what = (
        f"{steps} steps of the cpu preset's Transformer on IMDB with AdamW under {describe(case)}"
    )
    mine, ref = out["student"], out["reference"]
    expect("error" not in mine, f"{what}: {mine.get('error')}")
    expect("error" not in ref, f"the reference run failed: {ref.get('error')}")
    expect(
        abs(mine["val_accuracy"] - ref["val_accuracy"]) <= 0.02
        and abs(mine["train_loss"] - ref["train_loss"]) <= 0.02,
        f"{what} ended with training loss {mine['train_loss']:.4f} and validation accuracy "
        f"{mine['val_accuracy']:.4f}; the reference schedule, trained the same way on the same "
        f"device ({out['device']}), reached {ref['train_loss']:.4f} and "
        f"{ref['val_accuracy']:.4f} (allowed: 0.02 in each)",
    )
