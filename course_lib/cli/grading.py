"""The instructor and student grading commands: release, collect, autograde, feedback, grades,
check. Heavy imports (nbgrader, torch) happen inside the commands."""

from __future__ import annotations

import os
from pathlib import Path

import click

DEFAULT_COURSE_DIR = "grading"


def _repo_root() -> Path:
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "solutions").is_dir() and (folder / "assignments").is_dir():
            return folder
    return here


def _course_dir(value: str | None) -> Path:
    path = Path(value or DEFAULT_COURSE_DIR).resolve()
    root = _repo_root()
    for forbidden in (root / "solutions", root / "assignments"):
        if path == forbidden or forbidden in path.parents:
            raise click.UsageError(f"the course directory may not be inside {forbidden}")
    return path


course_dir_option = click.option(
    "--course-dir",
    default=None,
    help="Grading state: submitted/, autograded/, feedback/, gradebook.db "
    f"(default ./{DEFAULT_COURSE_DIR}).",
)
solutions_option = click.option(
    "--solutions", default=None, help="Instructor sources (default: solutions/ of the repository)."
)


def _solutions(value: str | None) -> Path:
    return Path(value).resolve() if value else _repo_root() / "solutions"


@click.command()
@click.argument("assignment", nargs=-1)
@solutions_option
@click.option("--assignments", "released", default=None, help="Where released notebooks go.")
@click.option("--dist", default=None, help="Where LMS zips go (default dist/).")
@click.option("--check", is_flag=True, help="Only check that assignments/ matches a fresh release.")
def release(
    assignment: tuple[str, ...],
    solutions: str | None,
    released: str | None,
    dist: str | None,
    check: bool,
) -> None:
    """Generate the student versions of ASSIGNMENT... (default: all) with nbgrader."""
    from course_lib.grading.release import assignment_ids, release_drift, release_one

    src = _solutions(solutions)
    out = Path(released).resolve() if released else _repo_root() / "assignments"
    names = list(assignment) or assignment_ids(src)
    if not names:
        raise click.ClickException(f"no assignments in {src}")
    problems = []
    for name in names:
        if check:
            found = release_drift(name, src, out)
            problems += found
            click.echo(f"{name}: {'drifted' if found else 'in sync'}")
        else:
            folder = release_one(name, src, out, Path(dist) if dist else _repo_root() / "dist")
            click.echo(f"{name}: released to {folder}")
    for p in problems:
        click.echo(f"  {p}", err=True)
    if problems:
        raise click.ClickException(
            "assignments/ differs from a fresh release: run `course release`"
        )


@click.command()
@click.argument("assignment")
@click.argument("source", type=click.Path(exists=True))
@course_dir_option
@solutions_option
def collect(assignment: str, source: str, course_dir: str | None, solutions: str | None) -> None:
    """Collect ASSIGNMENT's submissions from SOURCE (exchange dir, folder or LMS zip)."""
    from course_lib.grading.cells import grade_id, read_notebook
    from course_lib.grading.collect import collect as run
    from course_lib.grading.release import assignment_ids

    src = _solutions(solutions)
    nb = read_notebook(src / assignment / f"{assignment}.ipynb")
    ids = {g for g in (grade_id(c) for c in nb.cells) if g}
    report = run(
        assignment,
        Path(source),
        _course_dir(course_dir),
        grade_ids=ids,
        other_assignments=set(assignment_ids(src)),
    )
    for student, origin in report.accepted.items():
        click.echo(f"collected {student} <- {origin}")
    for student in report.unchanged:
        click.echo(f"unchanged {student}")
    for origin, why in report.rejected:
        click.secho(f"REJECTED {origin}: {why}", fg="yellow", err=True)
    click.echo(
        f"{len(report.accepted)} collected, {len(report.unchanged)} unchanged, "
        f"{len(report.rejected)} rejected"
    )


