"""Time and peak-memory measurements against tensors of known size (8 bytes per float64)."""

from __future__ import annotations

import time

import pytest
import torch

from course_lib.optim.cost import Measurement, measure, peak_memory, time_call


def test_peak_is_the_largest_live_set_not_the_total_allocated():
    def work():
        a = torch.empty(100_000, dtype=torch.float64)  # 0.8 MB
        b = torch.ones(50_000, dtype=torch.float64)  # + 0.4 MB = 1.2 MB live
        del a  # 0.4 MB live
        c = torch.ones(200_000, dtype=torch.float64)  # + 1.6 MB = 2.0 MB live: the peak
        return b.sum() + c.sum()

    assert peak_memory(work) == pytest.approx(8 * 250_000, rel=1e-3)


def test_a_matrix_product_holds_its_output():
    a = torch.randn(300, 200, dtype=torch.float64)
    b = torch.randn(200, 400, dtype=torch.float64)
    assert peak_memory(lambda: a @ b) == pytest.approx(8 * 300 * 400, rel=1e-3)


def test_memory_already_alive_does_not_count():
    keep = torch.ones(1_000_000, dtype=torch.float64)
    assert peak_memory(lambda: keep.mul_(2)) < 1000  # in place: nothing new
    assert peak_memory(lambda: keep * 2) == pytest.approx(8e6, rel=1e-3)


def test_backward_pass_memory_is_seen():
    # The gradient of sum(W x) with respect to W is an outer product the size of W.
    w = torch.randn(500, 400, dtype=torch.float64, requires_grad=True)
    x = torch.randn(400, dtype=torch.float64)
    peak = peak_memory(lambda: torch.autograd.grad((w @ x).sum(), w))
    assert peak >= 8 * 500 * 400


def test_time_call_takes_the_fastest_run():
    calls = []

    def sleepy():
        calls.append(None)
        time.sleep(0.02 if len(calls) == 2 else 0.001)

    seconds = time_call(sleepy, repeats=3, warmup=1)
    assert len(calls) == 4
    assert 0.001 <= seconds < 0.015


def test_measure_returns_both():
    result = measure(lambda: torch.zeros(10_000, dtype=torch.float64), repeats=2)
    assert isinstance(result, Measurement)
    assert result.seconds > 0 and result.peak_bytes == pytest.approx(80_000, rel=1e-3)


def test_peak_memory_counts_a_known_allocation_on_every_device(device):
    # CPU: the profiler's memory events; CUDA (where present): the allocator's counters.
    peak = peak_memory(lambda: torch.ones(1 << 20, device=device), device=device)
    assert peak == pytest.approx(4 << 20, rel=1e-3)
