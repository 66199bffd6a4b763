"""Public tests of the ``optimizer_shootout`` assignment (students can run these).

Each runs one of your optimizer classes for a few steps on a small fixed float64 problem
(``course_lib.grading.drivers.optimizer_shootout``) and compares every state variable and
parameter, step by step, with ``torch.optim``'s class of the same name.
"""

from course_lib.grading.drivers.optimizer_shootout import expect_same_trajectory
from course_lib.grading.testing import StudentCode, TestSuite

# Ready-made optimizers may not be used in the answer cells: at grading they are replaced by
# stubs that raise before your cells run, and the hidden tests check the source and the run.
FORBID = [
    *(
        f"torch.optim.{name}"
        for name in (
            "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam",
            "RAdam", "ASGD", "Rprop",
        )
    ),
    "course_lib.optim.*",
]  # fmt: skip

suite = TestSuite("optimizer_shootout", forbid=FORBID)

ALL = [{"params": [0, 1, 2, 3, 4]}]  # one group with every parameter


@suite.test(
    "sgd_momentum_first_steps",
    points=1,
    description="SGD(lr=0.1, momentum=0.9): three steps match torch.optim.SGD",
)
def _(student: StudentCode) -> None:
    expect_same_trajectory(
        student, "SGD", ALL, kwargs={"lr": 0.1, "momentum": 0.9}, steps=3, roundtrip_at=None
    )


@suite.test(
    "rmsprop_first_steps",
    points=1,
    description="RMSprop(lr=0.01): three steps match torch.optim.RMSprop",
)
def _(student: StudentCode) -> None:
    expect_same_trajectory(student, "RMSprop", ALL, kwargs={"lr": 0.01}, steps=3, roundtrip_at=None)


@suite.test(
    "adam_first_steps",
    points=1,
    description="Adam(lr=0.01): three steps match torch.optim.Adam",
)
def _(student: StudentCode) -> None:
    expect_same_trajectory(student, "Adam", ALL, kwargs={"lr": 0.01}, steps=3, roundtrip_at=None)


@suite.test(
    "adamw_first_steps",
    points=1,
    description="AdamW(lr=0.01, weight_decay=0.1): three steps match torch.optim.AdamW",
)
def _(student: StudentCode) -> None:
    expect_same_trajectory(
        student,
        "AdamW",
        ALL,
        kwargs={"lr": 0.01, "weight_decay": 0.1},
        steps=3,
        roundtrip_at=None,
    )
