"""Autograde benchmark: wall time per submission for each assignment, and --jobs 2 vs --jobs 1.

Runs in one process: ``python bench/grading.py [--submissions 20]``. For every assignment with
its three instructor files (and the engine's fixture), the solution notebook is graded once
(seconds per submission); then 20 copies of one submission are graded with one and with two
jobs and the throughput ratio is printed (target >= 1.7x on 2 cores; timings on a shared
machine are noisy).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from course_lib.grading.autograde import autograde
from course_lib.grading.release import assignment_ids
from course_lib.grading.sandbox import SandboxConfig

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "grading" / "fixtures" / "source"


def _class(course: Path, solutions: Path, assignment: str, n: int) -> None:
    nb = solutions / assignment / f"{assignment}.ipynb"
    for i in range(n):
        dest = course / "submitted" / f"s{i:03d}" / assignment / f"{assignment}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(nb, dest)


def _grade(solutions: Path, assignment: str, n: int, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        _class(course, solutions, assignment, n)
        threads = max(1, 2 // jobs)
        start = time.perf_counter()
        autograde(
            assignment,
            course,
            solutions,
            jobs=jobs,
            progress=False,
            config=SandboxConfig(sandbox="auto", threads=threads),
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--throughput-assignment", default="tiny")
    args = parser.parse_args()
    targets = [(FIXTURES, "tiny")] + [
        (ROOT / "solutions", a) for a in assignment_ids(ROOT / "solutions")
    ]
    print("autograde wall time per submission (solution notebook, 1 job):")
    for solutions, name in targets:
        seconds = _grade(solutions, name, 1, 1)
        print(
            f"  {name:<22} {seconds:7.1f} s   (target < 60 s: {'ok' if seconds < 60 else 'OVER'})"
        )
    solutions = FIXTURES if args.throughput_assignment == "tiny" else ROOT / "solutions"
    n = args.submissions
    one = _grade(solutions, args.throughput_assignment, n, 1)
    two = _grade(solutions, args.throughput_assignment, n, 2)
    print(
        f"{n} submissions of {args.throughput_assignment}: "
        f"--jobs 1 {one:.1f} s, --jobs 2 {two:.1f} s"
    )
    print(f"throughput --jobs 2 / --jobs 1 = {one / two:.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
