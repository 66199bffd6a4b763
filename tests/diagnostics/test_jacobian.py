"""Input Jacobians against torch.autograd.functional.jacobian, and a deep linear network."""

import itertools

import pytest
import torch
from torch import nn

from course_lib.diagnostics import input_jacobian, jacobian_singular_values
from tests.diagnostics.helpers import small_mlp


def per_example_reference(model, x):
    return torch.stack(
        [torch.autograd.functional.jacobian(lambda e: model(e[None])[0], e) for e in x]
    )


def test_mlp_jacobian_matches_autograd_functional():
    model = small_mlp(seed=1)
    x = torch.randn(5, 6, dtype=torch.float64)
    J = input_jacobian(model, x)
    assert J.shape == (5, 3, 6)
    torch.testing.assert_close(J, per_example_reference(model, x), rtol=1e-12, atol=1e-14)


def test_conv_block_jacobian_has_output_then_input_dimensions():
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 3)).double()
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    J = input_jacobian(block, x, chunk_size=1)
    assert J.shape == (2, 2, 3, 3, 2, 5, 5)
    torch.testing.assert_close(J, per_example_reference(block, x), rtol=1e-12, atol=1e-14)


def test_singular_values_match_svdvals():
    model = small_mlp(seed=2, sizes=(6, 10, 4))
    x = torch.randn(3, 6, dtype=torch.float64)
    sv = jacobian_singular_values(model, x)
    assert sv.shape == (3, 4)
    expected = torch.linalg.svdvals(per_example_reference(model, x))
    torch.testing.assert_close(sv, expected, rtol=1e-12, atol=1e-14)
    assert (sv[:, :-1] >= sv[:, 1:]).all()  # largest first


def test_deep_linear_network_jacobian_is_the_product_of_weights():
    torch.manual_seed(3)
    widths = [5, 7, 6, 4, 3]
    layers = [nn.Linear(a, b, bias=False) for a, b in itertools.pairwise(widths)]
    model = nn.Sequential(*layers).double()
    product = torch.eye(5, dtype=torch.float64)
    for layer in layers:
        product = layer.weight @ product  # W_L ... W_1
    x = torch.randn(4, 5, dtype=torch.float64)
    J = input_jacobian(model, x)
    for b in range(4):  # the same matrix for every input: the network is linear
        torch.testing.assert_close(J[b], product, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(
        jacobian_singular_values(model, x)[0], torch.linalg.svdvals(product), rtol=1e-12, atol=1e-14
    )


def test_examples_do_not_interact_in_eval_mode():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2)).double()
    model.eval()
    x = torch.randn(6, 3, dtype=torch.float64)
    torch.testing.assert_close(input_jacobian(model, x)[2], input_jacobian(model, x[2:3])[0])


def test_dropout_in_training_mode_is_refused():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).double().train()
    with pytest.raises(RuntimeError, match="randomness"):
        input_jacobian(model, torch.randn(2, 3, dtype=torch.float64))
