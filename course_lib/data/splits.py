"""Splits as plain tensors, and the deterministic index arithmetic that makes them.

Every random choice here draws from ``numpy.random.default_rng(seed)``, whose stream is the same
on every platform and numpy version that has it, so a seed names one split everywhere. Nothing
touches global random state. Statistics for normalisation come from the training split only:
using the validation or test data to scale inputs leaks information about them into training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class Split:
    """A labelled tensor dataset: ``len(split)``, ``split[i] -> (x_i, y_i)``, ``.x``, ``.y``.

    Works directly as a ``torch.utils.data.Dataset``; for speed, index the tensors in batches
    (``split.x[idx]``) instead of going through a DataLoader one item at a time.

    Attributes:
        x: features, float32 (images ``(N, 1, 28, 28)``, tabular ``(N, F)``), or int64 token
            ids ``(N, max_len)``.
        y: int64 class ids, or float32 regression targets, shape ``(N,)``.
    """

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(f"x has {self.x.shape[0]} rows but y has {self.y.shape[0]}")

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]

    def to(self, device: torch.device | str) -> Split:
        """The same split with both tensors on ``device``."""
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True, eq=False)
class DatasetSplits:
    """Train, validation and test splits of one dataset, with what is known about them.

    Attributes:
        train: the split to fit on (and the only one statistics are computed from).
        val: held out from the official training data, for tuning.
        test: the official test split where there is one.
        meta: e.g. ``num_classes``, ``class_names``, ``feature_names``, ``vocab``, the
            ``mean``/``std`` used to normalise, ``source`` (paths), ``variant``, ``notes``.
    """

    train: Split
    val: Split
    test: Split
    meta: dict[str, Any] = field(default_factory=dict)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over classes in proportion to ``counts`` (largest remainder, exact sum)."""
    if total == 0:
        return np.zeros_like(counts)
    quota = counts * (total / counts.sum())
    alloc = np.floor(quota).astype(np.int64)
    # Ties in the remainder go to the lower class id: deterministic without randomness.
    order = np.lexsort((np.arange(len(counts)), -(quota - alloc)))
    alloc[order[: total - alloc.sum()]] += 1
    return np.minimum(alloc, counts)


def stratified_holdout(labels: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``size`` indices with each class in proportion to its share, and the rest.

    Args:
        labels: class ids, shape ``(N,)``.
        size: how many to hold out (``0 <= size <= N``).
        seed: the seed of the random choice within each class.

    Returns:
        ``(kept, held_out)``: sorted index arrays that partition ``range(N)``.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if not 0 <= size <= n:
        raise ValueError(f"cannot hold out {size} of {n} examples")
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    rng = _rng(seed)
    held = []
    for c, take in enumerate(_allocate(counts, size)):
        members = np.flatnonzero(inverse == c)
        held.append(rng.permutation(members)[:take])
    held_out = np.sort(np.concatenate(held)) if held else np.array([], dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    mask[held_out] = False
    return np.flatnonzero(mask), held_out


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a class-balanced-as-the-data random subset of ``size`` examples."""
    return stratified_holdout(labels, size, seed)[1]


def random_split(
    n: int, fractions: Sequence[float], seed: int, labels: np.ndarray | None = None
) -> list[np.ndarray]:
    """Split ``range(n)`` into a first part and one part per fraction, at random by ``seed``.

    Args:
        n: number of examples.
        fractions: the share of each held-out part (e.g. ``(0.1, 0.2)`` for val and test);
            the first part returned (train) gets the rest.
        seed: the seed.
        labels: if given, every part keeps the class proportions (stratified).

    Returns:
        ``[train, part_1, part_2, ...]``, each a sorted index array.
    """
    if any(f < 0 for f in fractions) or sum(fractions) >= 1:
        raise ValueError(f"fractions must be >= 0 and sum to < 1, got {tuple(fractions)}")
    sizes = [round(f * n) for f in fractions]
    if labels is None:
        perm = _rng(seed).permutation(n)
        bounds = np.cumsum([0, *sizes])
        parts = [np.sort(perm[a:b]) for a, b in pairwise(bounds)]
        return [np.sort(perm[bounds[-1] :]), *parts]
    remaining = np.arange(n)
    parts = []
    for i, size in enumerate(sizes):
        kept, held = stratified_holdout(np.asarray(labels)[remaining], size, seed + 7919 * i)
        parts.append(remaining[held])
        remaining = remaining[kept]
    return [remaining, *parts]


def standardize(
    train: torch.Tensor, *others: torch.Tensor, dims: int | tuple[int, ...] | None = 0
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """Centre and scale tensors with the mean and standard deviation of ``train`` only.

    Args:
        train: the training tensor the statistics come from.
        *others: tensors (validation, test) scaled with the same statistics.
        dims: dimensions reduced over: ``0`` gives per-feature statistics for tabular data,
            ``None`` one scalar (images).

    Returns:
        ``([train, *others] standardised, mean, std)``, with the population (biased) std;
        per-feature statistics have shape ``(F,)``. A feature that is constant in train
        gets std 1 (it is then only centred), so no division by zero.
    """
    if dims is None:
        mean, std = train.mean(), train.std(correction=0)
    else:
        mean = train.mean(dim=dims, keepdim=True)
        std = train.std(dim=dims, keepdim=True, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    scaled = [(t - mean) / std for t in (train, *others)]
    return scaled, mean.squeeze(0) if dims == 0 else mean, std.squeeze(0) if dims == 0 else std


def pixels_to_float(
    train: np.ndarray, *others: np.ndarray, normalize: bool
) -> tuple[list[torch.Tensor], float, float]:
    """uint8 images ``(N, H, W)`` to float32 ``(N, 1, H, W)``: in [0, 1], or standardised.

    The statistics are those of ``train`` scaled to [0, 1] (population std), computed exactly
    from its 256-bin histogram; the conversion is one table lookup per pixel, several times
    faster than converting, then subtracting, then dividing 55,000 images.

    Returns:
        ``([train, *others] as float tensors, mean, std)``.
    """
    flat = train.reshape(-1)
    # Chunked: bincount casts to int64, and 47M pixels at once would need a 370 MB temporary.
    chunks = range(0, flat.size, 1 << 22)
    hist = sum((np.bincount(flat[i : i + (1 << 22)], minlength=256) for i in chunks), np.zeros(256))
    values = np.arange(256) / 255.0
    count = max(hist.sum(), 1.0)
    mean = float((hist * values).sum() / count)
    std = float(np.sqrt((hist * (values - mean) ** 2).sum() / count))
    table = (values - mean) / (std if std > 0 else 1.0) if normalize else values
    table = table.astype(np.float32)
    return [torch.from_numpy(table[a]).unsqueeze(1) for a in (train, *others)], mean, std


def split_arrays(x: torch.Tensor, y: torch.Tensor, parts: Sequence[np.ndarray]) -> list[Split]:
    """One ``Split`` per index array."""
    return [Split(x[torch.as_tensor(idx)], y[torch.as_tensor(idx)]) for idx in parts]
