"""Killed mid-batch and restarted, autograde grades every submission exactly once."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib.grading.autograde import read_log

from .helpers import FIXTURES, expected_points, source_notebook, variants, write

pytestmark = [
    pytest.mark.skipif(
        not __import__("course_lib.grading.sandbox", fromlist=["x"]).bwrap_status()[0],
        reason="needs bubblewrap",
    ),
    pytest.mark.slow,
]


def _autograde(course: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-c",
        "from course_lib.cli import main; main()",
        "autograde",
        "tiny",
        "--course-dir",
        str(course),
        "--solutions",
        str(FIXTURES),
        "--jobs",
        "2",
    ]
    return subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def test_kill_and_restart(tmp_path: Path) -> None:
    import nbformat

    from course_lib.grading.release import release_one

    released = release_one("tiny", FIXTURES, tmp_path / "released", None)
    klass = variants(nbformat.read(released / "tiny.ipynb", as_version=4))
    course = tmp_path / "course"
    for name, (nb, _) in klass.items():
        write(nb, course / "submitted" / name / "tiny" / "tiny.ipynb")
    first = _autograde(course)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = [e for e in read_log(course, "tiny") if e["event"] == "finished"]
        if done:
            break
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_first = {e["student"] for e in read_log(course, "tiny") if e["event"] == "finished"}
    assert 0 < len(done_first) < len(klass), "the kill should land mid-batch"
    second = _autograde(course)
    out = second.communicate(timeout=600)[0].decode()
    assert second.returncode == 0, out
    finished = collections.Counter(
        e["student"] for e in read_log(course, "tiny") if e["event"] == "finished"
    )
    assert finished == dict.fromkeys(klass, 1)
    for name, (_, broken) in klass.items():
        result = json.loads((course / "autograded" / name / "tiny" / "result.json").read_text())
        assert result["score"] == expected_points(broken), name
    from course_lib.grading.gradebook import open_gradebook, scores

    with open_gradebook(course) as gb:
        rows = {r["student"]: r["auto_score"] for r in scores(gb, "tiny")}
    assert rows == {n: expected_points(b) for n, (_, b) in klass.items()}
    assert source_notebook() is not None
