"""Device choice: precedence, availability, and errors that list what is available."""

import pytest
import torch

from course_lib.train import available_devices, choose_device, fit
from course_lib.train.device import DEVICE_ENV_VAR

from .tiny import linear, regression_data, sgd


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEVICE_ENV_VAR, raising=False)


def test_cpu_is_always_available() -> None:
    assert available_devices()[-1] == "cpu"
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_cuda_is_an_error_listing_the_available_devices() -> None:
    with pytest.raises(ValueError, match=r"'cuda' \(from the argument\).*available here: .*cpu"):
        choose_device("cuda")
    with pytest.raises(ValueError, match="not available"):
        fit(
            linear(),
            regression_data(),
            loss_fn=torch.nn.functional.mse_loss,
            optimizer=sgd(),
            device="cuda",
            progress=False,
        )


def test_cuda_index_beyond_the_device_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert choose_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match=r"cuda:3.*available here: cuda:0"):
        choose_device("cuda:3")


@pytest.mark.parametrize("name", ["tpu", "gpu0", "", "cuda:x"])
def test_unknown_names(name: str) -> None:
    with pytest.raises(ValueError, match="available here"):
        choose_device(name)


def test_unsupported_type() -> None:
    with pytest.raises(ValueError, match="not supported"):
        choose_device("meta")


def test_preference_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert choose_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert choose_device() == torch.device("cuda")
    assert available_devices() == ["cuda:0", "cuda:1", "mps", "cpu"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert choose_device() == torch.device("cpu")


def test_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv(DEVICE_ENV_VAR, "cpu")
    assert choose_device() == torch.device("cpu")
    # An explicit argument wins over the environment.
    assert choose_device("cuda") == torch.device("cuda")
    monkeypatch.setenv(DEVICE_ENV_VAR, "warp-drive")
    with pytest.raises(ValueError, match=f"environment variable {DEVICE_ENV_VAR}"):
        choose_device()
