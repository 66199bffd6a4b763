"""Filter-normalised directions and loss landscapes; the model's weights always come back."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.diagnostics import (
    direction_between,
    direction_from_flat,
    functional_loss,
    hessian_eigenpairs,
    hvp,
    loss_landscape_1d,
    loss_landscape_2d,
    random_filter_normalized_direction,
)


def conv_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 3),
    ).double()


def batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 1, 6, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (8,), generator=gen)
    return x, y


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same_state(model, state):
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_filter_normalized_direction_matches_each_filter_norm():
    model = conv_net()
    d = random_filter_normalized_direction(model, seed=0)
    assert set(d) == {n for n, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        assert d[name].shape == p.shape and d[name].dtype == p.dtype
        if p.dim() <= 1:  # biases and batch-norm scale/shift: ignored, as in Li et al.
            assert torch.equal(d[name], torch.zeros_like(p))
        else:  # one filter per output channel / neuron
            torch.testing.assert_close(
                d[name].flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1), rtol=1e-9, atol=0
            )
            assert not torch.allclose(d[name], p)  # a random direction, not the weights


def test_direction_seeds_and_the_keep_option():
    model = conv_net()
    a = random_filter_normalized_direction(model, seed=3)
    b = random_filter_normalized_direction(model, seed=3)
    c = random_filter_normalized_direction(model, seed=4)
    kept = random_filter_normalized_direction(model, seed=3, ignore_1d=False)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["0.weight"], c["0.weight"])
    assert torch.equal(kept["0.weight"], a["0.weight"])  # the draws do not depend on the option
    assert torch.equal(kept["1.weight"], model[1].weight.detach())  # the paper code's copy


def test_1d_landscape_at_zero_is_the_loss_and_weights_are_restored():
    model = conv_net().train()  # training mode: batch norm would update its running stats
    x, y = batch()
    state = snapshot(model)

    def loss_of(m):
        return F.cross_entropy(m(x), y)

    expected = loss_of(model).item()
    model.load_state_dict(state)  # undo the running-stat update of that call
    result = loss_landscape_1d(model, loss_of, alphas=np.linspace(-1, 1, 11))
    assert result.losses.shape == (11,)
    assert result.losses[5] == pytest.approx(expected, rel=1e-12)  # alpha = 0
    assert_same_state(model, state)
    assert np.ptp(result.losses) > 0


def test_weights_are_restored_when_the_loss_raises():
    model = conv_net()
    state = snapshot(model)
    calls = []

    def failing(m):
        calls.append(1)
        if len(calls) == 3:
            raise FloatingPointError("diverged")
        return m(batch()[0]).sum()

    with pytest.raises(FloatingPointError):
        loss_landscape_1d(model, failing, alphas=[0.5, 1.0, 2.0, 3.0])
    assert_same_state(model, state)


def test_landscape_of_a_quadratic_model_is_the_parabola_of_its_taylor_expansion():
    # The loss is quadratic in the weights, so along any direction d
    # L(W + a d) = L(W) + a <grad, d> + a^2/2 <d, H d>, exactly.
    torch.manual_seed(0)
    model = nn.Linear(5, 3, bias=False).double()
    x = torch.randn(20, 5, dtype=torch.float64)
    y = torch.randn(20, 3, dtype=torch.float64)

    def loss_of(m):
        return ((m(x) - y) ** 2).mean()

    d = random_filter_normalized_direction(model, seed=1)
    alphas = np.linspace(-2, 2, 21)
    result = loss_landscape_1d(model, loss_of, d, alphas)
    c2, c1, c0 = np.polyfit(alphas, result.losses, 2)
    residual = result.losses - np.polyval([c2, c1, c0], alphas)
    assert np.abs(residual).max() < 1e-10

    loss_fn, params = functional_loss(model, loss_of)
    w = params[0].clone().requires_grad_()
    (grad,) = torch.autograd.grad(loss_fn(w), w)
    (Hd,) = hvp(loss_fn, params, (d["weight"],))
    assert c0 == pytest.approx(loss_of(model).item(), rel=1e-10)
    assert c1 == pytest.approx((grad * d["weight"]).sum().item(), rel=1e-8)
    assert c2 == pytest.approx(0.5 * (d["weight"] * Hd).sum().item(), rel=1e-8)


def test_2d_landscape_grid_layout_and_restoration():
    model = conv_net().eval()
    x, y = batch(1)
    state = snapshot(model)

    def loss_of(m):
        return F.cross_entropy(m(x), y)

    d1 = random_filter_normalized_direction(model, seed=0)
    d2 = random_filter_normalized_direction(model, seed=1)
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-0.5, 0.5, 3)
    grid = loss_landscape_2d(model, loss_of, (d1, d2), alphas, betas)
    assert grid.losses.shape == (3, 5)  # rows: betas, columns: alphas
    assert_same_state(model, state)
    assert grid.losses[1, 2] == pytest.approx(loss_of(model).item(), rel=1e-12)
    line = loss_landscape_1d(model, loss_of, d1, alphas)  # the beta = 0 row
    np.testing.assert_allclose(grid.losses[1], line.losses, rtol=1e-12)
    combined = {k: 0.5 * d1[k] + 0.5 * d2[k] for k in d1}  # the point (0.5, 0.5)
    point = loss_landscape_1d(model, loss_of, combined, [1.0]).losses[0]
    assert grid.losses[2, 3] == pytest.approx(point, rel=1e-12)
    default = loss_landscape_2d(model, loss_of, alphas=[-1.0, 0.0, 1.0], seed=0)
    assert default.losses.shape == (3, 3)
    np.testing.assert_allclose(default.losses[1], grid.losses[1, [0, 2, 4]], rtol=1e-12)


def test_interpolation_between_two_models_and_directions_from_flat_vectors():
    start, end = conv_net(0).eval(), conv_net(1).eval()
    x, y = batch()

    def loss_of(m):
        return F.cross_entropy(m(x), y)

    path = loss_landscape_1d(start, loss_of, direction_between(start, end), [0.0, 1.0])
    assert path.losses[1] == pytest.approx(loss_of(end).item(), rel=1e-12)

    # The top Hessian eigenvector as a direction: the landscape's curvature there is lambda_max.
    loss_fn, params = functional_loss(start, loss_of)
    top = hessian_eigenpairs(loss_fn, params, k=1, method="lanczos", iters=60)
    d = direction_from_flat(start, top.vectors[0])
    assert d["0.weight"].shape == start[0].weight.shape
    h = 1e-3
    f = loss_landscape_1d(start, loss_of, d, [-h, 0.0, h]).losses
    curvature = (f[0] - 2 * f[1] + f[2]) / h**2
    assert curvature == pytest.approx(top.values[0].item(), rel=1e-3)
    with pytest.raises(KeyError, match="lacks"):
        loss_landscape_1d(start, loss_of, {"decoder.weight": torch.zeros(1)}, [0.0])
