"""Stable reductions match torch's in value and gradient; the naive forms fail where expected."""

import itertools

import pytest
import torch

from course_lib import numerics as nm

SHAPES = [(7,), (3, 5), (2, 3, 4)]


def _x(shape, scale, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=gen, dtype=torch.float64) * scale).requires_grad_(True)


PAIRS = [
    (nm.logsumexp, lambda x, dim: torch.logsumexp(x, dim=dim)),
    (nm.softmax, lambda x, dim: torch.softmax(x, dim=dim)),
    (nm.log_softmax, lambda x, dim: torch.log_softmax(x, dim=dim)),
]


@pytest.mark.parametrize(
    ("pair", "shape", "scale"), list(itertools.product(PAIRS, SHAPES, [1.0, 50.0, 1e4]))
)
def test_stable_reductions_match_torch_values_and_gradients(pair, shape, scale):
    ours, ref = pair
    for dim in range(-len(shape), len(shape)):
        x = _x(shape, scale)
        a, b = ours(x, dim=dim), ref(x, dim=dim)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        w = torch.randn(a.shape, dtype=torch.float64)
        (ga,) = torch.autograd.grad((a * w).sum(), x)
        (gb,) = torch.autograd.grad((b * w).sum(), x)
        torch.testing.assert_close(ga, gb, rtol=1e-10, atol=1e-12)


def test_logsumexp_keepdim_and_infinities():
    x = torch.tensor([[-float("inf")] * 3, [0.0, float("inf"), 1.0], [1.0, 2.0, 3.0]])
    torch.testing.assert_close(nm.logsumexp(x, dim=1), torch.logsumexp(x, dim=1))
    assert nm.logsumexp(x, dim=1, keepdim=True).shape == (3, 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_naive_logsumexp_overflows_where_the_stable_one_does_not(dtype):
    x = torch.tensor([1000.0, 1000.0], dtype=dtype)
    assert torch.isinf(nm.logsumexp_naive(x))
    expected = 1000.0 + torch.log(torch.tensor(2.0, dtype=torch.float64))
    assert abs(nm.logsumexp(x).item() - expected.item()) < 1e-3
    assert torch.isnan(nm.softmax_naive(x)).all()
    torch.testing.assert_close(nm.softmax(x), torch.full_like(x, 0.5))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_log_sigmoid_matches_torch_everywhere_and_naive_underflows(dtype):
    x = torch.linspace(-1e4, 1e4, 2001, dtype=dtype).requires_grad_(True)
    ours, ref = nm.log_sigmoid(x), torch.nn.functional.logsigmoid(x)
    torch.testing.assert_close(ours, ref)
    (g1,) = torch.autograd.grad(ours.sum(), x)
    (g2,) = torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(g1, g2)
    assert torch.isinf(nm.log_sigmoid_naive(torch.tensor(-1e4, dtype=dtype)))


def test_log1p_naive_loses_small_arguments():
    x = torch.tensor(1e-18, dtype=torch.float64)
    assert nm.log1p_naive(x).item() == 0.0
    assert torch.log1p(x).item() == pytest.approx(1e-18, rel=1e-12)


def test_naive_variance_cancels_and_two_pass_matches_torch():
    gen = torch.Generator().manual_seed(0)
    x = 1e8 + torch.randn(10_000, generator=gen, dtype=torch.float32)
    ref = torch.var(x.double(), correction=0).item()  # about 1
    assert abs(nm.variance_two_pass(x.double()).item() - ref) < 1e-9
    # float32 keeps ~7 digits: E[x^2] ~ 1e16 leaves nothing of a variance of 1.
    assert abs(nm.variance_naive(x).item() - ref) > 0.5
    y = torch.randn(4, 6, dtype=torch.float64)
    torch.testing.assert_close(nm.variance_two_pass(y, dim=0), torch.var(y, dim=0, correction=0))


def test_log_softmax_keeps_float32_digits_at_large_logits():
    # x - logsumexp(x) would cancel two numbers near 1000 and lose ~1e-5; the max-shifted form
    # agrees with torch to float32 rounding.
    logits = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]])
    assert torch.allclose(
        nm.log_softmax(logits), torch.log_softmax(logits, dim=-1), atol=1e-6, rtol=0
    )
