"""Small datasets that need no download: scikit-learn's bundled sets and MNIST-1D.

- ``digits``: 1,797 8x8 handwritten digits (UCI Optical Recognition of Handwritten Digits,
  Alpaydin & Kaynak 1998, CC BY 4.0), 64 features, 10 classes.
- ``breast_cancer``: Breast Cancer Wisconsin (Diagnostic), 569 tumours, 30 features, classes
  malignant (0) / benign (1) as scikit-learn codes them (Street, Wolberg & Mangasarian 1993,
  CC BY 4.0).
- ``diabetes``: 442 patients, 10 features (scikit-learn's scaled version), target a measure of
  disease progression after one year, 25-346 (Efron, Hastie, Johnstone & Tibshirani 2004).
- ``mnist1d``: 5,000 1-D signals of length 40 generated from 10 digit-like templates
  (Greydanus & Kobak 2024, https://github.com/greydanus/mnist1d, Apache-2.0); 4,000 train and
  1,000 test as the generator splits them. Generated with ``make_dataset`` (its
  ``get_dataset()`` would try the network first), with the generator's fixed seed 42, so it is
  the same dataset everywhere; ``seed`` only chooses the validation split.

scikit-learn and mnist1d are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import json
import random

import numpy as np
import torch

from course_lib.data.cache import cache_dir, load_arrays, save_arrays
from course_lib.data.locate import Located
from course_lib.data.splits import (
    DatasetSplits,
    Split,
    random_split,
    split_arrays,
    standardize,
    stratified_holdout,
)

_SKLEARN_LOADERS = {
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
}


def build(located: Located, *, seed: int = 0, **options: object) -> DatasetSplits:
    """Dispatch on the dataset name; see ``sklearn_splits`` and ``mnist1d_splits``."""
    if located.name == "mnist1d":
        return mnist1d_splits(seed=seed, **options)  # type: ignore[arg-type]
    return sklearn_splits(located.name, seed=seed, **options)  # type: ignore[arg-type]


def sklearn_splits(
    name: str,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    normalize: bool = True,
) -> DatasetSplits:
    """Random train / val / test splits of a bundled scikit-learn dataset.

    Args:
        name: ``"digits"``, ``"breast_cancer"`` or ``"diabetes"``.
        seed: seeds the split (stratified by class for the classification sets).
        val_fraction: share of all rows for validation.
        test_fraction: share of all rows for test.
        normalize: standardise each feature with the training split's mean and std (constant
            features, like digits' always-blank corner pixels, are only centred). Targets are
            never rescaled.

    Returns:
        Features float32 ``(N, F)``; labels int64, or float32 targets for ``diabetes``.
    """
    from sklearn import datasets

    bunch = getattr(datasets, _SKLEARN_LOADERS[name])()
    classification = name != "diabetes"
    x = torch.from_numpy(bunch.data.astype(np.float32))
    target = bunch.target.astype(np.int64 if classification else np.float32)
    y = torch.from_numpy(target)
    parts = random_split(
        len(y), (val_fraction, test_fraction), seed, target if classification else None
    )
    train, val, test = split_arrays(x, y, parts)
    meta: dict = {
        "task": "classification" if classification else "regression",
        "feature_names": [str(f) for f in getattr(bunch, "feature_names", [])],
        "normalized": normalize,
    }
    if classification:
        meta["class_names"] = [str(c) for c in bunch.target_names]
        meta["num_classes"] = len(meta["class_names"])
    if normalize:
        (xt, xv, xs), mean, std = standardize(train.x, val.x, test.x, dims=0)
        train, val, test = Split(xt, train.y), Split(xv, val.y), Split(xs, test.y)
        meta.update(mean=mean, std=std)
    return DatasetSplits(train, val, test, meta)


def _generate_mnist1d() -> dict[str, np.ndarray]:
    import mnist1d
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args(as_dict=True)
    args.pop("url", None)
    key_source = json.dumps({"args": args, "version": getattr(mnist1d, "__version__", "")})
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    path = cache_dir() / "mnist1d" / f"mnist1d-{key}.npz"
    cached = load_arrays(path)
    if cached is not None:
        return cached
    # make_dataset reseeds the global `random` and numpy generators: put them back afterwards
    # so that loading data never changes a user's random stream.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    arrays = {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test", "t")}
    save_arrays(path, arrays)
    return arrays


def mnist1d_splits(*, seed: int = 0, val_size: int = 400) -> DatasetSplits:
    """MNIST-1D's generated train / test sets, with a validation split held out of train.

    Args:
        seed: seeds the (stratified) validation hold-out only; the data are fixed.
        val_size: signals held out of the 4,000 training signals.

    Returns:
        Signals float32 ``(N, 40)``, labels int64. The generator already centred and scaled
        the signals (with statistics of all 5,000, its own choice); they are not rescaled.
        ``meta["t"]`` is the time axis, for plots.
    """
    data = _generate_mnist1d()
    y_train = data["y"].astype(np.int64)
    train_idx, val_idx = stratified_holdout(y_train, val_size, seed)
    x = torch.from_numpy(data["x"].astype(np.float32))
    train, val = split_arrays(x, torch.from_numpy(y_train), [train_idx, val_idx])
    test = Split(
        torch.from_numpy(data["x_test"].astype(np.float32)),
        torch.from_numpy(data["y_test"].astype(np.int64)),
    )
    meta = {
        "num_classes": 10,
        "class_names": [str(i) for i in range(10)],
        "t": torch.from_numpy(data["t"].astype(np.float32)),
        "normalized": True,
    }
    return DatasetSplits(train, val, test, meta)
