"""Wall time of a full clean build of the site, and of a rebuild with nothing changed.

The script copies the repository's tracked files (``git ls-files``, plus the working tree's
untracked chapters) into a temporary folder, so that neither the execution cache nor a previous
build helps, and times, in one process, two runs of the site command's ``jupyter-book build``:

1. **clean**: an empty ``_build`` and an empty jupyter-cache: every chapter is executed;
2. **no change**: the same command again: Sphinx finds nothing outdated and jupyter-cache has
   every notebook, so nothing runs.

Each is printed next to its target (a clean build of the whole book under 15 minutes, parts
I-III under 8; a no-change rebuild under 60 s, all on a 2-core machine) as a ratio, and the
slowest chapters are listed from jupyter-cache's own execution records. Run it on a quiet
machine; other work skews the times::

    python bench/site_build.py
    python bench/site_build.py --keep /tmp/site-bench   # keep the copy and its build
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLEAN_TARGET_S = 15 * 60  # the whole book, parts I-VIII
# Parts I-III had their own target (8 minutes) before the later parts existed; their share is
# reported from jupyter-cache's execution records.
EARLY_PARTS = ("foundations", "losses", "optimizers")
EARLY_TARGET_S = 8 * 60
NO_CHANGE_TARGET_S = 60.0


def _copy_sources(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in listed:
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _build(root: Path) -> float:
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    start = time.perf_counter()
    result = subprocess.run(
        [str(jupyter_book), "build", ".", "-W", "--keep-going"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"the site build failed in {root}")
    return elapsed


def _execution_times(root: Path) -> list[tuple[str, float]]:
    """Execution times jupyter-cache recorded for each notebook, slowest first."""
    from jupyter_cache import get_cache

    cache = get_cache(str(root / ".jupyter_cache"))
    times = []
    for record in cache.list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None:
            uri = record.uri or f"record {record.pk}"
            times.append((os.path.relpath(uri, root) if os.path.isabs(uri) else uri, seconds))
    return sorted(times, key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="site-bench-"))
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} is not empty: give a new folder")
    root.mkdir(parents=True, exist_ok=True)
    try:
        _copy_sources(root)
        print(f"[site] building a clean copy in {root} (cpu count {os.cpu_count()})")
        clean = _build(root)
        ratio = clean / CLEAN_TARGET_S
        print(f"clean build:      {clean:7.1f} s  = {ratio:.2f}x the 15 min target")
        no_change = _build(root)
        print(
            f"no-change build:  {no_change:7.1f} s  = {no_change / NO_CHANGE_TARGET_S:.2f}x "
            f"the 60 s target ({no_change / clean:.3f} of the clean build)"
        )
        records = _execution_times(root)
        by_part: dict[str, float] = {}
        for uri, seconds in records:
            part = Path(uri).parts[1] if len(Path(uri).parts) > 2 else "(home pages)"
            by_part[part] = by_part.get(part, 0.0) + seconds
        print("execution time by part (jupyter-cache's records; the rest is Sphinx):")
        for part, seconds in sorted(by_part.items()):
            print(f"  {seconds:6.1f} s  {part}")
        early = sum(by_part.get(p, 0.0) for p in EARLY_PARTS) + by_part.get("(home pages)", 0.0)
        print(
            f"parts I-III execute in {early:.1f} s "
            f"= {early / EARLY_TARGET_S:.2f}x their 8 min target"
        )
        print("slowest chapters (execution only):")
        for uri, seconds in records[:8]:
            print(f"  {seconds:6.1f} s  {uri}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
