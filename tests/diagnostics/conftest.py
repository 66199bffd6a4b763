"""One intra-op thread for the diagnostics tests.

Their tensors are tiny, so threads only add synchronisation, and when several test processes
share a small machine a multi-threaded pool of tiny ops can run many times slower.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
