"""scikit-learn's bundled datasets and MNIST-1D: offline, deterministic, standardised on train."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from course_lib.data import load


@pytest.mark.parametrize(
    ("name", "n", "features", "classes"),
    [("digits", 1797, 64, 10), ("breast_cancer", 569, 30, 2), ("diabetes", 442, 10, None)],
)
def test_sklearn_sets(name, n, features, classes):
    ds = load(name, seed=0)
    sizes = (len(ds.train), len(ds.val), len(ds.test))
    assert sum(sizes) == n and sizes[1] == round(0.1 * n) and sizes[2] == round(0.2 * n)
    assert ds.train.x.shape[1] == features and ds.train.x.dtype == torch.float32
    if classes is None:
        assert ds.train.y.dtype == torch.float32 and ds.meta["task"] == "regression"
    else:
        assert ds.train.y.dtype == torch.int64 and ds.meta["num_classes"] == classes
        # Stratified: every split has every class.
        assert all(len(s.y.unique()) == classes for s in (ds.train, ds.val, ds.test))
    raw = load(name, seed=0, normalize=False)
    assert torch.allclose(ds.meta["mean"], raw.train.x.mean(0), atol=1e-5)
    assert torch.allclose(ds.train.x.mean(0), torch.zeros(features), atol=1e-5)
    assert torch.equal(load(name, seed=0).test.x, ds.test.x)
    assert not torch.equal(load(name, seed=1).test.y, ds.test.y)


def test_mnist1d_is_generated_offline_without_touching_global_random_state():
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    ds = load("mnist1d", seed=0)
    assert (np.random.random(), random.random()) == (expected_np, expected_py)
    assert ds.train.x.shape == (3600, 40) and len(ds.val) == 400 and len(ds.test) == 1000
    assert ds.train.x.dtype == torch.float32 and ds.train.y.dtype == torch.int64
    share = torch.bincount(torch.cat([ds.train.y, ds.val.y])) * 0.1  # stratified hold-out
    assert (torch.bincount(ds.val.y) - share).abs().max() <= 1
    again = load("mnist1d", seed=0)  # from the cache this time
    assert torch.equal(again.train.x, ds.train.x) and torch.equal(again.test.y, ds.test.y)
    assert not torch.equal(load("mnist1d", seed=2).val.x, ds.val.x)
