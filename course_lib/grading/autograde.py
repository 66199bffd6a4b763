"""Autograde a batch: each submission -> sandboxed worker -> every test -> a result file.

Resumable: a submission's result is written atomically (temp file + ``os.replace``) to
``autograded/<student>/<assignment>/result.json`` with the hash of the notebook it graded; a
restarted batch skips every submission whose result matches, so each is graded exactly once.
The gradebook is updated from result files by the parent process only. A submission that
cannot run at all gets zero and a clear message, and the batch goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib.grading import gradebook
from course_lib.grading.cells import (
    SubmissionError,
    build_plan,
    graded_cells,
    read_notebook,
)
from course_lib.grading.collect import sha256
from course_lib.grading.notebooks import write_autograded_notebook
from course_lib.grading.runner import TestResult, load_suite, run_test
from course_lib.grading.sandbox import SandboxConfig
from course_lib.grading.student import SandboxedStudentCode
from course_lib.grading.testing import GradedTest


@dataclass
class Assignment:
    """An assignment's instructor side, loaded once per batch (trusted code only)."""

    name: str
    solutions: Path
    source_nb: Any = None
    tests: list[GradedTest] = field(default_factory=list)
    forbid: tuple[str, ...] = ()
    test_cells: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, name: str, solutions: Path) -> Assignment:
        folder = Path(solutions) / name
        self = cls(name, Path(solutions))
        self.source_nb = read_notebook(folder / f"{name}.ipynb")
        public = load_suite(folder / "public_tests.py")
        hidden = load_suite(folder / "hidden_tests.py")
        self.tests = [*public, *hidden]
        self.forbid = tuple(dict.fromkeys((*public.forbid, *hidden.forbid)))
        cells = {c.grade_id: c for c in graded_cells(self.source_nb) if c.kind == "test"}
        self.test_cells = list(cells)
        names = {t.name for t in self.tests}
        for t in self.tests:
            if t.name not in cells:
                self.warnings.append(f"test {t.name!r} has no test cell in {name}.ipynb")
            elif cells[t.name].points != t.points:
                self.warnings.append(
                    f"test {t.name!r}: {t.points:g} points in the suite, "
                    f"{cells[t.name].points:g} in the notebook cell"
                )
        for gid in cells:
            if gid not in names:
                self.warnings.append(f"test cell {gid!r} has no test in the suites")
        return self


def result_path(course_dir: Path, student: str, assignment: str) -> Path:
    return Path(course_dir) / "autograded" / student / assignment / "result.json"


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _not_run(test: GradedTest, message: str) -> TestResult:
    return TestResult(
        test.name, test.description, test.hidden, test.points, 0.0, "not-run", message
    )


