"""The grid runner: stable ids, resumability after a kill, atomic tables, failures recorded."""

import json
import os
from pathlib import Path

import pytest

from course_lib.experiments import runner
from course_lib.experiments.runner import config_id, read_csv, run_grid, write_csv

GRID = [{"opt": "sgd", "lr": lr, "seed": 0} for lr in (0.1, 0.01, 0.001, 0.0001)]


class Recorder:
    """A train_one that counts its calls and can raise on a chosen call."""

    def __init__(self, raise_on: int | None = None, exc: BaseException | None = None):
        self.calls: list[dict] = []
        self.raise_on = raise_on
        self.exc = exc

    def __call__(self, config, run_dir: Path):
        self.calls.append(dict(config))
        (run_dir / "events.out.tfevents.fake").write_text("x")
        if len(self.calls) == self.raise_on:
            raise self.exc
        return {"loss": config["lr"] * 2, "acc": 1 - config["lr"]}


def test_ids_are_stable_across_key_order_and_runs():
    a = config_id({"lr": 0.1, "opt": "sgd", "nested": {"b": 1, "a": [1, 2]}})
    b = config_id({"nested": {"a": (1, 2), "b": 1}, "opt": "sgd", "lr": 0.1})
    assert a == b
    # A fixed value: the hash of the canonical JSON must not change between versions.
    assert config_id({"lr": 0.1}) == "9c9ba942d8bb"
    assert config_id({"lr": 0.1}) != config_id({"lr": 0.01})
    assert len({config_id(c) for c in GRID}) == len(GRID)


def test_non_json_config_and_duplicates_are_rejected(tmp_path):
    with pytest.raises(TypeError, match="plain JSON"):
        config_id({"f": object()})
    with pytest.raises(ValueError, match="twice"):
        run_grid([GRID[0], dict(GRID[0])], Recorder(), tmp_path, progress=False)
    with pytest.raises(ValueError, match="column names"):
        run_grid([{"status": 1}], Recorder(), tmp_path, progress=False)


def test_metric_named_like_a_config_key_fails_that_run(tmp_path):
    rows = run_grid(GRID[:1], lambda c, d: {"lr": 1.0}, tmp_path, progress=False)
    assert rows[0]["status"] == "failed" and "clash" in rows[0]["error"]
    assert rows[0]["lr"] == GRID[0]["lr"]


def test_table_has_one_row_per_config_with_config_and_metric_columns(tmp_path):
    rows = run_grid(GRID, Recorder(), tmp_path, progress=False)
    table = read_csv(tmp_path / "results.csv")
    assert table == rows
    assert [r["lr"] for r in table] == [c["lr"] for c in GRID]
    assert list(table[0])[:5] == ["id", "status", "opt", "lr", "seed"]
    assert {"loss", "acc", "wall_time_s", "error"} <= set(table[0])
    assert all(r["status"] == "done" for r in table)
    for r in table:
        run_dir = tmp_path / "runs" / r["id"]
        assert json.loads((run_dir / "config.json").read_text())["lr"] == r["lr"]
        assert (run_dir / "done.json").exists()


def test_interrupted_grid_resumes_without_rerunning_finished_configs(tmp_path):
    first = Recorder(raise_on=3, exc=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run_grid(GRID, first, tmp_path, progress=False)
    assert len(first.calls) == 3
    # The table on disk holds the two configurations that finished.
    assert [r["lr"] for r in read_csv(tmp_path / "results.csv")] == [0.1, 0.01]

    second = Recorder()
    rows = run_grid(GRID, second, tmp_path, progress=False)
    assert second.calls == GRID[2:]  # the interrupted one again, then the rest, nothing else
    assert [r["status"] for r in rows] == ["done"] * 4
    # The interrupted run's partial folder was cleared: one events file per run.
    for r in rows:
        assert len(list((tmp_path / "runs" / r["id"]).glob("events.out.tfevents*"))) == 1

    third = Recorder()
    run_grid(GRID, third, tmp_path, progress=False)
    assert third.calls == []
    forced = Recorder()
    run_grid(GRID, forced, tmp_path, force=True, progress=False)
    assert forced.calls == GRID


def test_failure_is_recorded_and_the_batch_goes_on(tmp_path):
    rec = Recorder(raise_on=2, exc=RuntimeError("loss is nan"))
    rows = run_grid(GRID, rec, tmp_path, progress=False)
    assert len(rec.calls) == 4
    assert [r["status"] for r in rows] == ["done", "failed", "done", "done"]
    assert rows[1]["error"] == "RuntimeError: loss is nan"
    assert rows[1]["loss"] is None
    assert "Traceback" in (tmp_path / "runs" / rows[1]["id"] / "error.txt").read_text()

    kept = Recorder()
    assert run_grid(GRID, kept, tmp_path, retry_failed=False, progress=False)[1]["status"] == (
        "failed"
    )
    assert kept.calls == []
    retry = Recorder()
    rows = run_grid(GRID, retry, tmp_path, progress=False)
    assert retry.calls == [GRID[1]]
    assert rows[1]["status"] == "done" and rows[1]["error"] is None


def test_table_is_replaced_atomically(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    write_csv([{"a": 1}], path)
    real_replace = os.replace

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(runner.os, "replace", crash)
    with pytest.raises(OSError):
        write_csv([{"a": 2}, {"a": 3}], path)
    monkeypatch.setattr(runner.os, "replace", real_replace)
    assert read_csv(path) == [{"a": 1}]  # the old table, whole
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_table_written_after_every_config(tmp_path):
    seen: list[int] = []

    def train_one(config, run_dir):
        table = tmp_path / "results.csv"
        seen.append(len(read_csv(table)))
        return {"x": 1.0}

    run_grid(GRID, train_one, tmp_path, progress=False)
    assert seen == [0, 1, 2, 3]


def test_csv_round_trip_types(tmp_path):
    rows = [{"i": 3, "f": 0.1, "s": "adam", "b": True, "n": None, "l": [1, 2]}]
    write_csv(rows, tmp_path / "x.csv")
    back = read_csv(tmp_path / "x.csv")[0]
    assert back == {"i": 3, "f": 0.1, "s": "adam", "b": True, "n": None, "l": [1, 2]}
