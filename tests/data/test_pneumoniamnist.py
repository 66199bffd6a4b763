"""PneumoniaMNIST: official split sizes, a rare positive class in train, val/test untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data import load, resample_to_positive_rate


@pytest.fixture(scope="module")
def published():
    return load("pneumoniamnist", positive_rate=None, normalize=False)


@pytest.mark.needs_data
def test_published_split_sizes_and_labels(published):
    assert (len(published.train), len(published.val), len(published.test)) == (4708, 524, 624)
    assert published.train.x.shape == (4708, 1, 28, 28)
    assert published.train.x.dtype == torch.float32 and published.train.y.dtype == torch.int64
    assert set(published.train.y.unique().tolist()) == {0, 1}
    assert int(published.train.y.sum()) == 3494  # 1,214 normal, 3,494 pneumonia
    assert int(published.test.y.sum()) == 390
    assert published.meta["class_names"] == ["normal", "pneumonia"]
    if published.meta["variant"] == "mirror":
        assert "sample order differs" in published.meta["notes"]
        assert "28209eda62fecd6e6a2d98b1501bb15f" in published.meta["notes"]


@pytest.mark.needs_data
def test_training_split_resampled_to_five_percent_and_val_test_kept(published):
    ds = load("pneumoniamnist", seed=0, normalize=False)
    # All 1,214 normal images kept; round(0.05 * 1214 / 0.95) = 64 pneumonia images.
    assert len(ds.train) == 1278 and int(ds.train.y.sum()) == 64
    assert ds.meta["positive_rate"]["train"] == pytest.approx(64 / 1278)
    assert torch.equal(ds.val.x, published.val.x) and torch.equal(ds.test.y, published.test.y)
    assert ds.meta["positive_rate"]["test"] == pytest.approx(0.625)
    rows = torch.as_tensor(ds.meta["indices"]["train"])
    assert torch.equal(ds.train.x, published.train.x[rows])
    other = load("pneumoniamnist", seed=1, normalize=False)
    assert int(other.train.y.sum()) == 64
    assert not np.array_equal(other.meta["indices"]["train"], ds.meta["indices"]["train"])
    same = load("pneumoniamnist", seed=0, normalize=False)
    assert torch.equal(same.train.x, ds.train.x)


@pytest.mark.needs_data
def test_normalisation_uses_the_resampled_training_split(published):
    ds = load("pneumoniamnist", seed=0)
    raw = load("pneumoniamnist", seed=0, normalize=False)
    assert ds.meta["mean"] == pytest.approx(float(raw.train.x.mean()), abs=1e-5)
    assert ds.meta["mean"] != pytest.approx(float(published.train.x.mean()), abs=1e-3)
    assert float(ds.train.x.mean()) == pytest.approx(0.0, abs=1e-4)
    expected = (raw.val.x - ds.meta["mean"]) / ds.meta["std"]
    assert torch.allclose(ds.val.x, expected, atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    n_pos=st.integers(1, 300),
    n_neg=st.integers(1, 300),
    rate=st.floats(0.01, 0.99),
    seed=st.integers(0, 100),
)
def test_resampling_reaches_the_rate_without_duplicates(n_pos, n_neg, rate, seed):
    y = torch.tensor([1] * n_pos + [0] * n_neg)[torch.randperm(n_pos + n_neg)]
    x = torch.arange(len(y))
    xr, yr = resample_to_positive_rate(x, y, rate, seed)
    assert len(torch.unique(xr)) == len(xr), "no example may be duplicated"
    assert torch.equal(xr, torch.sort(xr).values), "order is kept"
    assert torch.equal(y[xr], yr)
    pos, neg = int(yr.sum()), int((yr == 0).sum())
    # One class is kept whole; the other is as close to the rate as whole examples allow.
    assert pos == n_pos or neg == n_neg
    if pos < n_pos:
        assert pos == max(1, round(rate * n_neg / (1 - rate)))
    elif neg < n_neg:
        assert neg == max(1, round(n_pos * (1 - rate) / rate))
    assert torch.equal(xr, resample_to_positive_rate(x, y, rate, seed)[0])


def test_resampling_rejects_bad_input():
    y = torch.tensor([0, 1, 1])
    with pytest.raises(ValueError, match="rate"):
        resample_to_positive_rate(y, y, 1.0)
    with pytest.raises(ValueError, match="both classes"):
        resample_to_positive_rate(y, torch.ones(3, dtype=torch.int64), 0.5)
    with pytest.raises(ValueError, match="0 or 1"):
        resample_to_positive_rate(y, torch.tensor([0, 2, 1]), 0.5)
