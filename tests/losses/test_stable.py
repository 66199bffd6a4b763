"""The stable building blocks the losses use (log-sigmoid and log-softmax come from
course_lib.numerics) against torch's own kernels, including at 0 and at +-1e4."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.losses._stable import log_sigmoid, log_softmax, safe_pow, safe_sqrt
from tests.losses.helpers import assert_same_value_and_grad, leaf

EDGES = [-1e4, -800.0, -40.0, -1.0, -1e-12, 0.0, 1e-12, 1.0, 40.0, 800.0, 1e4]


def test_log_sigmoid_matches_torch_including_gradient_at_zero():
    x = leaf(torch.cat([torch.tensor(EDGES), torch.randn(20, dtype=torch.float64)]))
    assert_same_value_and_grad(lambda: log_sigmoid(x), lambda: F.logsigmoid(x), [x])
    (g,) = torch.autograd.grad(log_sigmoid(x[5]), x)
    assert g[5].item() == 0.5


@pytest.mark.parametrize("dim", (0, 1, -1))
def test_log_softmax_matches_torch(dim):
    x = leaf(3 * torch.randn(4, 5, 3, dtype=torch.float64))
    x.data[0, 0, 0], x.data[1, 1, 1] = 1e4, -1e4
    assert_same_value_and_grad(lambda: log_softmax(x, dim), lambda: torch.log_softmax(x, dim), [x])


def test_log_softmax_of_an_all_minus_inf_slice_is_not_nan_shifted():
    x = torch.tensor([[-torch.inf, -torch.inf], [0.0, 1.0]])
    torch.testing.assert_close(log_softmax(x, 1), torch.log_softmax(x, 1), equal_nan=True)


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_safe_sqrt_and_safe_pow_have_finite_gradients_at_zero(dtype):
    s = torch.tensor([0.0, 0.25, 4.0], dtype=dtype, requires_grad=True)
    torch.testing.assert_close(safe_sqrt(s), torch.tensor([0.0, 0.5, 2.0], dtype=dtype))
    (g,) = torch.autograd.grad(safe_sqrt(s).sum(), s)
    torch.testing.assert_close(g, torch.tensor([0.0, 1.0, 0.25], dtype=dtype))
    # gamma = 0 is the constant 1 (0 ** 0 = 1: the focal loss becomes cross-entropy).
    torch.testing.assert_close(safe_pow(s, 0.0), torch.ones_like(s))
    # d/dq q^gamma at q = 0: 0 for gamma = 0.5 (subgradient instead of inf), 1 for gamma = 1.
    for gamma, slope_at_zero in ((0.5, 0.0), (1.0, 1.0), (2.0, 0.0)):
        (g,) = torch.autograd.grad(safe_pow(s, gamma).sum(), s)
        torch.testing.assert_close(safe_pow(s, gamma), s.detach() ** gamma)
        assert torch.isfinite(g).all() and g[0].item() == slope_at_zero
