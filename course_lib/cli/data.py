"""``course data``: list, check and fetch the course's datasets from the shell.

Imports of the data package happen inside the commands, so ``course --help`` stays instant.
"""

from __future__ import annotations

import click


def _size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _status(name: str) -> tuple[str, str, str]:
    """(status, size, where) of one dataset, without hashing anything."""
    from course_lib.data import DatasetNotFoundError, get_spec, locate

    spec = get_spec(name)
    if spec.kind == "bundled":
        # The installed version, without importing scikit-learn (seconds).
        from importlib.metadata import version

        return "bundled", "-", f"inside scikit-learn {version('scikit-learn')}"
    if spec.kind == "generated":
        return "generated", "-", "generated on first load by the mnist1d package, then cached"
    try:
        located = locate(name)
    except DatasetNotFoundError:
        return "missing", "-", f"run: course data fetch {name}"
    folders = ", ".join(dict.fromkeys(str(p.parent) for p in located.files.values()))
    return "found", _size(located.size_bytes), f"{folders} ({located.variant})"


@click.group()
def data() -> None:
    """Find, fetch and check the course's datasets.

    Files are looked for in $COURSE_DATA_DIR, then the user cache, then system folders
    (e.g. Debian's /usr/share/datasets); see `course data list`.
    """


@data.command("list")
def list_datasets() -> None:
    """One line per dataset: name, status (found/missing), size on disk, where."""
    from course_lib.data import available

    rows = [(name, *_status(name)) for name in available()]
    click.echo(f"{'name':<20} {'status':<10} {'size':>9}  where")
    for name, status, size, where in rows:
        click.echo(f"{name:<20} {status:<10} {size:>9}  {where}")


@data.command()
@click.argument("names", nargs=-1)
@click.pass_context
def check(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Re-hash every copy of every dataset file found (all datasets, or NAMES).

    Exits with status 1 if any file matches none of its known hashes.
    """
    from course_lib.data import DatasetHashError, available, get_spec
    from course_lib.data.hashing import verify_file
    from course_lib.data.locate import find_all_copies

    bad = checked = 0
    for name in names or available():
        spec = get_spec(name)
        if spec.kind != "files":
            continue
        copies = find_all_copies(spec)
        if not copies:
            click.echo(f"{name}: no files found, nothing to check")
        for variant, key, path in copies:
            hashes = next(f.hashes for f in variant.files if f.key == key)
            checked += 1
            try:
                known = verify_file(path, hashes, what=f"dataset {name!r}", force=True)
            except DatasetHashError as err:
                bad += 1
                click.echo(f"{name}: MISMATCH {path}", err=True)
                click.echo(str(err), err=True)
                continue
            click.echo(f"{name}: ok {path} ({known.value}, {known.what})")
    if bad:
        click.echo(f"{bad} of {checked} files failed the hash check.", err=True)
        ctx.exit(1)
    click.echo(f"All {checked} files found match their known hashes.")


@data.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def fetch_command(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Download datasets' official files into the user cache (skipped if already present)."""
    from course_lib.data import DatasetHashError, DatasetNotFoundError, fetch, get_spec, locate

    failed = False
    for name in names:
        spec = get_spec(name)
        if spec.kind != "files":
            click.echo(f"{name}: {spec.kind}, nothing to download")
            continue
        try:
            located = locate(name, verify=True)
            how = "already available"
        except DatasetNotFoundError:
            try:
                located = fetch(name)
                how = "downloaded"
            except (DatasetNotFoundError, DatasetHashError) as err:
                failed = True
                click.echo(str(err), err=True)
                continue
        except DatasetHashError as err:
            failed = True
            click.echo(str(err), err=True)
            continue
        folders = ", ".join(dict.fromkeys(str(p.parent) for p in located.files.values()))
        click.echo(f"{name}: {how} ({located.variant}) in {folders}")
    if failed:
        ctx.exit(1)
