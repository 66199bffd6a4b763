"""Loss tests run single-threaded: their tensors are tiny, and on a shared 2-core machine
torch's intra-op threads only add synchronisation cost (several times slower under load)."""

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
