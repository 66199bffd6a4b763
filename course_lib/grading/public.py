"""``run_public_test(name)``: run one public test inside the student's own kernel.

A released notebook's public test cells call it. It loads ``public_tests.py`` from the
notebook's folder and runs the test against the kernel's globals (in-process, so it is a
self-check only: the grade comes from the sandboxed run at grading).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from course_lib.grading.runner import load_suite, run_test
from course_lib.grading.student import LocalStudentCode
from course_lib.grading.testing import TestSuite

_CACHE: dict[Path, tuple[float, TestSuite]] = {}


def _suite(path: Path) -> TestSuite:
    path = path.resolve()
    mtime = path.stat().st_mtime
    cached = _CACHE.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, load_suite(path))
        _CACHE[path] = cached
    return cached[1]


def _kernel_source() -> str:
    """The code run so far in this kernel (IPython's input history), for static checks."""
    history = sys.modules["__main__"].__dict__.get("In")
    return "\n\n".join(str(x) for x in history) if isinstance(history, list) else ""


def run_public_test(
    name: str, *, tests: str | Path | None = None, namespace: dict[str, Any] | None = None
) -> bool:
    """Run the public test ``name`` on this kernel's definitions and print the outcome.

    Args:
        name: the test's name (the test cell's ``grade_id``).
        tests: the public tests file; default ``public_tests.py`` in the working directory.
        namespace: where the student's definitions live; default the kernel's globals.

    Returns:
        Whether it passed.
    """
    path = Path(tests) if tests is not None else Path.cwd() / "public_tests.py"
    if not path.exists():
        print(f"Cannot run test {name!r}: {path} is missing (keep it beside the notebook).")
        return False
    suite = _suite(path)
    try:
        test = suite[name]
    except KeyError:
        print(f"There is no public test called {name!r} in {path.name}.")
        return False
    ns = namespace if namespace is not None else sys.modules["__main__"].__dict__
    result = run_test(test, LocalStudentCode(ns, _kernel_source()))
    points = f"{test.points:g} point{'s' if test.points != 1 else ''}"
    if result.passed:
        print(f"PASSED  {name} ({points}): {test.description}")
    else:
        print(f"FAILED  {name} ({points}): {test.description}\n        {result.message}")
        if result.instructor_message:
            print(result.instructor_message)
    return result.passed
