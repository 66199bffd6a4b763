"""Measures for comparing optimizers, against numpy references and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_lib.experiments import measures as M


def _trailing_mean_reference(losses, window):
    x = np.asarray(losses, dtype=float)
    csum = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - window, 0)
    return (csum[idx] - csum[lo]) / (idx - lo)


@pytest.mark.parametrize("window", [1, 3, 7])
def test_smoothed_losses_are_trailing_means(window):
    rng = np.random.default_rng(window)
    losses = rng.random(40).tolist()
    np.testing.assert_allclose(
        M.smoothed_losses(losses, window), _trailing_mean_reference(losses, window), rtol=1e-12
    )
    with pytest.raises(ValueError):
        M.smoothed_losses(losses, 0)


def test_steps_to_threshold_counts_full_windows_only():
    losses = [0.1] + [1.0] * 9 + [0.2] * 10
    # Step 1 alone is below 0.5, but the first full 4-step window below it ends at step 13.
    ref = _trailing_mean_reference(losses, 4)
    first = next(i + 1 for i in range(3, len(ref)) if ref[i] <= 0.5)
    assert M.steps_to_threshold(losses, 0.5, window=4) == first == 13
    assert M.steps_to_threshold(losses, 0.01, window=4) is None
    assert M.steps_to_threshold([math.nan] * 10, 1.0, window=2) is None
    assert M.steps_to_threshold(losses, 0.5, window=1) == 1


def _band_reference(lrs, losses, tol, n=200_001):
    # The same definition by brute force: a dense grid in log10(lr), linear interpolation.
    order = np.argsort(lrs)
    x = np.log10(np.asarray(lrs, float)[order])
    v = np.asarray([np.inf if (u is None or not np.isfinite(u)) else u for u in losses])[order]
    best = v[np.isfinite(v)].min()
    grid = np.linspace(x[0], x[-1], n)
    # Linear interpolation that treats an infinite end as infinite over the whole segment.
    k = np.clip(np.searchsorted(x, grid, side="right") - 1, 0, len(x) - 2)
    t = (grid - x[k]) / (x[k + 1] - x[k])
    with np.errstate(invalid="ignore"):
        vals = np.where(
            np.isinf(v[k]) | np.isinf(v[k + 1]),
            np.where(t == 0, v[k], np.where(t == 1, v[k + 1], np.inf)),
            (1 - t) * v[k] + t * v[k + 1],
        )
    return (x[-1] - x[0]) * np.mean(vals <= best * (1 + tol))


@pytest.mark.parametrize(
    ("losses", "tol"),
    [
        ([0.5, 0.5, 0.5, 0.5, 0.5], 0.1),  # flat: the whole sweep
        ([2.0, 1.0, 0.4, 1.0, 2.0], 0.25),  # a V: a narrow band
        ([0.9, 0.35, 0.3, 0.5, None], 0.5),  # diverged at the largest rate
        ([0.3, 0.31, 2.0, math.nan, math.inf], 0.2),  # best at the edge
        ([1.0, 0.8, 0.35, 0.33, 0.6], 0.0),
    ],
)
def test_lr_band_matches_a_dense_reference(losses, tol):
    lrs = [1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2]
    got = M.lr_band_decades(lrs, losses, tol)
    assert got == pytest.approx(_band_reference(lrs, losses, tol), abs=1e-4)
    # The order of the sweep does not matter.
    assert M.lr_band_decades(lrs[::-1], losses[::-1], tol) == pytest.approx(got)


def test_lr_band_edge_cases():
    lrs = [1e-3, 1e-2, 1e-1]
    assert M.lr_band_decades(lrs, [1.0, 1.0, 1.0], 0.0) == pytest.approx(2.0)
    assert M.lr_band_decades(lrs, [1.0, 2.0, 4.0], 0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        M.lr_band_decades(lrs, [None, math.nan, math.inf], 0.1)
    with pytest.raises(ValueError):
        M.lr_band_decades([1e-3], [1.0], 0.1)


def test_check_claim_compares_differences_with_the_seed_noise():
    claimed = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
    measured = {  # steps to a threshold: fewer is better
        "sgd": (200.0, 10.0),
        "momentum": (110.0, 10.0),
        "adam": (100.0, 10.0),
        "adamw": (140.0, 5.0),
    }
    verdicts = {(a, b): v for a, b, v in M.check_claim(claimed, measured, higher_is_better=False)}
    assert verdicts[("momentum", "sgd")] == "agrees"
    assert verdicts[("adam", "momentum")] == "within noise"  # 10 < sqrt(200)
    assert verdicts[("adamw", "momentum")] == "reversed"  # 30 > sqrt(125)
    assert verdicts[("adam", "adamw")] == "not equal"
    assert len(verdicts) == 6
    fixed = M.check_claim(claimed, measured, higher_is_better=False, noise=50.0)
    assert {v for _, _, v in fixed} == {"agrees", "within noise", "equal as claimed"}
    # An optimizer the claim does not rate is left out.
    assert len(M.check_claim({"sgd": 0}, measured, higher_is_better=True)) == 0
