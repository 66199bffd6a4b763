"""Fashion-MNIST from the real files (Debian's package, the cache or $COURSE_DATA_DIR)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from course_lib.data import load, locate
from course_lib.data.fashion_mnist import CLASS_NAMES, _read_idx, read_idx

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def files():
    return locate("fashion_mnist", verify=True).files


@pytest.fixture(scope="module")
def raw():
    """The whole official training set as [0, 1] pixels, no hold-out, no normalisation."""
    return load("fashion_mnist", val_size=0, normalize=False)


def test_idx_files_parse_fast_with_official_shapes(files):
    _read_idx.cache_clear()  # time a real parse, not the in-process cache
    start = time.perf_counter()
    arrays = {key: read_idx(path) for key, path in files.items()}
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"parsing the four IDX files took {elapsed:.2f} s"
    assert arrays["train_images"].shape == (60000, 28, 28)
    assert arrays["test_images"].shape == (10000, 28, 28)
    assert arrays["train_images"].dtype == np.uint8
    assert np.bincount(arrays["train_labels"]).tolist() == [6000] * 10
    assert np.bincount(arrays["test_labels"]).tolist() == [1000] * 10


def test_read_idx_rejects_other_files(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)


def test_official_pixel_statistics(raw):
    assert raw.train.x.shape == (60000, 1, 28, 28) and raw.train.x.dtype == torch.float32
    assert len(raw.val) == 0 and raw.test.x.shape == (10000, 1, 28, 28)
    assert float(raw.train.x.min()) == 0.0 and float(raw.train.x.max()) == 1.0
    assert raw.meta["mean"] == pytest.approx(0.2860, abs=5e-5)
    assert raw.meta["std"] == pytest.approx(0.3530, abs=5e-5)
    assert float(raw.train.x.mean()) == pytest.approx(0.2860, abs=5e-5)
    assert raw.meta["class_names"] == list(CLASS_NAMES) and raw.meta["num_classes"] == 10
    assert raw.train.y.dtype == torch.int64


def test_default_split_is_stratified_and_normalised_with_train_statistics(raw):
    ds = load("fashion_mnist", seed=0)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (55000, 5000, 10000)
    assert torch.bincount(ds.val.y).tolist() == [500] * 10
    train_idx = ds.meta["indices"]["train"]
    train_pixels = raw.train.x[torch.as_tensor(train_idx)]
    assert ds.meta["mean"] == pytest.approx(float(train_pixels.mean()), abs=1e-5)
    assert ds.meta["std"] == pytest.approx(float(train_pixels.std(correction=0)), abs=1e-5)
    assert float(ds.train.x.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(ds.train.x.std()) == pytest.approx(1.0, abs=1e-4)
    # The test split is scaled with the training statistics, not its own.
    expected_test = (raw.test.x - ds.meta["mean"]) / ds.meta["std"]
    assert torch.allclose(ds.test.x, expected_test, atol=1e-5)


def test_subset_is_deterministic_by_seed_and_uses_its_own_statistics(raw):
    a = load("fashion_mnist", seed=0, subset=1000, normalize=False)
    b = load("fashion_mnist", seed=0, subset=1000, normalize=False)
    c = load("fashion_mnist", seed=1, subset=1000, normalize=False)
    assert len(a.train) == 1000 and torch.bincount(a.train.y).tolist() == [100] * 10
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.val.y, b.val.y)
    assert not torch.equal(a.train.x, c.train.x)
    assert not np.array_equal(a.meta["indices"]["val"], c.meta["indices"]["val"])
    assert set(a.meta["indices"]["train"]).isdisjoint(a.meta["indices"]["val"])
    assert a.meta["mean"] == pytest.approx(float(a.train.x.mean()), abs=1e-5)
    # ... which differ from the statistics of all the data.
    assert abs(a.meta["mean"] - float(raw.train.x.mean())) > 1e-4
    assert torch.equal(a.test.x, raw.test.x)
