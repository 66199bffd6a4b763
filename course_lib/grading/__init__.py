"""The autograder: trusted graded tests, a sandboxed worker for student code, nbgrader glue.

Modules, one concept each: :mod:`.testing` (the contract tests are written against),
:mod:`.protocol` (plain data over pipes), :mod:`.limits` and :mod:`.sandbox` (the worker
process), :mod:`.worker` (runs inside it), :mod:`.forbid`, :mod:`.cells` (which cells run),
:mod:`.student` (StudentCode implementations), :mod:`.runner` (tests -> results),
:mod:`.public` (``run_public_test`` in a student's kernel), and the workflow steps
:mod:`.release`, :mod:`.collect`, :mod:`.autograde`, :mod:`.gradebook`, :mod:`.feedback`,
:mod:`.export`, :mod:`.check`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_public_test"]


def run_public_test(name: str, **kwargs: Any) -> bool:
    """Run one public test in this kernel; see :func:`course_lib.grading.public.run_public_test`."""
    from course_lib.grading.public import run_public_test as run

    return run(name, **kwargs)
