"""The sandboxed worker: runs one submission's cells and answers the trusted side's requests.

Started as ``python -I -m course_lib.grading.worker --in-fd R --out-fd W [--uid N]`` by
:mod:`course_lib.grading.sandbox`. The protocol runs over the two pipe descriptors only; whatever
the student prints goes to stdout/stderr, which the parent caps and never parses. Requests:

- ``load``: ``{"assignment", "cells": [{"label", "source"}], "forbid": [...]}``: block forbidden
  names, then run the cells in order in one namespace (errors become notes, not crashes);
- ``defines``: ``{"name"}``;
- ``call``: ``{"name", "args", "kwargs"}``: call a top-level name of the namespace;
- ``driver``: ``{"driver": "module:function", "kwargs"}``: ``fn(namespace, **kwargs)``.

Arrays arrive as torch tensors (dtype kept); tensors and arrays go back as numpy arrays.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import importlib
import os
import sys
import traceback
import types
from typing import Any

MESSAGE_CHARS = 2000


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _to_student(value: Any) -> Any:
    import numpy as np
    import torch

    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, list):
        return [_to_student(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_to_student(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_student(v) for k, v in value.items()}
    return value


def _from_student(value: Any, depth: int = 0) -> Any:
    import numpy as np
    import torch

    if depth > 50:
        raise TypeError("the result is nested too deeply")
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.resolve_conj().resolve_neg().numpy().copy()
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_from_student(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_from_student(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return {str(k): _from_student(v, depth + 1) for k, v in value.items()}
    raise TypeError(f"a {type(value).__name__} object, which is not plain data")


def _describe_error(err: BaseException) -> dict[str, Any]:
    """Type, message and the innermost line of student code, in plain words."""
    where = ""
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        if frame.filename.startswith("<cell "):
            where = f"{frame.filename[1:-1]}, line {frame.lineno}"
            break
    message = str(err)
    if len(message) > MESSAGE_CHARS:
        message = message[:MESSAGE_CHARS] + " ..."
    return {"type": type(err).__name__, "message": message, "where": where}


class _IPythonStub:
    """What ``get_ipython()`` returns in the worker: magics and shell commands do nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _noop_public_test(*args: Any, **kwargs: Any) -> None:
    return None


class Worker:
    """The request loop over one namespace."""

    def __init__(self, in_fd: int, out_fd: int) -> None:
        self.in_fd, self.out_fd = in_fd, out_fd
        module = types.ModuleType("__main__")
        module.__dict__.update(
            {
                "__builtins__": builtins,
                "get_ipython": _IPythonStub,
                "run_public_test": _noop_public_test,
            }
        )
        self.module = module
        self.namespace: dict[str, Any] = module.__dict__

    def load(self, msg: dict[str, Any]) -> dict[str, Any]:
        from course_lib.grading import forbid

        notes: list[str] = []
        assignment = str(msg.get("assignment", ""))
        if assignment.isidentifier():
            # drivers keep their own references to anything they import
            with contextlib.suppress(ImportError):
                importlib.import_module(f"course_lib.grading.drivers.{assignment}")
        forbid.block([str(n) for n in msg.get("forbid", [])])
        sys.modules["__main__"] = self.module
        for cell in msg.get("cells", []):
            label, source = str(cell.get("label", "?")), str(cell.get("source", ""))
            try:
                code = compile(source, f"<cell {label}>", "exec")
                exec(code, self.namespace)
            except BaseException as err:  # SystemExit and KeyboardInterrupt included
                info = _describe_error(err)
                notes.append(f"cell {label} raised {info['type']}: {info['message']}")
        defined = sorted(k for k in self.namespace if not k.startswith("__"))
        return {"ok": True, "value": {"~": "dict", "items": {}}, "notes": notes, "defined": defined}

    def call(self, msg: dict[str, Any]) -> dict[str, Any]:
        from course_lib.grading import protocol

        name = str(msg.get("name", ""))
        if name not in self.namespace:
            return {"ok": False, "error": {"type": "Missing", "message": name, "where": ""}}
        fn = self.namespace[name]
        args = _to_student(protocol.decode(msg.get("args", [])))
        kwargs = _to_student(protocol.decode(msg.get("kwargs", {"~": "dict", "items": {}})))
        return self._run(lambda: fn(*args, **kwargs))

    def driver(self, msg: dict[str, Any]) -> dict[str, Any]:
        from course_lib.grading import protocol

        module_name, _, fn_name = str(msg.get("driver", "")).partition(":")
        if not (module_name.isidentifier() and fn_name.isidentifier()):
            return {
                "ok": False,
                "error": {"type": "BadDriver", "message": module_name, "where": ""},
            }
        module = importlib.import_module(f"course_lib.grading.drivers.{module_name}")
        fn = getattr(module, fn_name)
        kwargs = _to_student(protocol.decode(msg.get("kwargs", {"~": "dict", "items": {}})))
        return self._run(lambda: fn(self.namespace, **kwargs))

    def _run(self, thunk: Any) -> dict[str, Any]:
        from course_lib.grading import protocol

        try:
            result = thunk()
        except BaseException as err:
            return {"ok": False, "error": _describe_error(err)}
        try:
            value = protocol.encode(_from_student(result))
        except BaseException as err:
            return {
                "ok": False,
                "error": {"type": "NotPlainData", "message": str(err), "where": ""},
            }
        return {"ok": True, "value": value}

    def serve(self) -> None:
        from course_lib.grading import protocol

        while True:
            try:
                msg = protocol.recv(self.in_fd)
            except EOFError:
                return
            op = msg.get("op")
            if op == "load":
                reply = self.load(msg)
            elif op == "defines":
                reply = {"ok": True, "value": str(msg.get("name")) in self.namespace}
            elif op == "call":
                reply = self.call(msg)
            elif op == "driver":
                reply = self.driver(msg)
            elif op == "ping":
                reply = {"ok": True, "value": "pong"}
            else:
                reply = {"ok": False, "error": {"type": "BadRequest", "message": str(op)}}
            protocol.send(self.out_fd, reply)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m course_lib.grading.worker``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-fd", type=int, required=True)
    parser.add_argument("--out-fd", type=int, required=True)
    parser.add_argument("--uid", type=int, default=None)
    ns = parser.parse_args(argv)
    if ns.uid is not None and os.getuid() == 0:
        _drop_privileges(ns.uid)
    import numpy  # noqa: F401  (imported before student code can shadow anything)
    import torch

    torch.set_num_threads(int(os.environ.get("COURSE_WORKER_THREADS", "1")))
    Worker(ns.in_fd, ns.out_fd).serve()


if __name__ == "__main__":
    main()
