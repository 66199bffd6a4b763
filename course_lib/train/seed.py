"""Seeds, deterministic algorithms and the random number generators' state.

Seeding makes the *random numbers* repeatable (initialisation, dropout masks, shuffling);
deterministic mode makes the *arithmetic* repeatable too: on a GPU, some kernels (cuDNN's
autotuned convolutions, atomics-based reductions, cuBLAS with several workspaces) may sum in a
different order on every run, so two runs from the same seed drift apart in the last bits and
then further. The CPU kernels torch uses are deterministic already; the flags matter on CUDA.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

__all__ = [
    "CUBLAS_WORKSPACE_CONFIG",
    "deterministic_mode",
    "get_rng_states",
    "seed_everything",
    "set_rng_states",
]

# cuBLAS is deterministic only with a fixed workspace; this is the setting torch's
# reproducibility notes recommend (":16:8" also works, with less memory and less speed).
CUBLAS_WORKSPACE_CONFIG = ":4096:8"


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU).

    Call it before building the model, so that the initial weights are repeatable too:
    :func:`course_lib.train.fit` seeds again when it starts, which covers dropout but not
    a model that already exists.

    Args:
        seed: a non-negative integer below ``2**32`` (NumPy's limit).

    Returns:
        The seed, for logging.

    Raises:
        ValueError: if the seed is negative or too large.
    """
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device (and MPS)
    return seed


@contextmanager
def deterministic_mode(enabled: bool = True) -> Iterator[None]:
    """Run a block with deterministic algorithms on, then restore the previous settings.

    Inside the block: ``torch.use_deterministic_algorithms(True)`` (an op that has no
    deterministic implementation raises and names itself, rather than silently varying),
    ``cudnn.deterministic = True`` and ``cudnn.benchmark = False`` (autotuning may pick a
    different kernel on each run). ``CUBLAS_WORKSPACE_CONFIG`` is set if it was unset; it is
    left set afterwards, because cuBLAS reads it when its handle is created, which may be
    inside the block, and changing it later has no effect.

    Args:
        enabled: ``False`` makes this a no-op, which keeps call sites free of branches.
    """
    if not enabled:
        yield
        return
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        algorithms, warn_only, cudnn_deterministic, cudnn_benchmark = previous
        torch.use_deterministic_algorithms(algorithms, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_deterministic
        torch.backends.cudnn.benchmark = cudnn_benchmark


def get_rng_states() -> dict[str, Any]:
    """Snapshot every global random number generator, for an exact resume.

    Returns:
        A dict of tensors and plain Python values only, so that ``torch.load`` can read it
        back with ``weights_only=True`` (no arbitrary unpickling).
    """
    np_state = np.random.get_state(legacy=False)
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        states["mps"] = torch.mps.get_rng_state()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore generators saved by :func:`get_rng_states`.

    A CUDA or MPS state is restored only where that device is present (a checkpoint written
    on a GPU machine still loads on a laptop, without an exact resume of GPU randomness).

    Args:
        states: the dict :func:`get_rng_states` returned.
    """
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = states["numpy"]
    np.random.set_state(
        {
            "bit_generator": np_state["bit_generator"],
            "state": {
                "key": np_state["key"].numpy().astype(np.uint32),
                "pos": np_state["pos"],
            },
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        cuda_states = states["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda_states)
    if "mps" in states and torch.backends.mps.is_available():
        torch.mps.set_rng_state(states["mps"])
