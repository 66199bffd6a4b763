"""California Housing: 20,640 block groups from the 1990 US census, median house value.

Source: Pace & Barry (1997), "Sparse Spatial Autoregressions", Statistics & Probability Letters
33:291-297, via StatLib (public domain); the official file is the archive scikit-learn's
``fetch_california_housing`` downloads (``CaliforniaHousing/cal_housing.data`` inside
``cal_housing.tgz``). The ``"sklearn"`` layout derives the same eight features scikit-learn
does, so numbers can be compared with its documentation and with other courses.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from course_lib.data.locate import Located
from course_lib.data.splits import (
    DatasetSplits,
    Split,
    random_split,
    split_arrays,
    standardize,
)

RAW_COLUMNS = (
    "longitude",
    "latitude",
    "housingMedianAge",
    "totalRooms",
    "totalBedrooms",
    "population",
    "households",
    "medianIncome",
    "medianHouseValue",
)
SKLEARN_FEATURES = (
    "MedInc",
    "HouseAge",
    "AveRooms",
    "AveBedrms",
    "Population",
    "AveOccup",
    "Latitude",
    "Longitude",
)
_ARCHIVE_MEMBER = "CaliforniaHousing/cal_housing.data"


def read_table(path: Path) -> np.ndarray:
    """The nine raw columns, in ``RAW_COLUMNS`` order, as float64 ``(20640, 9)``.

    Reads the official archive (no header) or a CSV copy (with or without a header row naming
    the columns; named columns may come in any order).
    """
    if tarfile.is_tarfile(path):
        with tarfile.open(path, "r:*") as archive:
            member = archive.extractfile(_ARCHIVE_MEMBER)
            if member is None:
                raise ValueError(f"{path} has no {_ARCHIVE_MEMBER}")
            text = member.read().decode("ascii")
    else:
        text = Path(path).read_text(encoding="ascii")
    first = text.split("\n", 1)[0]
    has_header = any(c.isalpha() for c in first)
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=int(has_header), ndmin=2)
    if has_header:
        names = [c.strip() for c in first.split(",")]
        table = table[:, [names.index(c) for c in RAW_COLUMNS]]
    if table.shape[1] != len(RAW_COLUMNS):
        raise ValueError(f"{path}: expected {len(RAW_COLUMNS)} columns, got {table.shape[1]}")
    return table


def sklearn_features(raw: np.ndarray) -> np.ndarray:
    """The eight derived features of scikit-learn's loader from the raw columns.

    Rooms, bedrooms and occupants are per household; the rest are copied.
    """
    col = {name: raw[:, i] for i, name in enumerate(RAW_COLUMNS)}
    households = col["households"]
    return np.stack(
        [
            col["medianIncome"],
            col["housingMedianAge"],
            col["totalRooms"] / households,
            col["totalBedrooms"] / households,
            col["population"],
            col["population"] / households,
            col["latitude"],
            col["longitude"],
        ],
        axis=1,
    )


def inject_outliers(
    y: torch.Tensor, fraction: float, scale: float = 10.0, seed: int = 0
) -> torch.Tensor:
    """Corrupt a fraction of regression targets with gross errors (for robust-loss lessons).

    ``round(fraction * N)`` targets, chosen at random, get ``+/- scale * std(y)`` added, with
    a random sign each (symmetric contamination). The input is not modified.

    Args:
        y: targets, shape ``(N,)``.
        fraction: share of targets to corrupt, in ``[0, 1]``.
        scale: size of the error in standard deviations of ``y``.
        seed: seeds which targets and which signs.

    Returns:
        A new tensor; ``torch.nonzero(result != y)`` gives the corrupted indices.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if scale < 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    n = len(y)
    count = round(fraction * n)
    rng = np.random.default_rng(seed)
    idx = torch.as_tensor(rng.choice(n, size=count, replace=False), dtype=torch.long)
    signs = torch.as_tensor(rng.choice([-1.0, 1.0], size=count), dtype=y.dtype)
    out = y.clone()
    out[idx] += signs * scale * y.std(correction=0)
    return out


def build(
    located: Located,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    outlier_fraction: float = 0.0,
    outlier_scale: float = 10.0,
    layout: Literal["sklearn", "raw"] = "sklearn",
    normalize: bool = True,
) -> DatasetSplits:
    """Build random train / val / test splits (there is no official split).

    Args:
        located: the file (key ``archive`` for the official tgz, ``csv`` for the mirror).
        seed: seeds the split and the outliers.
        val_fraction: share of all rows for validation.
        test_fraction: share of all rows for test.
        outlier_fraction: share of TRAINING targets corrupted by ``inject_outliers``
            (validation and test stay clean, so they measure the true error).
        outlier_scale: the outliers' size in standard deviations of the training targets.
        layout: ``"sklearn"``: MedInc, HouseAge, AveRooms, AveBedrms, Population, AveOccup,
            Latitude, Longitude; ``"raw"``: the eight original StatLib columns before the
            target (longitude ... medianIncome).
        normalize: standardise each feature with the training split's mean and std (in
            ``meta["mean"]``/``meta["std"]``). Targets are never rescaled.

    Returns:
        Features float32 ``(N, 8)``; target ``medianHouseValue / 1e5`` float32 ``(N,)`` in both
        layouts (values up to 5.00001: the census censored them there).
    """
    key = "archive" if "archive" in located.files else "csv"
    raw = read_table(located.files[key])
    if layout == "sklearn":
        features, names = sklearn_features(raw), list(SKLEARN_FEATURES)
    elif layout == "raw":
        features, names = raw[:, :-1], list(RAW_COLUMNS[:-1])
    else:
        raise ValueError(f"layout must be 'sklearn' or 'raw', got {layout!r}")
    x = torch.from_numpy(features.astype(np.float32))
    y = torch.from_numpy((raw[:, -1] / 1e5).astype(np.float32))
    parts = random_split(len(y), (val_fraction, test_fraction), seed)
    train, val, test = split_arrays(x, y, parts)
    meta = {
        "task": "regression",
        "feature_names": names,
        "target_name": "medianHouseValue / 100000",
        "layout": layout,
        "normalized": normalize,
        "indices": {"train": parts[0], "val": parts[1], "test": parts[2]},
    }
    if normalize:
        (xt, xv, xs), mean, std = standardize(train.x, val.x, test.x, dims=0)
        train, val, test = Split(xt, train.y), Split(xv, val.y), Split(xs, test.y)
        meta.update(mean=mean, std=std)
    if outlier_fraction > 0:
        y_bad = inject_outliers(train.y, outlier_fraction, outlier_scale, seed)
        meta["outlier_indices"] = torch.nonzero(y_bad != train.y).flatten()
        train = Split(train.x, y_bad)
    return DatasetSplits(train, val, test, meta)
