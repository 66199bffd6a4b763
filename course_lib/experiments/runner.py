"""A resumable grid runner: one run folder per configuration, one tidy results table.

:func:`run_grid` trains every configuration of a grid (say optimizer x learning rate x seed) and
keeps, under ``out_dir``::

    results.csv              one row per finished configuration: id, status, the config's keys,
                             the metrics train_one returned, wall time, error message
    runs/<id>/config.json    the configuration
    runs/<id>/done.json      marker: the configuration finished, with its metrics
    runs/<id>/failed.json    marker: it raised; the error message (traceback in error.txt)
    runs/<id>/...            whatever train_one writes: TensorBoard events, history CSVs

The ``<id>`` is a hash of the configuration's canonical JSON, so the same configuration gets the
same folder in every run, on every machine, whatever the order of the grid or of its keys.

Resuming: killed at any moment and run again, the runner skips every configuration whose
``done.json`` exists, discards the half-written folder of the one that was interrupted and runs
it again from scratch, so each configuration is trained to completion exactly once. The table is
rebuilt from the markers on disk and replaced atomically (temporary file, then ``os.replace``)
after every configuration, so a reader never sees half a table. A configuration that raises is
recorded as ``failed`` and the batch goes on; a rerun retries it (a failure is a bug to fix or a
transient such as running out of memory, not a result). ``force=True`` reruns everything.

Two processes must not share one ``out_dir`` at the same time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

Metrics = Mapping[str, Any]
TrainOne = Callable[[Mapping[str, Any], Path], Metrics]

RESULTS_FILE = "results.csv"
RUNS_DIR = "runs"
DONE_FILE = "done.json"
FAILED_FILE = "failed.json"
CONFIG_FILE = "config.json"
# Columns the runner writes itself: a config key or metric of the same name would be lost.
RESERVED = ("id", "status", "wall_time_s", "error")


def canonical_json(config: Mapping[str, Any]) -> str:
    """The configuration as JSON with sorted keys and no spaces: equal configs, equal strings.

    Tuples are written as lists. Note that ``1`` and ``1.0`` differ (``"1"`` vs ``"1.0"``):
    keep a hyperparameter's type the same across grids to keep its id.

    Raises:
        TypeError: if a value is not JSON-serialisable (numbers, strings, bools, None, lists,
            dicts only: a config is data, not objects).
    """
    try:
        return json.dumps(dict(config), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"config {dict(config)!r} is not plain JSON data ({err}); use numbers, strings, "
            "bools, None, lists and dicts, and name objects by a string"
        ) from err


def config_id(config: Mapping[str, Any], length: int = 12) -> str:
    """A stable id for a configuration: the first ``length`` hex digits of its JSON's SHA-256."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:length]


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half.

    The text goes to a temporary file in the same folder (same file system), is flushed to disk,
    then renamed over ``path`` with ``os.replace``, which is atomic on POSIX and Windows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cell(value: Any) -> Any:
    # Lists and dicts go into one CSV cell as JSON; None as an empty cell.
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path, columns: Sequence[str] = ()) -> None:
    """Write dict rows as a CSV table, atomically; columns in first-seen order after ``columns``.

    Args:
        rows: the rows; a key missing from a row gives an empty cell.
        path: the CSV file to (re)place.
        columns: columns to put first (the rest follow in the order they first appear).
    """
    header = list(dict.fromkeys([*columns, *(k for row in rows for k in row)]))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    atomic_write_text(path, buf.getvalue())


