"""Submissions that try to raise their own grade, or to stall the batch: none succeeds."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from course_lib.grading.autograde import autograde
from course_lib.grading.limits import GiB, Limits
from course_lib.grading.sandbox import SandboxConfig, bwrap_status

from .helpers import (
    FIXTURES,
    answer_source,
    edited,
    expected_points,
    solution_answers,
    source_notebook,
    write,
)

pytestmark = [
    pytest.mark.skipif(not bwrap_status()[0], reason="needs bubblewrap"),
    pytest.mark.slow,
]

WRONG_MSE = "def mse(pred, target):\n    return ((pred - target) ** 2).sum()\n"
GOOD_MSE = "def mse(pred, target):\n    return ((pred - target) ** 2).mean()\n"


def attacks(course: Path, port: int, outside: Path) -> dict[str, tuple[dict, tuple, float, bool]]:
    """name -> (cell edits, cells dropped, honest points, exact?)."""
    gradebook = course / "gradebook.db"
    secret = FIXTURES / "tiny" / "hidden_tests.py"
    setup = answer_source(source_notebook(), "setup_imports")
    scale_ok = solution_answers()["answer_scale"]
    return {
        "patch_exit": (
            {
                "answer_mse": "import builtins, os, sys\nsys.exit = lambda *a: None\n"
                "os._exit = lambda *a: None\nbuiltins.isinstance = lambda *a: True\n" + WRONG_MSE
            },
            (),
            expected_points({"loss"}),
            False,  # patching isinstance breaks its own worker: 0 points
        ),
        "os_exit_at_load": ({"answer_mse": "import os\nos._exit(0)\n"}, (), 0.0, True),
        "sys_exit_in_call": (
            {"answer_mse": "def mse(p, t):\n    raise SystemExit(0)\n"},
            (),
            expected_points({"loss"}),
            True,
        ),
        "infinite_loop": ({"answer_scale": "while True:\n    pass\n"}, (), 0.0, True),
        "memory_bomb": (
            {"answer_scale": "blob = []\nwhile True:\n    blob.append(bytearray(10**8))\n"},
            (),
            expected_points({"scale"}),
            False,  # its blob stays allocated: later tests may run out of memory too
        ),
        "fork_bomb": (
            {"answer_scale": "import os\nwhile True:\n    os.fork()\n"},
            (),
            expected_points({"scale"}),
            False,
        ),
        "fake_passed": (
            {
                "answer_mse": "for _ in range(2000):\n    print('PASSED mse_basic (1 points)')\n"
                + WRONG_MSE
            },
            (),
            expected_points({"loss"}),
            True,
        ),
        "read_secrets": (
            {
                "answer_mse": f"def mse(p, t):\n    open({str(secret)!r}).read()\n"
                f"    open({str(gradebook)!r}, 'rb').read()\n"
                "    return ((p - t) ** 2).mean()\n"
            },
            (),
            expected_points({"loss"}),
            True,
        ),
        "network": (
            {
                "answer_mse": "import socket\ndef mse(p, t):\n"
                f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
                "    return ((p - t) ** 2).mean()\n"
            },
            (),
            expected_points({"loss"}),
            True,
        ),
        "write_outside": (
            {
                "answer_mse": f"def mse(p, t):\n    open({str(outside)!r}, 'w').write('x')\n"
                "    return ((p - t) ** 2).mean()\n"
            },
            (),
            expected_points({"loss"}),
            True,
        ),
        "patch_allclose": (
            {
                "answer_mse": "import numpy, torch\nnumpy.allclose = lambda *a, **k: True\n"
                "torch.allclose = lambda *a, **k: True\n"
                "numpy.testing.assert_allclose = lambda *a, **k: None\n" + WRONG_MSE,
                "mse_hidden": "mse = lambda p, t: 0.0\n",
            },
            (),
            expected_points({"loss"}),
            True,
        ),
        "duplicate_cells": ({}, (), expected_points({"loss"}), True),  # built below
        "edited_setup": (
            {"setup_imports": setup + "\n\n" + scale_ok},
            ("answer_scale",),
            expected_points({"scale"}),
            True,
        ),
    }


def test_attacks_do_not_raise_the_grade(tmp_path: Path) -> None:
    import nbformat

    course = tmp_path / "course"
    outside = tmp_path / "pwned.txt"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    base = edited(source_notebook(), solution_answers())
    table = attacks(course, port, outside)
    for name, (edits, drop, _, _) in table.items():
        nb = edited(base, edits, drop=drop)
        if name == "duplicate_cells":
            cell = next(
                c
                for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "answer_mse"
            )
            cell.source = GOOD_MSE
            copy = nbformat.from_dict(json.loads(json.dumps(cell)))
            copy.source = WRONG_MSE
            copy.pop("id", None)
            nb.cells.insert(nb.cells.index(cell) + 1, copy)
        write(nb, course / "submitted" / name / "tiny" / "tiny.ipynb")
    config = SandboxConfig(sandbox="bwrap", limits=Limits(memory_bytes=3 * GiB, load_timeout=8.0))
    summary = autograde("tiny", course, FIXTURES, jobs=2, config=config, progress=False)
    listener.close()
    assert not outside.exists()
    for name, (_, _, honest, exact) in table.items():
        got = summary.results[name]["score"]
        assert got <= honest, (name, got, summary.results[name])
        if exact:
            assert got == honest, (name, got, summary.results[name]["tests"])
    loop = summary.results["infinite_loop"]["tests"][0]["message"]
    assert "took longer than 8 s" in loop
    assert summary.results["duplicate_cells"]["notes"][0].startswith(
        "answer cell 'answer_mse' appears 2"
    )
