"""Graded tests: the contract between an assignment's tests and the autograder.

An assignment's tests live in two files beside its instructor notebook,
``solutions/<assignment>/public_tests.py`` (released to students) and
``solutions/<assignment>/hidden_tests.py`` (never released). Each defines a module-level
``suite = TestSuite("<assignment>")`` and registers tests on it::

    @suite.test("mse_values", points=2, description="mse_loss matches the definition")
    def _(student: StudentCode) -> None:
        pred = np.array([1.0, 2.0]); target = np.array([0.0, 0.0])
        expect_close(student.call("mse_loss", pred, target), 2.5, what="mse_loss([1, 2], [0, 0])")

The test body runs in the *trusted* process. It never executes student code itself: it asks a
:class:`StudentCode` to call a name the student's answer cells defined, or to run a *driver* (a
function in :mod:`course_lib.grading.drivers` that runs inside the sandboxed worker next to the
student's code, e.g. "train this model with the student's loss for 3 epochs"). Only plain data
crosses: ``None``, ``bool``, ``int``, ``float``, ``str``, lists, tuples, ``dict[str, ...]`` and
arrays. Arrays go to the student's side as ``torch.Tensor`` (dtype kept) and come back as
``numpy.ndarray``; nothing is pickled. The test compares the results against its own reference
and raises :class:`TestFailure` with a message in plain words; that message is what the student
reads in the feedback, so it names the input and the mismatch, never the test's code.

Each test is one nbgrader "autograder tests" cell: ``name`` is the cell's ``grade_id`` and
``points`` its points, so the gradebook, formgrader and exports keep working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

Plain = Any  # None | bool | int | float | str | np.ndarray | list | tuple | dict[str, Plain]


class TestFailure(AssertionError):  # noqa: N818 (a failure, not an error)
    """A graded test failed; ``str(error)`` is shown to the student as it is."""

    __test__ = False  # not a pytest test class


class StudentUnavailableError(RuntimeError):
    """The student's code cannot answer: it crashed, timed out or broke a limit."""


@runtime_checkable
class StudentCode(Protocol):
    """The trusted side's view of one submission's code (sandboxed or, for a student, local)."""

    @property
    def source(self) -> str:
        """The source of the submission's answer cells, in notebook order (for static checks)."""
        ...

    def defines(self, name: str) -> bool:
        """Whether the answer cells define a top-level ``name``."""
        ...

    def call(self, name: str, *args: Plain, timeout: float = 30.0, **kwargs: Plain) -> Plain:
        """Call the student's top-level ``name`` with plain-data arguments.

        Raises:
            TestFailure: ``name`` is missing or raised an exception (message names both).
            StudentUnavailableError: the worker died or ran out of time.
        """
        ...

    def run_driver(self, driver: str, *, timeout: float = 120.0, **kwargs: Plain) -> Plain:
        """Run ``course_lib.grading.drivers.<module>:<function>`` beside the student's code.

        ``driver`` is ``"<module>:<function>"``; the function is called as
        ``fn(namespace, **kwargs)`` with the student's namespace and returns plain data.
        """
        ...


@dataclass(frozen=True)
class GradedTest:
    """One graded test.

    Attributes:
        name: the nbgrader ``grade_id`` of the test cell (letters, digits, ``_`` and ``-``).
        points: the points it is worth; all or nothing.
        description: what it checks, in plain words (shown in feedback and by ``course check``).
        hidden: whether it runs only at grading.
        run: the body; returns on success, raises :class:`TestFailure` otherwise.
        timeout: seconds the whole test may take, student calls included.
    """

    name: str
    points: float
    description: str
    hidden: bool
    run: Callable[[StudentCode], None]
    timeout: float = 120.0


class TestSuite:
    """The graded tests of one assignment, public or hidden, in registration order.

    ``forbid`` (added for the autograder) names what the student's code may not use, e.g.
    ``["torch.optim.SGD", "course_lib.optim.*"]``: the worker makes those names unusable before
    the answer cells run, and :func:`course_lib.grading.forbid.find_forbidden` finds them in the
    answer source. A module-level ``FORBID`` list in the tests file works the same way.
    """

    __test__ = False

    def __init__(
        self, assignment: str, *, hidden: bool = False, forbid: Iterable[str] = ()
    ) -> None:
        self.assignment = assignment
        self.hidden = hidden
        self.forbid: tuple[str, ...] = tuple(forbid)
        self._tests: dict[str, GradedTest] = {}

    def test(
        self, name: str, *, points: float, description: str, timeout: float = 120.0
    ) -> Callable[[Callable[[StudentCode], None]], Callable[[StudentCode], None]]:
        """Register the decorated function as a graded test of this suite."""
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"test name {name!r} must be letters, digits, '_' or '-'")
        if points <= 0:
            raise ValueError(f"test {name!r}: points must be positive, got {points}")

        def register(fn: Callable[[StudentCode], None]) -> Callable[[StudentCode], None]:
            if name in self._tests:
                raise ValueError(f"test {name!r} is registered twice in {self.assignment}")
            self._tests[name] = GradedTest(
                name, float(points), description, self.hidden, fn, timeout
            )
            return fn

        return register

    def __iter__(self) -> Iterator[GradedTest]:
        return iter(self._tests.values())

    def __len__(self) -> int:
        return len(self._tests)

    def __getitem__(self, name: str) -> GradedTest:
        return self._tests[name]

    @property
    def total_points(self) -> float:
        return sum(t.points for t in self._tests.values())


def _describe(value: Plain) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, precision=6, separator=", ")
        return f"an array of shape {value.shape}"
    return repr(value)


def expect_close(
    actual: Plain, expected: Plain, *, what: str, rtol: float = 1e-6, atol: float = 1e-8
) -> None:
    """Raise :class:`TestFailure` unless ``actual`` matches ``expected`` in shape and value.

    Args:
        actual: what the student's code returned.
        expected: the reference value.
        what: the call in plain words, e.g. ``"huber_loss(pred, target, delta=1.0)"``.
        rtol: relative tolerance.
        atol: absolute tolerance.
    """
    try:
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TestFailure(
            f"{what} returned {_describe(actual)}, which is not a number or an array"
        ) from err
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise TestFailure(f"{what} returned shape {a.shape}; expected shape {e.shape}")
    if not np.all(np.isfinite(a)) and np.all(np.isfinite(e)):
        raise TestFailure(f"{what} returned non-finite values ({_describe(a)})")
    if not np.allclose(a, e, rtol=rtol, atol=atol):
        worst = np.unravel_index(np.argmax(np.abs(a - e) - rtol * np.abs(e)), e.shape)
        where = f" at index {tuple(int(i) for i in worst)}" if e.ndim else ""
        raise TestFailure(
            f"{what} returned {_describe(a)}; expected {_describe(e)} "
            f"(first large difference{where}: {a[worst]:.6g} vs {e[worst]:.6g})"
        )


def expect(condition: bool, message: str) -> None:
    """Raise :class:`TestFailure` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise TestFailure(message)
