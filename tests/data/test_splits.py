"""Split containers and the deterministic index arithmetic behind every dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data import DatasetSplits, Split
from course_lib.data.splits import (
    pixels_to_float,
    random_split,
    standardize,
    stratified_holdout,
    stratified_subset,
)


def test_split_is_a_labelled_tensor_dataset():
    s = Split(torch.arange(12.0).reshape(6, 2), torch.arange(6))
    assert len(s) == 6
    x, y = s[2]
    assert x.tolist() == [4.0, 5.0] and int(y) == 2
    xb, yb = s[torch.tensor([0, 5])]
    assert xb.shape == (2, 2) and yb.tolist() == [0, 5]
    loader = torch.utils.data.DataLoader(s, batch_size=4)
    assert [len(b[1]) for b in loader] == [4, 2]
    with pytest.raises(ValueError, match="rows"):
        Split(torch.zeros(3, 2), torch.zeros(4))


def test_dataset_splits_is_frozen():
    s = Split(torch.zeros(1, 1), torch.zeros(1))
    ds = DatasetSplits(s, s, s, {"num_classes": 2})
    with pytest.raises(AttributeError):
        ds.train = s  # type: ignore[misc]


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 4), min_size=1, max_size=200),
    share=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_holdout_partitions_and_keeps_proportions(labels, share, seed):
    y = np.array(labels)
    size = round(share * len(y))
    kept, held = stratified_holdout(y, size, seed)
    assert len(held) == size
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(len(y)))
    for c in np.unique(y):
        expected = size * np.mean(y == c)
        # Largest-remainder allocation: each class within one of its exact share.
        assert abs(np.sum(y[held] == c) - expected) < 1 + 1e-9
    again = stratified_holdout(y, size, seed)
    assert all(np.array_equal(a, b) for a, b in zip((kept, held), again, strict=True))


def test_holdout_depends_on_seed_and_validates_size():
    y = np.repeat(np.arange(10), 100)
    a, b = stratified_subset(y, 100, 0), stratified_subset(y, 100, 1)
    assert not np.array_equal(a, b)
    assert np.bincount(y[a]).tolist() == [10] * 10
    with pytest.raises(ValueError):
        stratified_holdout(y, 1001, 0)


def test_random_split_sizes_determinism_and_stratification():
    parts = random_split(1000, (0.1, 0.2), seed=3)
    assert [len(p) for p in parts] == [700, 100, 200]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(1000))
    assert all(
        np.array_equal(a, b) for a, b in zip(parts, random_split(1000, (0.1, 0.2), 3), strict=True)
    )
    assert not np.array_equal(parts[1], random_split(1000, (0.1, 0.2), 4)[1])
    labels = np.array([0] * 900 + [1] * 100)
    train, val, test = random_split(1000, (0.1, 0.2), 0, labels=labels)
    assert [int(labels[p].sum()) for p in (train, val, test)] == [70, 10, 20]
    with pytest.raises(ValueError):
        random_split(10, (0.5, 0.5), 0)


def test_standardize_uses_train_statistics_only():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(500, 3, generator=g) * 4 + 2
    test = torch.randn(100, 3, generator=g) * 0.5 - 7
    test[:, 2] = 0.0
    train[:, 2] = 5.0  # constant in train: only centred, no division by zero
    (tr, te), mean, std = standardize(train, test, dims=0)
    assert torch.allclose(mean, train.mean(0)) and mean.shape == (3,)
    assert torch.allclose(std[:2], train[:, :2].std(0, correction=0))
    assert std[2] == 1.0
    assert torch.allclose(tr[:, :2].mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(te, (test - mean) / std)
    # Statistics of all the data would differ: the test split's shift is not in them.
    both = torch.cat([train, test])
    assert not torch.allclose(mean, both.mean(0), atol=0.1)


def test_pixels_to_float_matches_direct_computation():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(50, 4, 4), dtype=np.uint8)
    other = rng.integers(0, 30, size=(7, 4, 4), dtype=np.uint8)
    (raw_train, raw_other), mean, std = pixels_to_float(train, other, normalize=False)
    assert raw_train.shape == (50, 1, 4, 4) and raw_train.dtype == torch.float32
    assert torch.allclose(raw_other[:, 0], torch.from_numpy(other / 255.0).float())
    assert mean == pytest.approx(float((train / 255.0).mean()))
    assert std == pytest.approx(float((train / 255.0).std()))
    (norm_train, norm_other), _, _ = pixels_to_float(train, other, normalize=True)
    assert torch.allclose(norm_other, (raw_other - mean) / std, atol=1e-6)
    assert float(norm_train.mean()) == pytest.approx(0.0, abs=1e-6)
