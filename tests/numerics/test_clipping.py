"""Gradient clipping against torch.nn.utils: same gradients after, same return values."""

import copy
import itertools

import pytest
import torch

from course_lib.numerics import clip_grad_norm_, clip_grad_value_


def _params_with_grads(scale, device, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    params = []
    for s in shapes:
        p = torch.randn(s, generator=gen, dtype=dtype).to(device).requires_grad_(True)
        p.grad = (torch.randn(s, generator=gen, dtype=dtype) * scale).to(device)
        params.append(p)
    frozen = torch.zeros(2, dtype=dtype, device=device, requires_grad=True)  # grad stays None
    return [*params, frozen]


@pytest.mark.parametrize(
    ("max_norm", "norm_type", "scale"),
    list(itertools.product([0.1, 1.0, 1e3], [1.0, 2.0, 3.5, float("inf")], [1e-3, 1.0, 1e2])),
)
def test_clip_grad_norm_matches_torch(max_norm, norm_type, scale, device):
    ours = _params_with_grads(scale, device)
    ref = copy.deepcopy(ours)
    total_ours = clip_grad_norm_(ours, max_norm, norm_type)
    total_ref = torch.nn.utils.clip_grad_norm_(ref, max_norm, norm_type)
    torch.testing.assert_close(total_ours, total_ref, rtol=1e-12, atol=0)
    for a, b in zip(ours, ref, strict=True):
        if b.grad is None:
            assert a.grad is None
        else:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=0)


def test_clip_grad_norm_keeps_direction_and_reaches_the_bound():
    params = _params_with_grads(10.0, "cpu")
    before = torch.cat([p.grad.flatten() for p in params if p.grad is not None])
    clip_grad_norm_(params, 1.0)
    after = torch.cat([p.grad.flatten() for p in params if p.grad is not None])
    cos = torch.dot(before, after) / (before.norm() * after.norm())
    assert cos.item() == pytest.approx(1.0, abs=1e-12)
    assert after.norm().item() == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_single_tensor_no_grads_and_nonfinite():
    p = torch.ones(3, requires_grad=True)
    assert clip_grad_norm_(p, 1.0).item() == 0.0  # no grad at all: torch returns 0
    p.grad = torch.tensor([float("inf"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("clip", [1e-3, 0.5, 1e3])
def test_clip_grad_value_matches_torch_and_changes_direction(clip, device):
    ours = _params_with_grads(1.0, device)
    ref = copy.deepcopy(ours)
    assert clip_grad_value_(ours, clip) is None
    assert torch.nn.utils.clip_grad_value_(ref, clip) is None
    for a, b in zip(ours, ref, strict=True):
        if b.grad is not None:
            assert torch.equal(a.grad, b.grad)
    g = torch.tensor([3.0, 0.1])
    p = torch.zeros(2, requires_grad=True)
    p.grad = g.clone()
    clip_grad_value_(p, 1.0)
    cos = torch.dot(g, p.grad) / (g.norm() * p.grad.norm())
    assert cos.item() < 0.999  # the direction changed, unlike clipping by norm
