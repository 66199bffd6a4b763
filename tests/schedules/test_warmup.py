"""Warm-up schedules against Hugging Face's formulas (written out) and torch's schedulers."""

import math

import pytest
import torch

from course_lib import schedules as S
from tests.schedules.test_functions import assert_close, torch_lrs

T = torch.optim.lr_scheduler


def hf_linear(step, warmup, total):
    """transformers.get_linear_schedule_with_warmup's multiplier."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def hf_cosine(step, warmup, total):
    """transformers.get_cosine_schedule_with_warmup's multiplier (num_cycles = 0.5)."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))


@pytest.mark.parametrize("warmup", [1, 5, 20])
def test_hf_style_warmup_starts_at_zero(warmup):
    f = S.linear_warmup_schedule(0.1, warmup)
    assert f(0) == 0.0
    assert_close([f(t) for t in range(40)], [0.1 * min(t, warmup) / warmup for t in range(40)])


@pytest.mark.parametrize(("warmup", "start"), [(1, 0.5), (5, 1 / 3), (20, 0.01)])
def test_warmup_with_start_factor_matches_torch_linear_lr(warmup, start):
    f = S.linear_warmup_schedule(0.1, warmup, start_factor=start)
    assert_close(
        [f(t) for t in range(40)], torch_lrs(lambda o: T.LinearLR(o, start, 1.0, warmup), 39)
    )


def test_zero_warmup_is_constant():
    assert [S.linear_warmup_schedule(0.1, 0)(t) for t in range(3)] == [0.1] * 3


@pytest.mark.parametrize(("warmup", "total"), [(0, 10), (3, 10), (10, 100), (1, 2)])
def test_warmup_cosine_matches_hugging_face(warmup, total):
    f = S.warmup_cosine_schedule(0.1, warmup, total)
    assert_close(
        [f(t) for t in range(total + 1)],
        [0.1 * hf_cosine(t, warmup, total) for t in range(total + 1)],
        atol=1e-17,
    )
    # Hugging Face's cosine keeps going after total_steps and rises again; ours holds min_lr
    assert hf_cosine(total + 1, warmup, total) > 0.0
    assert f(total + 1) == 0.0


@pytest.mark.parametrize(
    ("warmup", "total", "min_lr", "start"),
    [(3, 10, 0.0, 0.1), (10, 100, 0.001, 1 / 3), (1, 2, 0.01, 0.5)],
)
def test_warmup_cosine_matches_torch_sequential_lr(warmup, total, min_lr, start):
    def make(o):
        return T.SequentialLR(
            o,
            [T.LinearLR(o, start, 1.0, warmup), T.CosineAnnealingLR(o, total - warmup, min_lr)],
            [warmup],
        )

    f = S.warmup_cosine_schedule(0.1, warmup, total, min_lr, start_factor=start)
    assert_close([f(t) for t in range(total + 1)], torch_lrs(make, total))
    assert f(total + 7) == min_lr  # held, where torch's cosine would rise again


@pytest.mark.parametrize(("warmup", "total"), [(0, 10), (3, 10), (10, 100)])
def test_warmup_linear_matches_hugging_face(warmup, total):
    f = S.warmup_linear_schedule(0.1, warmup, total)
    assert_close(
        [f(t) for t in range(total + 10)],
        [0.1 * hf_linear(t, warmup, total) for t in range(total + 10)],
        atol=1e-17,
    )
    g = S.warmup_linear_schedule(0.1, warmup, total, end_lr=0.02, start_factor=0.5)
    assert g(0) == (0.05 if warmup else 0.1)
    assert g(total) == pytest.approx(0.02, rel=1e-15) and g(total + 3) == g(total)


def test_nanogpt_get_lr_shape():
    # nanoGPT: peak at the end of warm-up, min_lr at lr_decay_iters, then min_lr
    f = S.warmup_cosine_schedule(6e-4, 2000, 600000, min_lr=6e-5)
    assert f(2000) == 6e-4
    assert f(301000) == pytest.approx((6e-4 + 6e-5) / 2, rel=1e-12)
    assert f(600000) == pytest.approx(6e-5, rel=1e-12) and f(700000) == 6e-5
