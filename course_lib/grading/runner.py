"""The trusted runner: load a suite from its file and run each test against a StudentCode.

Each test has its own time budget and earns all its points or none. A :class:`TestFailure`
becomes the student's message; a :class:`StudentUnavailableError` (the worker crashed or ran
out of time or memory) costs that test only; any other exception is a bug in the test, reported
loudly to the instructor, with 0 points and a plain message for the student.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from course_lib.grading.testing import (
    GradedTest,
    StudentCode,
    StudentUnavailableError,
    TestFailure,
    TestSuite,
)

GRADER_ERROR_MESSAGE = (
    "This test could not be run because of a problem in the grader, not in your code; "
    "your instructor has been told."
)


def load_suite(path: Path) -> TestSuite:
    """Import a tests file by path and return its module-level ``suite``.

    A module-level ``FORBID`` list is merged into ``suite.forbid``.
    """
    path = Path(path).resolve()
    key = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"_course_suite_{path.stem}_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load tests from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    suite = getattr(module, "suite", None)
    if not isinstance(suite, TestSuite):
        raise ImportError(f"{path} defines no module-level `suite = TestSuite(...)`")
    extra = tuple(getattr(module, "FORBID", ()) or ())
    if extra:
        suite.forbid = tuple(dict.fromkeys((*getattr(suite, "forbid", ()), *extra)))
    return suite


@dataclass
class TestResult:
    """The outcome of one graded test.

    ``status`` is ``"passed"``, ``"failed"``, ``"crashed"`` (the student's code could not
    answer) or ``"grader-error"`` (the test itself broke). ``message`` is for the student,
    ``instructor_message`` (a traceback) only for the instructor.
    """

    __test__ = False

    name: str
    description: str
    hidden: bool
    max_points: float
    points: float
    status: str
    message: str = ""
    instructor_message: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def run_test(test: GradedTest, student: StudentCode) -> TestResult:
    """Run one test; never raises (except KeyboardInterrupt and friends)."""
    start = time.monotonic()
    if hasattr(student, "deadline"):
        student.deadline = start + test.timeout  # type: ignore[attr-defined]
    status, message, instructor = "passed", "", ""
    try:
        test.run(student)
    except TestFailure as err:
        status, message = "failed", str(err) or "the test failed"
    except StudentUnavailableError as err:
        status = "crashed"
        message = f"{err} (this test checks: {test.description})"
    except AssertionError as err:  # a bare `assert` in a test: still a failure
        status, message = "failed", str(err) or f"a check failed ({test.description})"
    except Exception:
        status, message, instructor = "grader-error", GRADER_ERROR_MESSAGE, traceback.format_exc()
    finally:
        if hasattr(student, "deadline"):
            student.deadline = None  # type: ignore[attr-defined]
    return TestResult(
        name=test.name,
        description=test.description,
        hidden=test.hidden,
        max_points=test.points,
        points=test.points if status == "passed" else 0.0,
        status=status,
        message=message,
        instructor_message=instructor,
        seconds=round(time.monotonic() - start, 3),
    )


def run_tests(tests: list[GradedTest], student: StudentCode) -> list[TestResult]:
    """Run tests in order, each on its own."""
    return [run_test(test, student) for test in tests]
