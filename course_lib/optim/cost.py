r"""Measuring what an optimizer's operations cost: wall time and peak tensor memory.

Two numbers per operation (a gradient, a Hessian-vector product, an optimizer step, ...):

* **time**: the fastest of a few calls after a warm-up call, with :func:`time.perf_counter`
  (on CUDA, after ``torch.cuda.synchronize``). The minimum, not the mean, because on a shared
  machine the other processes only ever add time.
* **peak memory**: the most bytes of tensor memory alive at once during one call, above what
  was alive when it started. On CUDA this is ``torch.cuda.max_memory_allocated``. On the CPU,
  torch keeps no such counter, so the call runs once under ``torch.profiler`` with
  ``profile_memory=True``: every operator reports the bytes it allocated net of what it freed,
  and every free outside an operator is an event of its own; their running sum, in time order,
  is the live memory, and its maximum is the peak. Scratch space an operator frees before it
  returns nets out, so the figure is the peak *between* operators: the tensors a program holds.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from course_lib.optim.validation import check_positive_int

__all__ = ["Measurement", "measure", "peak_memory", "time_call"]


@dataclass(frozen=True)
class Measurement:
    """The cost of one call.

    Attributes:
        seconds: the fastest wall time over the timed calls.
        peak_bytes: the most tensor bytes alive at once during a call, above the starting level.
    """

    seconds: float
    peak_bytes: int


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    # The profiler's C++ back end (Kineto) logs a line to file descriptor 2 when it starts and
    # stops; a notebook would show it as stderr. Silence the descriptor for those calls only.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], Any], repeats: int = 3, warmup: int = 1, device: str | torch.device = "cpu"
) -> float:
    """The fastest wall time of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls.

    Args:
        fn: the operation; its result is discarded.
        repeats: timed calls.
        warmup: untimed calls first (caches, lazy initialisation).
        device: the device ``fn`` runs on (CUDA work is synchronised before reading the clock).

    Returns:
        Seconds.
    """
    check_positive_int("repeats", repeats)
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory(fn: Callable[[], Any], device: str | torch.device = "cpu") -> int:
    """The peak tensor memory of one call of ``fn``, in bytes above the starting level.

    Args:
        fn: the operation. What it returns stays alive until the call ends (it counts).
        device: ``"cpu"`` (measured with the profiler) or a CUDA device (allocator counters).

    Returns:
        Bytes (0 if the call allocates nothing that outlives an operator).
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        del result
        return max(int(peak), 0)
    if device.type != "cpu":
        raise ValueError(f"peak_memory measures 'cpu' or CUDA devices, got {device}")
    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _quiet_stderr():
        prof.start()
    try:
        result = fn()
    finally:
        with _quiet_stderr():
            prof.stop()
    del result
    live = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        # "[memory]" events are frees (or allocations) outside any operator; an operator's
        # self figure excludes what its child operators report, so nothing counts twice.
        live += event.cpu_memory_usage if event.name == "[memory]" else event.self_cpu_memory_usage
        peak = max(peak, live)
    return int(peak)


def measure(
    fn: Callable[[], Any], repeats: int = 3, warmup: int = 1, device: str | torch.device = "cpu"
) -> Measurement:
    """Time (:func:`time_call`) and peak memory (:func:`peak_memory`) of ``fn``.

    The memory is taken on a separate call, after the timed ones, so that the profiler's
    overhead does not enter the time.
    """
    seconds = time_call(fn, repeats=repeats, warmup=warmup, device=device)
    return Measurement(seconds, peak_memory(fn, device=device))
