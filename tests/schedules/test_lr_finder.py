"""The LR range test: its sweep, its smoothing, its stop rule, its restore, its suggestion."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.schedules import LRFinderResult, geometric_lrs, lr_finder, suggest_lr


def regression(seed=0, n=256, d=8, cond=3.0, batch=256):
    """Least squares data, batches, a fresh linear model, and L = the Hessian's top eigenvalue.

    ``F.mse_loss`` averages (x^T w + b - y)^2, so the Hessian in (w, b) is 2 [X 1]^T [X 1] / n;
    gradient descent diverges for lr > 2 / L.
    """
    gen = torch.Generator().manual_seed(seed)
    scales = torch.logspace(0, math.log10(cond), d, dtype=torch.float64)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64) * scales
    y = X @ torch.randn(d, 1, generator=gen, dtype=torch.float64)
    y += 0.1 * torch.randn(n, 1, generator=gen, dtype=torch.float64)
    Xa = np.hstack([X.numpy(), np.ones((n, 1))])
    L = float(np.linalg.eigvalsh(2 * Xa.T @ Xa / n).max())
    torch.manual_seed(seed)
    model = torch.nn.Linear(d, 1).double()
    data = [(X[i : i + batch], y[i : i + batch]) for i in range(0, n, batch)]
    return model, data, L


def test_the_sweep_is_exactly_geometric():
    lrs = geometric_lrs(1e-7, 10.0, 100)
    assert lrs[0] == 1e-7 and lrs[-1] == pytest.approx(10.0, rel=1e-13)
    ratios = np.array(lrs[1:]) / np.array(lrs[:-1])
    np.testing.assert_allclose(ratios, 10 ** (8 / 99), rtol=1e-12)
    model, data, _ = regression()
    result = lr_finder(
        model,
        F.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        data,
        start_lr=1e-6,
        end_lr=1e-2,
        num_steps=30,
    )
    assert isinstance(result, LRFinderResult) and not result.stopped_early
    assert result.lrs == geometric_lrs(1e-6, 1e-2, 30)


def test_smoothing_is_the_bias_corrected_moving_average():
    model, data, _ = regression(batch=32)
    result = lr_finder(
        model,
        F.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        data,
        num_steps=40,
        end_lr=1e-3,
        smooth=0.9,
    )
    avg, expected = 0.0, []
    for i, loss in enumerate(result.losses):
        avg = 0.9 * avg + 0.1 * loss
        expected.append(avg / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(result.smoothed_losses, expected, rtol=1e-13)
    assert result.smoothed_losses[0] == result.losses[0]  # bias correction: no pull towards 0
    unsmoothed = lr_finder(
        model,
        F.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        data,
        num_steps=10,
        smooth=0.0,
    )
    assert unsmoothed.smoothed_losses == unsmoothed.losses


def test_recorded_loss_is_the_batch_loss_before_the_step():
    model, data, _ = regression()
    x, y = data[0]
    before = F.mse_loss(model(x), y).item()
    result = lr_finder(
        model, F.mse_loss, torch.optim.SGD(model.parameters(), lr=0.1), data, num_steps=5
    )
    assert result.losses[0] == pytest.approx(before, rel=1e-14)


def test_stops_when_the_smoothed_loss_diverges():
    model, data, L = regression()
    result = lr_finder(
        model,
        F.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        data,
        start_lr=10 / L,
        end_lr=1e6 / L,
        num_steps=100,
    )
    assert result.stopped_early and len(result.lrs) < 100
    best = min(result.smoothed_losses)
    assert result.smoothed_losses[-1] > 4 * best
    assert all(s <= 4 * best for s in result.smoothed_losses[:-1])


def test_stops_before_recording_a_non_finite_loss():
    model, data, _ = regression()
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        return F.mse_loss(out, y) * (math.inf if len(calls) > 7 else 1.0)

    result = lr_finder(
        model, loss_fn, torch.optim.SGD(model.parameters(), lr=0.1), data, num_steps=50
    )
    assert result.stopped_early and len(result.losses) == 7
    assert all(math.isfinite(v) for v in result.losses)


@pytest.mark.parametrize("restore", [True, False])
def test_model_and_optimizer_state_are_restored(restore):
    model, data, L = regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(data[0][0]).pow(2).mean().backward()
    opt.step()  # a momentum buffer exists now
    model.eval()
    weights, state = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    lr_finder(model, F.mse_loss, opt, data, start_lr=1e-3 / L, end_lr=100 / L, restore=restore)
    same_weights = all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert same_weights == restore
    if restore:
        assert not model.training
        assert opt.param_groups[0]["lr"] == 0.1
        for i, p in enumerate(model.parameters()):
            buffer = state["state"][i]["momentum_buffer"]
            assert torch.equal(opt.state[p]["momentum_buffer"], buffer)
    else:
        assert opt.param_groups[0]["lr"] != 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("cond", "batch"), [(1.0, 256), (10.0, 256), (3.0, 32)])
def test_suggestion_lies_near_one_over_the_largest_curvature(seed, cond, batch):
    model, data, L = regression(seed=seed, cond=cond, batch=batch)
    result = lr_finder(
        model,
        F.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        data,
        start_lr=1e-5,
        end_lr=10.0,
        num_steps=100,
    )
    assert result.stopped_early  # the sweep reaches past 2 / L
    assert 1 / (10 * L) <= result.suggested_lr <= 2 / L


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_steepest_rule_on_a_full_batch_problem(seed):
    model, data, L = regression(seed=seed, cond=3.0)
    result = lr_finder(
        model,
        F.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        data,
        start_lr=1e-5,
        end_lr=10.0,
        suggestion="steepest",
    )
    assert 1 / (10 * L) <= result.suggested_lr <= 2 / L
    assert suggest_lr(result.lrs, result.smoothed_losses, "steepest") == result.suggested_lr


def test_suggest_lr_rules_on_a_hand_made_curve():
    lrs = geometric_lrs(1e-4, 1.0, 30)
    smoothed = [1.0] * 12 + [0.9, 0.6, 0.3, 0.2, 0.15] + [0.1] * 8 + [0.5, 2, 4, 8, 16]
    assert suggest_lr(lrs, smoothed, "steepest") == lrs[13]  # central difference: 13 and 14 tie
    assert suggest_lr(lrs, smoothed, "min_loss") == lrs[17] / 10
    assert suggest_lr(lrs[:5], smoothed[:5], "steepest") == lrs[0] / 10  # too short: fallback


def test_a_one_shot_iterator_ends_the_sweep_and_empty_data_raises():
    model, data, _ = regression(batch=64)  # 4 batches
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = lr_finder(model, F.mse_loss, opt, iter(data), num_steps=10, end_lr=1e-3)
    assert len(result.lrs) == 4 and not result.stopped_early
    cycled = lr_finder(model, F.mse_loss, opt, data, num_steps=10, end_lr=1e-3)
    assert len(cycled.lrs) == 10  # a list is re-iterated
    with pytest.raises(ValueError, match="no batch"):
        lr_finder(model, F.mse_loss, opt, [], num_steps=10)


def test_works_with_adam_and_lbfgs():
    for make in (lambda p: torch.optim.Adam(p), lambda p: torch.optim.LBFGS(p, max_iter=2)):
        model, data, _ = regression()
        result = lr_finder(
            model, F.mse_loss, make(model.parameters()), data, num_steps=20, end_lr=1e-2
        )
        assert len(result.lrs) == 20


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(start_lr=0.0),
        dict(start_lr=1.0, end_lr=0.5),
        dict(num_steps=1),
        dict(smooth=1.0),
        dict(diverge_factor=1.0),
        dict(suggestion="valley"),
    ],
)
def test_invalid_arguments_raise(kwargs):
    model, data, _ = regression()
    name = next(iter(kwargs)) if "end_lr" not in kwargs else "end_lr"
    with pytest.raises(ValueError, match=name):
        lr_finder(model, F.mse_loss, torch.optim.SGD(model.parameters(), lr=0.1), data, **kwargs)