def _parse(text: str) -> Any:
    if text == "":
        return None
    if text[0] in "[{":  # a list or dict cell, written as JSON by write_csv
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(text, text)


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Read a table written by :func:`write_csv`, turning numbers back into ints and floats.

    Empty cells become ``None``, ``True``/``False`` bools, JSON lists and dicts Python ones;
    other text stays a string.
    """
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


def save_history(history: Any, run_dir: Path) -> None:
    """Write a training history's ``steps`` and ``epochs`` lists of dicts as two CSV tables.

    Args:
        history: anything with ``steps`` and ``epochs`` attributes holding lists of dicts
            (``course_lib.train.History``).
        run_dir: the run's folder; gets ``steps.csv`` and ``epochs.csv``.
    """
    write_csv(list(history.steps), Path(run_dir) / "steps.csv")
    write_csv(list(history.epochs), Path(run_dir) / "epochs.csv")


def load_history(out_dir: Path, run_id: str, kind: str = "epochs") -> list[dict[str, Any]]:
    """The ``steps`` or ``epochs`` history of one run of a grid (empty if it wrote none)."""
    path = Path(out_dir) / RUNS_DIR / run_id / f"{kind}.csv"
    return read_csv(path) if path.exists() else []


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _row(run_id: str, config: Mapping[str, Any], run_dir: Path) -> dict[str, Any] | None:
    # A row only for a finished configuration: done wins over a stale failure marker.
    for marker, status in ((DONE_FILE, "done"), (FAILED_FILE, "failed")):
        record = _read_json(run_dir / marker)
        if record is not None:
            return {
                "id": run_id,
                "status": status,
                **config,
                **record.get("metrics", {}),
                "wall_time_s": record.get("wall_time_s"),
                "error": record.get("error"),
            }
    return None


def _write_table(grid: Iterable[tuple[str, Mapping[str, Any]]], out_dir: Path) -> list[dict]:
    rows = [r for run_id, c in grid if (r := _row(run_id, c, out_dir / RUNS_DIR / run_id))]
    write_csv(rows, out_dir / RESULTS_FILE, columns=("id", "status"))
    # Read back, so that callers get exactly what a later reader of the table gets.
    return read_csv(out_dir / RESULTS_FILE)


def _write_marker(path: Path, record: Mapping[str, Any]) -> None:
    atomic_write_text(path, json.dumps(record, indent=2, default=str) + "\n")


def _describe(config: Mapping[str, Any], width: int = 60) -> str:
    text = " ".join(f"{k}={v}" for k, v in config.items() if not isinstance(v, (list, dict)))
    return text if len(text) <= width else text[: width - 3] + "..."


def run_grid(
    configs: Sequence[Mapping[str, Any]],
    train_one: TrainOne,
    out_dir: Path,
    *,
    force: bool = False,
    retry_failed: bool = True,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train every configuration once, resumably, and keep a tidy results table up to date.

    Args:
        configs: the grid, one mapping of plain JSON data per run (its keys become columns).
        train_one: ``train_one(config, run_dir) -> metrics``; writes what it likes into
            ``run_dir`` (its TensorBoard log folder) and returns a flat mapping of results
            (numbers, or short strings such as a device name).
        out_dir: where ``results.csv`` and ``runs/`` go; created if missing.
        force: rerun every configuration, deleting its earlier run folder first.
        retry_failed: rerun configurations whose earlier attempt raised (default); ``False``
            keeps their ``failed`` rows.
        progress: show a progress bar over the configurations.

    Returns:
        The table's rows, one per configuration in grid order, as :func:`read_csv` reads
        ``results.csv`` back (every column in every row; ``None`` for an empty cell).

    Raises:
        ValueError: if two configurations are equal (they would share one run folder) or one
            uses a column name the runner writes (``id``, ``status``, ``wall_time_s``,
            ``error``). A ``train_one`` returning a metric named like a config key or one of
            these fails that configuration.
        TypeError: if a configuration is not plain JSON data.
        KeyboardInterrupt: passed on, after the table of the configurations finished so far is
            on disk; rerun to continue.
    """
    out_dir = Path(out_dir)
    grid = [(config_id(c), dict(c)) for c in configs]
    seen: set[str] = set()
    for run_id, config in grid:
        if run_id in seen:
            raise ValueError(f"the grid holds the configuration {config!r} twice")
        if reserved := sorted(set(config) & set(RESERVED)):
            raise ValueError(f"config keys {reserved} are column names the runner writes")
        seen.add(run_id)
    (out_dir / RUNS_DIR).mkdir(parents=True, exist_ok=True)

    def finished(run_dir: Path) -> bool:
        if force:
            return False
        return (run_dir / DONE_FILE).exists() or (
            not retry_failed and (run_dir / FAILED_FILE).exists()
        )

    todo = [(i, c) for i, c in grid if not finished(out_dir / RUNS_DIR / i)]
    # The table first: a run killed between a marker and the table left it one row short.
    _write_table(grid, out_dir)
    bar = tqdm(total=len(grid), initial=len(grid) - len(todo), disable=not progress, unit="run")
    try:
        for run_id, config in todo:
            run_dir = out_dir / RUNS_DIR / run_id
            bar.set_postfix_str(_describe(config))
            # A folder without a done marker holds a partial run (its TensorBoard events too):
            # start it over so that every finished run has exactly one set of logs.
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir(parents=True)
            atomic_write_text(run_dir / CONFIG_FILE, canonical_json(config) + "\n")
            start = time.perf_counter()
            try:
                metrics = dict(train_one(config, run_dir))
                if clash := sorted(set(metrics) & (set(config) | set(RESERVED))):
                    raise ValueError(f"metric names {clash} clash with the table's columns")
            except Exception as err:  # one failed run must not stop the grid
                (run_dir / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
                record = {"error": f"{type(err).__name__}: {err}", "config": config}
                record["wall_time_s"] = time.perf_counter() - start
                _write_marker(run_dir / FAILED_FILE, record)
            else:
                record = {"metrics": metrics, "config": config}
                record["wall_time_s"] = time.perf_counter() - start
                _write_marker(run_dir / DONE_FILE, record)
            _write_table(grid, out_dir)
            bar.update(1)
    finally:
        bar.close()
    return _write_table(grid, out_dir)
