"""Run the model tests on one CPU thread.

The networks here are tiny (batches of 3 to 16) and gain nothing from a second thread, while
other test runs on the same machine make OpenMP's spinning threads wait on each other: with
two threads and a busy machine, one ResNet step took 4 s instead of 0.1 s.
"""

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Set torch's intra-op threads to 1 for the test, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
