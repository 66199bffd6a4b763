"""Public tests of the ``lr_schedules`` assignment (students can run these).

Each builds one of your schedules in the driver ``lr_schedules:evaluate`` (functions cannot
leave your side, so the driver calls your factory and returns the learning rates) and compares
them with the closed form.
"""

from course_lib.grading.testing import StudentCode, TestFailure, TestSuite, expect_close

# Ready-made schedules may not be used in the answer cells: at grading these names are made
# unusable before your cells run, and a hidden test checks your source for them.
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

suite = TestSuite("lr_schedules", forbid=FORBID)


def lrs(student: StudentCode, factory: str, *args: object, steps: list[int], **kwargs: object):
    """The student's ``factory(*args, **kwargs)`` evaluated at ``steps`` (a list of floats)."""
    spec = {"factory": factory, "args": list(args), "kwargs": kwargs}
    return values_of(student, spec, steps)


def values_of(student: StudentCode, spec: dict, steps: list[int]) -> list[float]:
    out = student.run_driver("lr_schedules:evaluate", spec=spec, steps=steps)
    if out["error"] is not None:
        raise TestFailure(out["message"])
    if out["not_float"]:
        raise TestFailure(
            f"{describe(spec)} returned {out['not_float'][0]} values; a schedule returns a "
            "Python float"
        )
    return out["values"]


def describe(spec: dict) -> str:
    parts = [repr(a) for a in spec.get("args", [])]
    parts += [f"{k}={v!r}" for k, v in spec.get("kwargs", {}).items()]
    if "inner" in spec:
        parts.insert(0, describe(spec["inner"]))
    return f"{spec['factory']}({', '.join(parts)})"


@suite.test(
    "step_first_values",
    points=1,
    description="step_schedule(0.1, 3, 0.5) over steps 0-7",
)
def _(student: StudentCode) -> None:
    got = lrs(student, "step_schedule", 0.1, 3, 0.5, steps=list(range(8)))
    want = [0.1 * 0.5 ** (t // 3) for t in range(8)]
    expect_close(got, want, what="step_schedule(0.1, 3, 0.5) at steps 0-7", rtol=1e-12)


@suite.test(
    "cosine_endpoints",
    points=1,
    description="cosine_schedule(0.1, 10): 0.1 at step 0, 0.05 at step 5, 0 at 10 and after",
)
def _(student: StudentCode) -> None:
    got = lrs(student, "cosine_schedule", 0.1, 10, steps=[0, 5, 10, 11])
    expect_close(got, [0.1, 0.05, 0.0, 0.0], what="cosine_schedule(0.1, 10) at steps 0, 5, 10, 11",
                 rtol=1e-12, atol=1e-15)  # fmt: skip


@suite.test(
    "warmup_ramp",
    points=1,
    description="with_warmup(a constant 0.1, 4) ramps 0, 0.025, 0.05, 0.075, then 0.1",
)
def _(student: StudentCode) -> None:
    spec = {
        "factory": "with_warmup",
        "inner": {"factory": "constant_schedule", "args": [0.1]},
        "args": [4],
    }
    got = values_of(student, spec, list(range(7)))
    want = [0.0, 0.025, 0.05, 0.075, 0.1, 0.1, 0.1]
    expect_close(got, want, what="with_warmup(constant 0.1, 4) at steps 0-6", rtol=1e-12)


@suite.test(
    "one_cycle_endpoints",
    points=1,
    description="one_cycle_schedule(1.0, 100): 0.04 at step 0, 1.0 at step 29, 4e-6 at step 99",
)
def _(student: StudentCode) -> None:
    got = lrs(student, "one_cycle_schedule", 1.0, 100, steps=[0, 29, 99])
    want = [1.0 / 25, 1.0, 1.0 / 25 / 1e4]
    expect_close(got, want, what="one_cycle_schedule(1.0, 100) at steps 0, 29, 99", rtol=1e-9)
