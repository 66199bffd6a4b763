"""California Housing: scikit-learn's feature layout, random splits, outliers in train only."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data import inject_outliers, load, locate
from course_lib.data.california_housing import (
    RAW_COLUMNS,
    SKLEARN_FEATURES,
    build,
    read_table,
    sklearn_features,
)
from course_lib.data.locate import Located

# Column means of the derived features and of the target, from the data's provenance notes.
PROVENANCE_MEANS = [3.8707, 28.6395, 5.4290, 1.0967, 1425.4767, 3.0707, 35.6319, -119.5697]
PROVENANCE_TARGET_MEAN = 2.0686


@pytest.fixture(scope="module")
def located():
    return locate("california_housing", verify=True)


@pytest.fixture(scope="module")
def table(located):
    return read_table(next(iter(located.files.values())))


@pytest.mark.needs_data
def test_sklearn_features_match_the_documented_means(table):
    assert table.shape == (20640, 9)
    features = sklearn_features(table)
    np.testing.assert_allclose(features.mean(axis=0), PROVENANCE_MEANS, atol=6e-5, rtol=0)
    target = table[:, -1] / 1e5
    assert target.mean() == pytest.approx(PROVENANCE_TARGET_MEAN, abs=6e-5)
    # The heavy tails and the census's censoring the course's lessons rely on.
    assert features[:, 5].max() == pytest.approx(1243.33, abs=0.01)
    assert features[:, 2].max() == pytest.approx(141.91, abs=0.01)
    assert int((target > 5.0).sum()) == 965


@pytest.mark.needs_data
def test_the_official_archive_layout_reads_the_same(table, tmp_path):
    """The official tgz holds CaliforniaHousing/cal_housing.data: the same rows, no header."""
    lines = [",".join(repr(v) for v in row) for row in table.tolist()]
    body = "\n".join(lines).encode()
    archive = tmp_path / "cal_housing.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("CaliforniaHousing/cal_housing.data")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    np.testing.assert_allclose(read_table(archive), table, rtol=1e-6)
    ds = build(Located("california_housing", "official", {"archive": archive}), seed=0)
    assert ds.train.x.shape == (14448, 8)


@pytest.mark.needs_data
def test_default_splits_are_deterministic_and_standardised_on_train(table):
    ds = load("california_housing", seed=0)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (14448, 2064, 4128)
    assert ds.meta["feature_names"] == list(SKLEARN_FEATURES)
    assert ds.train.x.dtype == torch.float32 and ds.train.y.dtype == torch.float32
    raw = load("california_housing", seed=0, normalize=False)
    assert torch.equal(raw.train.y, ds.train.y)
    assert torch.allclose(ds.meta["mean"], raw.train.x.mean(0), rtol=1e-5)
    assert torch.allclose(ds.meta["std"], raw.train.x.std(0, correction=0), rtol=1e-4)
    full_mean = torch.tensor(PROVENANCE_MEANS)
    assert not torch.allclose(ds.meta["mean"], full_mean, rtol=1e-3)
    assert torch.allclose(ds.train.x.mean(0), torch.zeros(8), atol=1e-4)
    assert torch.allclose(ds.test.x, (raw.test.x - ds.meta["mean"]) / ds.meta["std"], atol=1e-4)
    again, other = load("california_housing", seed=0), load("california_housing", seed=1)
    assert torch.equal(again.val.x, ds.val.x)
    assert not torch.equal(other.val.y, ds.val.y)


@pytest.mark.needs_data
def test_raw_layout_keeps_the_original_columns(table):
    ds = load("california_housing", layout="raw", normalize=False, val_fraction=0.0)
    assert ds.meta["feature_names"] == list(RAW_COLUMNS[:-1])
    rows = torch.as_tensor(ds.meta["indices"]["train"])
    assert torch.allclose(ds.train.x, torch.from_numpy(table[:, :-1]).float()[rows])
    with pytest.raises(ValueError, match="layout"):
        load("california_housing", layout="pandas")


@pytest.mark.needs_data
def test_outliers_go_into_the_training_targets_only():
    clean = load("california_housing", seed=3)
    dirty = load("california_housing", seed=3, outlier_fraction=0.05, outlier_scale=10.0)
    changed = torch.nonzero(dirty.train.y != clean.train.y).flatten()
    assert len(changed) == round(0.05 * 14448)
    assert torch.equal(changed, dirty.meta["outlier_indices"])
    offsets = (dirty.train.y - clean.train.y)[changed].abs()
    assert torch.allclose(offsets, 10.0 * clean.train.y.std(correction=0).expand_as(offsets))
    assert torch.equal(dirty.val.y, clean.val.y) and torch.equal(dirty.test.y, clean.test.y)
    assert torch.equal(dirty.train.x, clean.train.x)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), fraction=st.floats(0, 1), seed=st.integers(0, 1000))
def test_inject_outliers_properties(n, fraction, seed):
    y = torch.linspace(-1.0, 3.0, n)
    before = y.clone()
    out = inject_outliers(y, fraction, scale=5.0, seed=seed)
    assert torch.equal(y, before), "the input must not be modified"
    changed = out != y
    if float(y.std(correction=0)) > 0:
        assert int(changed.sum()) == round(fraction * n)
    assert torch.equal(out, inject_outliers(y, fraction, scale=5.0, seed=seed))


def test_inject_outliers_rejects_bad_arguments():
    with pytest.raises(ValueError):
        inject_outliers(torch.zeros(3), 1.5, 1.0, 0)
    with pytest.raises(ValueError):
        inject_outliers(torch.zeros(3), 0.5, -1.0, 0)