def grade_submission(
    asg: Assignment, student: str, notebook: Path, config: SandboxConfig
) -> dict[str, Any]:
    """Grade one submission in a sandboxed worker; returns the result record."""
    start = time.monotonic()
    result: dict[str, Any] = {
        "student": student,
        "assignment": asg.name,
        "notebook": asg.name,
        "submission_sha256": sha256(notebook),
        "test_cells": asg.test_cells,
        "notes": [],
        "instructor_notes": list(asg.warnings),
        "sandbox": config.resolved_mode(),
        "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        submission = read_notebook(notebook)
    except SubmissionError as err:
        message = f"Your notebook could not be run at all: {err}. No test could run."
        result["status"] = "unrunnable"
        result["notes"].append(message)
        results = [_not_run(t, message) for t in asg.tests]
    else:
        plan = build_plan(asg.source_nb, submission)
        result["notes"] += plan.notes
        student_code = SandboxedStudentCode(
            plan, assignment=asg.name, forbid=asg.forbid, config=config
        )
        try:
            results = [run_test(t, student_code) for t in asg.tests]
        finally:
            student_code.close()
        result["notes"] += [
            f"while loading your answers: {n}" for n in student_code.load_notes or []
        ]
        result["worker_starts"] = student_code.starts
        result["worker_output"] = student_code.output[-4000:]
        result["status"] = "graded"
    result["tests"] = [r.to_dict() for r in results]
    result["score"] = sum(r.points for r in results)
    result["max_score"] = sum(r.max_points for r in results)
    result["seconds"] = round(time.monotonic() - start, 2)
    return result


def submissions(course_dir: Path, assignment: str) -> dict[str, Path]:
    """student -> notebook path of every collected submission of ``assignment``."""
    root = Path(course_dir) / "submitted"
    out = {}
    if root.exists():
        for folder in sorted(root.iterdir()):
            nb = folder / assignment / f"{assignment}.ipynb"
            if nb.exists():
                out[folder.name] = nb
    return out


def _log(course_dir: Path, assignment: str, event: dict[str, Any]) -> None:
    path = Path(course_dir) / "logs" / f"{assignment}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    event = {"time": time.time(), **event}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(event) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_log(course_dir: Path, assignment: str) -> list[dict[str, Any]]:
    """Events of every autograde run (started/finished per submission)."""
    path = Path(course_dir) / "logs" / f"{assignment}.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
    return events


def _finish(course_dir: Path, gb: Any, asg: Assignment, result: dict[str, Any]) -> None:
    gradebook.record(gb, result)
    student = result["student"]
    submitted = Path(course_dir) / "submitted" / student / asg.name / f"{asg.name}.ipynb"
    out = result_path(course_dir, student, asg.name).with_name(f"{asg.name}.ipynb")
    write_autograded_notebook(asg.source_nb, submitted, result, out)


@dataclass
class BatchSummary:
    """What a batch did."""

    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    grader_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def autograde(
    assignment: str,
    course_dir: Path,
    solutions: Path,
    *,
    jobs: int = 1,
    config: SandboxConfig | None = None,
    force: bool = False,
    students: list[str] | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Grade every collected submission of ``assignment`` not graded yet (all with ``force``)."""
    from tqdm.auto import tqdm

    course_dir = Path(course_dir)
    asg = Assignment.load(assignment, solutions)
    config = config or SandboxConfig(threads=max(1, (os.cpu_count() or 1) // max(1, jobs)))
    gradebook.ensure_assignment(course_dir, assignment, solutions)
    summary = BatchSummary(warnings=list(asg.warnings))
    run_id = uuid.uuid4().hex[:12]
    todo: dict[str, Path] = {}
    finished = {e["student"] for e in read_log(course_dir, assignment) if e["event"] == "finished"}
    with gradebook.open_gradebook(course_dir) as gb:
        for student, nb in submissions(course_dir, assignment).items():
            if students and student not in students:
                continue
            path = result_path(course_dir, student, assignment)
            if not force and path.exists():
                try:
                    old = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError):
                    old = {}
                if old.get("submission_sha256") == sha256(nb):
                    _finish(course_dir, gb, asg, old)  # idempotent: heals a kill after replace
                    if student not in finished:
                        _log(
                            course_dir,
                            assignment,
                            {
                                "event": "finished",
                                "student": student,
                                "run": old.get("run"),
                                "recovered": True,
                            },
                        )
                    summary.skipped.append(student)
                    summary.results[student] = old
                    continue
            todo[student] = nb
        bar = tqdm(
            total=len(todo), desc=f"autograde {assignment}", unit="sub", disable=not progress
        )
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {}
            for student, nb in todo.items():
                _log(
                    course_dir, assignment, {"event": "started", "student": student, "run": run_id}
                )
                futures[pool.submit(grade_submission, asg, student, nb, config)] = student
            for future in as_completed(futures):
                student = futures[future]
                result = future.result()
                result["run"] = run_id
                atomic_write_json(result_path(course_dir, student, assignment), result)
                _log(
                    course_dir, assignment, {"event": "finished", "student": student, "run": run_id}
                )
                _finish(course_dir, gb, asg, result)
                summary.graded.append(student)
                summary.results[student] = result
                bar.update(1)
        bar.close()
    for student, result in summary.results.items():
        for t in result["tests"]:
            if t["status"] == "grader-error":
                summary.grader_errors.append(
                    f"{student}: test {t['name']}:\n{t['instructor_message']}"
                )
    return summary
