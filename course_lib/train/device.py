"""Which device to train on: CUDA, then Apple's MPS, then the CPU, unless told otherwise.

The order of precedence is: an explicit ``device`` argument, then the ``COURSE_DEVICE``
environment variable (so a student can move every notebook of the course to the CPU with one
``export COURSE_DEVICE=cpu``), then the fastest device present. Asking for a device this
machine lacks is an error that lists the ones it has, rather than a silent fall back to the CPU:
a run that was meant to take minutes on a GPU should not quietly take hours.
"""

from __future__ import annotations

import os

import torch

__all__ = ["DEVICE_ENV_VAR", "available_devices", "choose_device"]

DEVICE_ENV_VAR = "COURSE_DEVICE"
_SUPPORTED_TYPES = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """The devices this machine can train on, fastest kind first.

    Returns:
        ``"cuda:0"``, ``"cuda:1"``... for each CUDA device, then ``"mps"`` if Apple's Metal
        backend is usable, and always ``"cpu"`` last.
    """
    devices: list[str] = []
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def _is_available(device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        return device.index is None or device.index < torch.cuda.device_count()
    if device.type == "mps":
        return _mps_available() and device.index in (None, 0)
    return False


def choose_device(device: str | torch.device | None = None) -> torch.device:
    """Pick the device to train on.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a ``torch.device``. ``None``
            reads the ``COURSE_DEVICE`` environment variable, and if that is unset or empty
            takes the first of CUDA, MPS, CPU that is present.

    Returns:
        The device, e.g. ``torch.device("cuda")``.

    Raises:
        ValueError: if the device is not a name torch understands, not one of the kinds
            supported here (CPU, CUDA, MPS), or not present on this machine. The message
            lists the devices that are.

    Example:
        >>> choose_device("cpu")
        device(type='cpu')
    """
    source = "argument"
    if device is None:
        device = os.environ.get(DEVICE_ENV_VAR, "").strip() or None
        source = f"environment variable {DEVICE_ENV_VAR}"
    if device is None:
        return torch.device(available_devices()[0].split(":")[0])
    available = ", ".join(available_devices())
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"Unknown device {device!r} (from the {source}); available here: {available}"
        ) from err
    if chosen.type not in _SUPPORTED_TYPES:
        raise ValueError(
            f"Device type {chosen.type!r} (from the {source}) is not supported for training; "
            f"use one of {', '.join(_SUPPORTED_TYPES)}. Available here: {available}"
        )
    if not _is_available(chosen):
        raise ValueError(
            f"Device {str(chosen)!r} (from the {source}) is not available on this machine; "
            f"available here: {available}"
        )
    return chosen
