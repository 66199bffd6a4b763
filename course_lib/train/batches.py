"""Mini-batches: a shuffled order that depends only on ``(seed, epoch)``, and fast slicing.

In-memory datasets (anything with tensor attributes ``.x`` and ``.y``, such as
``course_lib.data.Split``, or a two-tensor ``TensorDataset``) are batched by indexing the whole
tensors with a slice of the permutation: one gather per batch. A ``DataLoader`` would instead
fetch every sample on its own and stack them again (per-item collation), which on the CPU
costs more than the forward pass of a small model. Any other map-style dataset goes through a
``DataLoader`` with ``num_workers=0``, following the same order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset

__all__ = ["dataset_tensors", "epoch_permutation", "iterate_batches", "num_batches"]


def epoch_permutation(n: int, seed: int, epoch: int) -> Tensor:
    """The order in which epoch ``epoch`` of a run seeded ``seed`` visits ``n`` samples.

    The order depends on ``(seed, epoch)`` only, not on what ran before, which is what lets a
    resumed run replay the same batches without saving a generator. NumPy's ``SeedSequence``
    mixes the pair into a generator seed, so that neighbouring seeds and epochs give unrelated
    orders (``seed + epoch`` would make run 1's epoch 0 equal run 0's epoch 1).

    Args:
        n: the number of samples.
        seed: the run's seed (``>= 0``).
        epoch: the epoch (``>= 0``).

    Returns:
        A CPU ``int64`` tensor holding a permutation of ``0 .. n-1``.
    """
    if seed < 0 or epoch < 0:
        raise ValueError(f"seed and epoch must be >= 0, got seed={seed}, epoch={epoch}")
    state = np.random.SeedSequence([int(seed), int(epoch)]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator().manual_seed((int(state[0]) << 31) ^ int(state[1]))
    return torch.randperm(n, generator=generator)


def dataset_tensors(dataset: Dataset) -> tuple[Tensor, Tensor] | None:
    """The ``(x, y)`` tensors behind an in-memory dataset, or ``None`` for any other dataset."""
    if isinstance(dataset, TensorDataset):
        return (dataset.tensors[0], dataset.tensors[1]) if len(dataset.tensors) == 2 else None
    x, y = getattr(dataset, "x", None), getattr(dataset, "y", None)
    if isinstance(x, Tensor) and isinstance(y, Tensor) and len(x) == len(y) == len(dataset):
        return x, y
    return None


def num_batches(n: int, batch_size: int) -> int:
    """Batches per epoch; the last one may be smaller (nothing is dropped)."""
    return math.ceil(n / batch_size)


def iterate_batches(
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    order: Tensor | None = None,
    tensors: tuple[Tensor, Tensor] | None = None,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield ``(x, y)`` batches on ``device``.

    Args:
        dataset: a map-style dataset of ``(x, y)`` pairs.
        batch_size: samples per batch.
        device: where the batches go.
        order: the sample order (e.g. :func:`epoch_permutation`); ``None`` keeps the
            dataset's order.
        tensors: the dataset's tensors already on ``device`` (from :func:`dataset_tensors`),
            to take the fast path; ``None`` uses a ``DataLoader``.
    """
    n = len(dataset)
    if tensors is not None:
        x, y = tensors
        if order is None:
            for start in range(0, n, batch_size):  # contiguous slices are views: no copy
                yield x[start : start + batch_size], y[start : start + batch_size]
            return
        order = order.to(x.device)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            yield x[index], y[index]
        return
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=None if order is None else order.tolist(),
        num_workers=0,
        pin_memory=device.type == "cuda",
    )
    for xb, yb in loader:
        yield xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