@click.command()
@click.argument("assignment")
@course_dir_option
@solutions_option
@click.option("--jobs", "-j", default=1, show_default=True, help="Submissions graded at once.")
@click.option("--force", is_flag=True, help="Grade again even submissions already graded.")
@click.option("--student", multiple=True, help="Only these students.")
@click.option("--no-sandbox", is_flag=True, help="DANGER: run student code without bubblewrap.")
@click.option("--cuda", is_flag=True, help="Give the workers the GPU.")
def autograde(
    assignment: str,
    course_dir: str | None,
    solutions: str | None,
    jobs: int,
    force: bool,
    student: tuple[str, ...],
    no_sandbox: bool,
    cuda: bool,
) -> None:
    """Grade every collected submission of ASSIGNMENT (resumable; parallel with --jobs)."""
    from course_lib.grading.autograde import autograde as run
    from course_lib.grading.sandbox import SandboxConfig, bwrap_status

    if no_sandbox:
        click.secho(
            "WARNING: --no-sandbox: student code runs as a plain process with resource limits "
            "only; it can read anything this user can (solutions, the gradebook, other "
            "students) and reach the network.",
            fg="red",
            bold=True,
            err=True,
        )
    else:
        ok, why = bwrap_status()
        if not ok:
            raise click.ClickException(
                f"refusing to grade without the sandbox: {why}. Install bubblewrap, or pass "
                "--no-sandbox if you accept running student code unconfined."
            )
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    config = SandboxConfig(sandbox="none" if no_sandbox else "bwrap", cuda=cuda, threads=threads)
    cdir = _course_dir(course_dir)
    summary = run(
        assignment,
        cdir,
        _solutions(solutions),
        jobs=jobs,
        config=config,
        force=force,
        students=list(student) or None,
    )
    for w in summary.warnings:
        click.secho(f"INSTRUCTOR WARNING: {w}", fg="red", err=True)
    for e in summary.grader_errors:
        click.secho(
            f"GRADER ERROR (a bug in a test, not the student's fault) {e}", fg="red", err=True
        )
    total = len(summary.graded) + len(summary.skipped)
    click.echo(
        f"{len(summary.graded)} graded, {len(summary.skipped)} already graded, {total} in all"
    )


@click.command()
@click.argument("assignment")
@course_dir_option
def feedback(assignment: str, course_dir: str | None) -> None:
    """Write per-student HTML feedback for ASSIGNMENT."""
    from course_lib.grading.feedback import write_feedback

    paths = write_feedback(_course_dir(course_dir), assignment)
    click.echo(f"{len(paths)} feedback pages under {_course_dir(course_dir) / 'feedback'}")


@click.command()
@click.argument("assignment", nargs=-1)
@course_dir_option
@click.option("--format", "fmt", type=click.Choice(["csv", "canvas", "gradescope"]), default="csv")
@click.option("--output", "-o", default=None, help="File to write (default: standard output).")
def grades(
    assignment: tuple[str, ...], course_dir: str | None, fmt: str, output: str | None
) -> None:
    """Export grades of ASSIGNMENT... (default: every assignment in the gradebook)."""
    from course_lib.grading.export import export
    from course_lib.grading.gradebook import open_gradebook

    cdir = _course_dir(course_dir)
    names = list(assignment)
    if not names:
        with open_gradebook(cdir) as gb:
            names = sorted(a.name for a in gb.assignments)
    try:
        text = export(cdir, names, fmt)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False))
@click.option("--no-sandbox", is_flag=True, help="Run without bubblewrap even where it works.")
def check(notebook: str, no_sandbox: bool) -> None:
    """Run NOTEBOOK's public tests the way the autograder will."""
    from course_lib.grading.check import check_notebook
    from course_lib.grading.sandbox import SandboxConfig, bwrap_status

    config = SandboxConfig(sandbox="none" if no_sandbox else "auto", threads=os.cpu_count() or 1)
    if config.resolved_mode() == "none":
        why = "--no-sandbox" if no_sandbox else bwrap_status()[1]
        click.secho(
            f"Note: running without the sandbox ({why}); a plain process with resource limits. "
            "Grading uses the sandbox; results are the same for honest code.",
            fg="yellow",
        )
    report = check_notebook(Path(notebook), config=config)
    for note in report.notes:
        click.secho(f"note: {note}", fg="yellow")
    earned = 0.0
    for r in report.results:
        mark = click.style("PASSED", fg="green") if r.passed else click.style("FAILED", fg="red")
        click.echo(f"{mark} {r.name} ({r.max_points:g} points): {r.description}")
        if not r.passed:
            click.echo(f"       {r.message}")
        earned += r.points
    total = sum(r.max_points for r in report.results)
    click.echo(f"public tests: {earned:g} / {total:g} points")
    m = report.manifest
    if m:
        click.echo(
            f"{m.get('hidden_count', 0)} hidden tests worth {m.get('hidden_points', 0):g} points "
            "will run at grading"
            + (
                f"; written answers worth {sum(x['points'] for x in m.get('manual', [])):g} "
                "points are graded by hand."
                if m.get("manual")
                else "."
            )
        )
    else:
        click.echo("(no manifest.json beside the notebook: hidden tests unknown)")
