"""The trusted side's two implementations of :class:`~course_lib.grading.testing.StudentCode`.

:class:`SandboxedStudentCode` talks to a worker process (restarted after it dies, so a crash
costs only the test that caused it); :class:`LocalStudentCode` calls into a namespace in this
process (for ``run_public_test`` in a student's own kernel, where nothing is at stake).
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from course_lib.grading import protocol
from course_lib.grading.cells import Plan
from course_lib.grading.sandbox import SandboxConfig, WorkerProcess
from course_lib.grading.testing import Plain, StudentUnavailableError, TestFailure


def _what(name: str) -> str:
    return f"{name}(...)"


def explain(what: str, error: dict[str, Any]) -> str:
    """Plain words for an error the student's code raised while doing ``what``."""
    kind, message = str(error.get("type", "Error")), str(error.get("message", ""))
    if kind == "Missing":
        return f"your notebook does not define `{message}` (check the name and run its cell)"
    if kind == "NotPlainData":
        return f"{what} returned {message}; return a tensor, an array, a number or a list"
    if kind == "MemoryError":
        return f"{what} ran out of memory"
    where = f" (in {error['where']})" if error.get("where") else ""
    return f"{what} raised {kind}: {message}{where}"


class SandboxedStudentCode:
    """One submission's code, run in a sandboxed worker; see the contract for the methods."""

    def __init__(
        self, plan: Plan, *, assignment: str, forbid: tuple[str, ...] = (), config: SandboxConfig
    ) -> None:
        self.plan = plan
        self.assignment = assignment
        self.forbid = tuple(forbid)
        self.config = config
        self.worker: WorkerProcess | None = None
        self.load_notes: list[str] | None = None
        self.deadline: float | None = None
        self.starts = 0
        self.output = ""
        self.load_failure: str | None = None  # the worker died twice while loading

    @property
    def source(self) -> str:
        return self.plan.answer_source

    def _unavailable(self, doing: str) -> StudentUnavailableError:
        assert self.worker is not None
        reason = self.worker.death_reason()
        self._stop()
        return StudentUnavailableError(f"your code {reason} while {doing}")

    def _stop(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.output = self.worker.output.text()
            self.worker = None

    def _ensure(self) -> WorkerProcess:
        if self.worker is not None and self.worker.alive():
            return self.worker
        if self.load_failure is not None:
            raise StudentUnavailableError(self.load_failure)
        self._stop()
        self.worker = WorkerProcess(self.config)
        self.starts += 1
        msg = {
            "op": "load",
            "assignment": self.assignment,
            "cells": self.plan.cells,
            "forbid": list(self.forbid),
        }
        # Starting Python and torch is not the student's time: an allowance on top.
        timeout = self.config.limits.load_timeout + self.config.start_allowance
        try:
            reply = self.worker.request(msg, timeout)
        except protocol.ChannelTimeout:
            self._stop()
            self.load_failure = (
                f"your answer cells took longer than {self.config.limits.load_timeout:.0f} s "
                "to run (move long experiments out of the answer cells)"
            )
            raise StudentUnavailableError(self.load_failure) from None
        except (EOFError, protocol.ProtocolError):
            error = self._unavailable("running your answer cells")
            if self.starts >= 2:
                self.load_failure = str(error)
            raise error from None
        if self.load_notes is None:
            self.load_notes = [str(n) for n in reply.get("notes", [])]
        return self.worker

    def _timeout(self, timeout: float) -> float:
        if self.deadline is None:
            return timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StudentUnavailableError("your code ran out of time (the test's time limit)")
        return min(timeout, left)

    def _request(self, msg: dict[str, Any], timeout: float, doing: str) -> dict[str, Any]:
        worker = self._ensure()
        try:
            reply = worker.request(msg, self._timeout(timeout))
        except (EOFError, protocol.ChannelTimeout, protocol.ProtocolError):
            raise self._unavailable(doing) from None
        return reply

    def _value(self, reply: dict[str, Any], what: str) -> Plain:
        if not reply.get("ok"):
            raise TestFailure(explain(what, reply.get("error") or {}))
        try:
            return protocol.decode(reply.get("value"))
        except protocol.ProtocolError:
            self._stop()
            raise StudentUnavailableError(
                f"your code sent back malformed data while running {what}"
            ) from None

    def defines(self, name: str) -> bool:
        reply = self._request({"op": "defines", "name": name}, 30.0, f"looking up {name}")
        return bool(reply.get("value"))

    def call(self, name: str, *args: Plain, timeout: float = 30.0, **kwargs: Plain) -> Plain:
        msg = {
            "op": "call",
            "name": name,
            "args": protocol.encode(list(args)),
            "kwargs": protocol.encode(dict(kwargs)),
        }
        reply = self._request(msg, timeout, f"running {_what(name)}")
        return self._value(reply, _what(name))

    def run_driver(self, driver: str, *, timeout: float = 120.0, **kwargs: Plain) -> Plain:
        msg = {"op": "driver", "driver": driver, "kwargs": protocol.encode(dict(kwargs))}
        what = f"the grader's {driver.partition(':')[2] or driver} run with your code"
        reply = self._request(msg, timeout, f"running {what}")
        return self._value(reply, what)

    def close(self) -> None:
        """Stop the worker."""
        self._stop()


def _to_torch(value: Any) -> Any:
    from course_lib.grading.worker import _to_student

    return _to_student(value)


class LocalStudentCode:
    """Student code in this very process (a student's kernel); timeouts are not enforced."""

    def __init__(self, namespace: dict[str, Any], source: str = "") -> None:
        self.namespace = namespace
        self._source = source

    @property
    def source(self) -> str:
        return self._source

    def defines(self, name: str) -> bool:
        return name in self.namespace

    def _run(self, what: str, thunk: Any) -> Plain:
        from course_lib.grading.worker import _describe_error, _from_student

        try:
            result = thunk()
        except Exception as err:
            raise TestFailure(explain(what, _describe_error(err))) from None
        try:
            return protocol.decode(protocol.encode(_from_student(result)))
        except TypeError as err:
            raise TestFailure(
                explain(what, {"type": "NotPlainData", "message": str(err)})
            ) from None

    def call(self, name: str, *args: Plain, timeout: float = 30.0, **kwargs: Plain) -> Plain:
        if name not in self.namespace:
            raise TestFailure(explain(name, {"type": "Missing", "message": name}))
        fn = self.namespace[name]
        a, k = _to_torch(list(args)), _to_torch(dict(kwargs))
        return self._run(_what(name), lambda: fn(*a, **k))

    def run_driver(self, driver: str, *, timeout: float = 120.0, **kwargs: Plain) -> Plain:
        module_name, _, fn_name = driver.partition(":")
        fn = getattr(importlib.import_module(f"course_lib.grading.drivers.{module_name}"), fn_name)
        k = _to_torch(dict(kwargs))
        return self._run(
            f"the grader's {fn_name} run with your code", lambda: fn(self.namespace, **k)
        )
