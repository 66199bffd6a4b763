"""Batch order: a permutation that depends only on (seed, epoch); both batching paths agree."""

import pytest
import torch

from course_lib.train import epoch_permutation
from course_lib.train.batches import dataset_tensors, iterate_batches

from .tiny import ItemDataset, XYDataset, regression_data


def test_permutation_depends_only_on_seed_and_epoch() -> None:
    a = epoch_permutation(50, 3, 2)
    torch.manual_seed(123)  # the global generator must not matter
    assert torch.equal(a, epoch_permutation(50, 3, 2))
    assert torch.equal(a.sort().values, torch.arange(50))
    assert not torch.equal(a, epoch_permutation(50, 3, 1))
    assert not torch.equal(a, epoch_permutation(50, 4, 2))
    # seed + epoch is not what matters (run 1 epoch 0 differs from run 0 epoch 1).
    assert not torch.equal(epoch_permutation(50, 1, 0), epoch_permutation(50, 0, 1))
    with pytest.raises(ValueError):
        epoch_permutation(5, -1, 0)


def test_dataset_tensors() -> None:
    data = regression_data(10)
    assert dataset_tensors(data) is not None
    xy = XYDataset(*data.tensors)
    assert dataset_tensors(xy)[0] is xy.x
    assert dataset_tensors(ItemDataset(*data.tensors)) is None


@pytest.mark.parametrize("shuffle", [False, True])
def test_fast_path_and_dataloader_agree(shuffle: bool) -> None:
    data = regression_data(23)
    order = epoch_permutation(23, 0, 0) if shuffle else None
    cpu = torch.device("cpu")
    fast = list(iterate_batches(data, 5, cpu, order, dataset_tensors(data)))
    slow = list(iterate_batches(ItemDataset(*data.tensors), 5, cpu, order))
    assert [len(x) for x, _ in fast] == [5, 5, 5, 5, 3]
    for (xa, ya), (xb, yb) in zip(fast, slow, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
