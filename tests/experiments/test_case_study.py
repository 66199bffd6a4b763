"""The case study's grid, statistics and one tiny run, against scipy and torch references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from course_lib.experiments import case_study as C
from course_lib.experiments.runner import read_csv


def test_t_interval_matches_scipy() -> None:
    values = [0.81, 0.79, 0.835, 0.8]
    mean, low, high = C.t_interval(values, 0.95)
    ref_low, ref_high = stats.t.interval(
        0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values)
    )
    assert mean == pytest.approx(np.mean(values), abs=1e-15)
    assert low == pytest.approx(ref_low, abs=1e-12)
    assert high == pytest.approx(ref_high, abs=1e-12)


def test_t_interval_edge_cases() -> None:
    assert C.t_interval([0.5]) == (0.5, -math.inf, math.inf)
    assert C.t_interval([0.3, 0.3, 0.3]) == pytest.approx((0.3, 0.3, 0.3))
    with pytest.raises(ValueError):
        C.t_interval([])
    with pytest.raises(ValueError):
        C.t_interval([1.0, 2.0], level=1.0)


def _rows() -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for opt in ("adam", "momentum"):
        for sched in ("constant", "cosine"):
            for seed in range(4):
                acc = 0.8 + 0.01 * (opt == "adam") + 0.005 * seed + 0.001 * rng.standard_normal()
                rows.append(
                    {
                        "status": "done",
                        "optimizer": opt,
                        "schedule": sched,
                        "seed": seed,
                        "test_accuracy": acc,
                        "diverged": False,
                    }
                )
    rows.append({**rows[0], "seed": 9, "test_accuracy": None, "diverged": True})
    return rows


def test_summarize_and_paired_difference_match_scipy() -> None:
    rows = _rows()
    table = C.summarize(rows)
    assert [(c["optimizer"], c["schedule"]) for c in table] == [
        ("adam", "constant"),
        ("adam", "cosine"),
        ("momentum", "constant"),
        ("momentum", "cosine"),
    ]
    cell = table[0]
    vals = [r["test_accuracy"] for r in rows[:4]]
    low, high = stats.t.interval(0.95, 3, loc=np.mean(vals), scale=stats.sem(vals))
    assert cell["n"] == 4  # the diverged run is left out
    assert (cell["low"], cell["high"]) == pytest.approx((low, high), abs=1e-12)

    # Paired difference: scipy's paired t-test gives the same interval.
    def cell(opt: str) -> list[float]:
        return [
            r["test_accuracy"] for r in rows if (r["optimizer"], r["schedule"]) == (opt, "cosine")
        ]

    a, b = cell("adam"), cell("momentum")
    mean, lo, hi, n = C.paired_difference(rows, ("adam", "cosine"), ("momentum", "cosine"))
    ref = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert n == 4
    assert mean == pytest.approx(np.mean(np.subtract(a, b)), abs=1e-14)
    assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-12)
    with pytest.raises(ValueError):
        C.paired_difference(rows, ("adam", "cosine"), ("radam", "cosine"))


def test_configs_cover_the_grid() -> None:
    preset = C.PRESETS["build"]
    grid = C.configs(preset)
    assert len(grid) == len(C.OPTIMIZERS) * len(C.SCHEDULES) * len(preset.seeds)
    assert {c["optimizer"] for c in grid} == set(C.OPTIMIZERS)
    assert all(c["lr"] == C.OPTIMIZERS[c["optimizer"]][2] for c in grid)
    with pytest.raises(ValueError):
        C.configs(preset.__class__("x", 1, 8, grid={"optimizers": ["sgdx"], "schedules": []}))


def test_lookahead_factory_matches_torch_adam_between_syncs() -> None:
    # Before its first synchronisation Lookahead(Adam) is Adam: compare 4 steps with torch.
    torch.manual_seed(0)
    w0 = torch.randn(5, dtype=torch.float64)
    target = torch.randn(5, dtype=torch.float64)
    ours = torch.nn.Parameter(w0.clone())
    ref = torch.nn.Parameter(w0.clone())
    opt = C.make_optimizer("lookahead_adam", 0.01)([ours])
    ref_opt = torch.optim.Adam([ref], lr=0.01)
    for _ in range(4):
        for p, o in ((ours, opt), (ref, ref_opt)):
            o.zero_grad()
            ((p - target) ** 2).sum().backward()
            o.step()
    torch.testing.assert_close(ours.detach(), ref.detach(), rtol=0, atol=1e-12)


def test_smoke_grid_runs_and_resumes(tmp_path) -> None:
    rows = C.run_case_study("smoke", tmp_path, device="cpu")
    assert len(rows) == 2 and all(r["status"] == "done" for r in rows)
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in rows)
    assert read_csv(tmp_path / "results.csv") == rows
    again = C.run_case_study("smoke", tmp_path, device="cpu")  # nothing retrained
    assert [r["wall_time_s"] for r in again] == [r["wall_time_s"] for r in rows]
    assert C.headline(rows).startswith("best ")
    assert all(p.exists() for p in C.plots(rows, tmp_path))
