"""``course check NOTEBOOK``: a student runs the public tests through the grading harness.

The notebook's own setup and answer cells run in the same worker and sandbox as at grading
(or, where bubblewrap cannot run, in a plain process with the same resource limits: said so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib.grading.cells import build_plan, read_notebook
from course_lib.grading.runner import TestResult, load_suite, run_test
from course_lib.grading.sandbox import SandboxConfig
from course_lib.grading.student import SandboxedStudentCode


@dataclass
class CheckReport:
    """Public test results, notes, and what the manifest says about hidden tests."""

    results: list[TestResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sandbox: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)


def check_notebook(
    notebook: Path, *, tests: Path | None = None, config: SandboxConfig | None = None
) -> CheckReport:
    """Run the public tests beside ``notebook`` against its answer cells."""
    notebook = Path(notebook)
    folder = notebook.parent
    tests = tests or folder / "public_tests.py"
    suite = load_suite(tests)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    config = config or SandboxConfig(sandbox="auto")
    report = CheckReport(sandbox=config.resolved_mode(), manifest=manifest)
    nb = read_notebook(notebook)
    plan = build_plan(nb, None)
    student = SandboxedStudentCode(
        plan,
        assignment=suite.assignment,
        forbid=tuple(manifest.get("forbid", suite.forbid)),
        config=config,
    )
    try:
        report.results = [run_test(t, student) for t in suite]
    finally:
        student.close()
    report.notes = list(student.load_notes or [])
    return report
