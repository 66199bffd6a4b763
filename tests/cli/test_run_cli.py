"""``course run``: every experiment's smoke preset end to end, as CI runs it.

Each experiment trains its two or three one-epoch configurations through the command line and
must leave a complete results table, the PNG and SVG plots, and one TensorBoard event file per
configuration. Rerunning the same command must train nothing again.
"""

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from course_lib.cli import run as run_module
from course_lib.cli.run import parse_seeds, run
from course_lib.experiments import EXPERIMENTS, PRESET_NAMES, get_preset
from course_lib.experiments.runner import read_csv

# Metric columns each experiment's table must have (besides id, status, config, wall time).
METRICS = {
    "losses": {"test_mse", "test_mae", "val_mae", "train_loss"},
    "shootout": {
        "val_accuracy",
        "test_accuracy",
        "best_val_loss",
        "generalization_gap",
        "time_per_epoch_s",
        "optimizer_state_mb",
        "peak_memory_mb",
    },
    "schedules": {"test_accuracy", "last_epoch_loss_std", "max_spike"},
    "imbalance": {
        "test_auroc",
        "precision_at_half",
        "recall_at_half",
        "f1_at_half",
        "threshold",
        "f1_tuned",
    },
}
PLOTS = {
    "losses": {"test_error_by_loss", "val_mae_curves"},
    "shootout": {"accuracy_vs_lr", "best_lr_curves", "time_and_memory"},
    "schedules": {"lr_and_loss_curves", "accuracy_and_stability"},
    "imbalance": {"scores_by_loss", "focal_gamma_sweep"},
}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as the test script sets: two fight each other on a busy 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def invoke(*args: str):
    result = CliRunner().invoke(run, [*args, "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_names_match_the_registry():
    assert set(run_module.EXPERIMENT_NAMES) == set(EXPERIMENTS)
    assert run_module.PRESET_NAMES == PRESET_NAMES


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_smoke_preset_end_to_end(name, tmp_path):
    out = tmp_path / name
    result = invoke(name, "--preset", "smoke", "--out", str(out))
    assert "0 failed" in result.output

    grid = EXPERIMENTS[name].configs(get_preset(name, "smoke"))
    rows = read_csv(out / "results.csv")
    assert len(rows) == len(grid)
    assert all(r["status"] == "done" for r in rows), [r["error"] for r in rows]
    columns = set(rows[0])
    assert {"id", "status", "wall_time_s", "error", "device"} | set(grid[0]) <= columns
    assert METRICS[name] <= columns
    assert all(r["diverged"] is False for r in rows)

    for stem in PLOTS[name]:
        for ext in ("png", "svg"):
            assert (out / "plots" / f"{stem}.{ext}").stat().st_size > 1000, (stem, ext)
    for row in rows:
        run_dir = out / "runs" / row["id"]
        assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
        assert (run_dir / "steps.csv").exists() and (run_dir / "epochs.csv").exists()

    # The same command again: everything is done, nothing trains, the table is unchanged.
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/done.json")}
    invoke(name, "--preset", "smoke", "--out", str(out))
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/done.json")} == before
    assert read_csv(out / "results.csv") == rows


def test_more_seeds_reuse_the_finished_runs(tmp_path):
    out = tmp_path / "losses"
    invoke("losses", "--preset", "smoke", "--out", str(out), "--seeds", "0")
    first = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/*/done.json")}
    args = ("--preset", "smoke", "--out", str(out), "--seeds", "0,1", "--device", "cpu")
    result = invoke("losses", *args)
    rows = read_csv(out / "results.csv")
    assert sorted(r["seed"] for r in rows) == [0, 0, 1, 1]
    again = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/*/done.json")}
    assert {k: again[k] for k in first} == first  # seed 0 was not retrained
    assert "4 runs done" in result.output


def test_bad_arguments_are_reported(tmp_path):
    bad = CliRunner().invoke(run, ["losses", "--seeds", "a,b", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "comma-separated" in bad.output
    unknown = CliRunner().invoke(run, ["optimizers"])
    assert unknown.exit_code == 2
    assert parse_seeds("3, 1") == [3, 1] and parse_seeds(None) is None


def test_default_output_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    invoke("imbalance", "--preset", "smoke")
    assert (Path("runs") / "imbalance-smoke" / "results.csv").exists()
