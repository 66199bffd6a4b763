"""Shared pytest fixtures: the devices to run on (CUDA only where one is present)."""

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    """Every device the machine has: tests using it run on CPU, and on CUDA when present."""
    return request.param
