"""Fashion-MNIST: 28x28 grey images of clothing, 10 classes, 60,000 train and 10,000 test.

Source: Zalando Research, https://github.com/zalandoresearch/fashion-mnist (MIT licence);
Xiao, Rasul & Vollgraf (2017), "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine
Learning Algorithms", arXiv:1708.07747. The four IDX files are read as published (gzip or not);
Debian's ``dataset-fashion-mnist`` package ships the same content recompressed.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np
import torch

from course_lib.data.locate import Located
from course_lib.data.splits import DatasetSplits, Split, pixels_to_float, stratified_holdout

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# IDX type codes -> numpy dtypes (big-endian, as the format stores them).
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format), gzip-compressed or not.

    The header is two zero bytes, a type code, the number of dimensions, then each dimension
    as a big-endian uint32; the data follow in C order. The array is read-only; repeated reads
    of an unchanged file in one process share it (decompressing is most of a load's time).
    """
    stat = Path(path).stat()
    return _read_idx(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_idx(path: str, size: int, mtime_ns: int) -> np.ndarray:
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzip: one call decompresses faster than a stream
        data = gzip.decompress(data)
    zero, type_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (header {data[:4].hex()})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=_IDX_TYPES[type_code], offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {array.size} values")
    return array.reshape(shape)


def build(
    located: Located,
    *,
    seed: int = 0,
    val_size: int = 5000,
    subset: int | None = None,
    normalize: bool = True,
) -> DatasetSplits:
    """Build the splits from the four IDX files.

    Args:
        located: the files (keys ``train_images``, ``train_labels``, ``test_images``,
            ``test_labels``).
        seed: seeds the validation hold-out and the subset.
        val_size: images held out of the official training set for validation, the same share
            of every class (0 for none).
        subset: if given, keep only this many training images (class proportions kept), for
            quick runs; validation and test are not reduced.
        normalize: scale pixels to [0, 1], then subtract the training split's pixel mean and
            divide by its std (one scalar each; both in ``meta``). Without it pixels are in
            [0, 1].

    Returns:
        Images ``(N, 1, 28, 28)`` float32, labels int64; test is the official test set.
    """
    f = located.files
    x_train, y_train = read_idx(f["train_images"]), read_idx(f["train_labels"])
    x_test, y_test = read_idx(f["test_images"]), read_idx(f["test_labels"])
    train_idx, val_idx = stratified_holdout(y_train, val_size, seed)
    if subset is not None:
        # A different stream from the hold-out's, so subset and val choices are independent.
        keep = stratified_holdout(y_train[train_idx], subset, seed + 1)[1]
        train_idx = train_idx[keep]

    xs, mean, std = pixels_to_float(
        x_train[train_idx], x_train[val_idx], x_test, normalize=normalize
    )
    ys = [torch.from_numpy(a.astype(np.int64)) for a in (y_train[train_idx], y_train[val_idx])]
    ys.append(torch.from_numpy(y_test.astype(np.int64)))
    meta = {
        "num_classes": 10,
        "class_names": list(CLASS_NAMES),
        "normalized": normalize,
        # Rows of the official training set in each split (test is the official test set).
        "indices": {"train": train_idx, "val": val_idx},
    }
    # The training split's pixel statistics (on the [0, 1] scale), used or not.
    meta.update(mean=mean, std=std)
    train, val, test = (Split(x, y) for x, y in zip(xs, ys, strict=True))
    return DatasetSplits(train, val, test, meta)
