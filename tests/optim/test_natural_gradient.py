"""Fisher, empirical Fisher and natural-gradient directions against their definitions, computed
one example and one label at a time with autograd, and against torch Hessians."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.optim.natural_gradient import (
    empirical_fisher,
    fisher_information,
    natural_gradient_direction,
    per_example_nll_gradients,
)


def logistic(theta, X):
    return X @ theta[:-1] + theta[-1]  # (N,)


def softmax_regression(theta, X, classes=3):
    d = X.shape[1]
    w, b = theta[: d * classes].view(classes, d), theta[d * classes :]
    return X @ w.T + b  # (N, C)


def tiny_mlp(theta, X):
    w1, b1, w2, b2 = torch.split(theta, [8, 4, 12, 3])
    return torch.tanh(X @ w1.view(4, 2).T + b1) @ w2.view(3, 4).T + b2


def data(seed, n=30, d=2, classes=2):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=gen)
    return X, y


def nll(logits, y, likelihood):
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))
    return F.cross_entropy(logits, y)


CASES = [
    ("bernoulli", logistic, 3, 2),
    ("categorical", softmax_regression, 9, 3),
    ("categorical", tiny_mlp, 27, 3),
]


@pytest.mark.parametrize(("likelihood", "model", "n", "classes"), CASES)
def test_fisher_is_the_expected_outer_product_over_model_labels(likelihood, model, n, classes):
    X, _ = data(0, classes=classes)
    theta = torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = torch.zeros(n, n, dtype=torch.float64)
    for x in X:  # the definition: E_{y ~ p(.|x)} [grad log p(y|x) grad log p(y|x)^T]
        t = theta.clone().requires_grad_(True)
        z = model(t, x.unsqueeze(0))
        if likelihood == "bernoulli":
            probs = torch.cat([1 - torch.sigmoid(z), torch.sigmoid(z)]).detach()
        else:
            probs = torch.softmax(z, dim=1).squeeze(0).detach()
        for label, prob in enumerate(probs):
            loss = nll(z, torch.tensor([label]), likelihood)
            (g,) = torch.autograd.grad(loss, t, retain_graph=True)
            expected += prob * torch.outer(g, g)
    expected /= X.shape[0]
    torch.testing.assert_close(fisher_information(model, theta, X, likelihood), expected)


@pytest.mark.parametrize(("likelihood", "model", "n", "classes"), CASES)
def test_empirical_fisher_is_the_mean_outer_product_of_per_example_gradients(
    likelihood, model, n, classes
):
    X, y = data(2, classes=classes)
    theta = torch.randn(n, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    rows = []
    for x, label in zip(X, y, strict=True):
        t = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(nll(model(t, x.unsqueeze(0)), label.view(1), likelihood), t)
        rows.append(g)
    grads = torch.stack(rows)
    torch.testing.assert_close(per_example_nll_gradients(model, theta, X, y, likelihood), grads)
    torch.testing.assert_close(
        empirical_fisher(model, theta, X, y, likelihood), grads.T @ grads / len(X)
    )
    # the mean of the per-example gradients is the full-batch gradient
    t = theta.clone().requires_grad_(True)
    (full,) = torch.autograd.grad(nll(model(t, X), y, likelihood), t)
    torch.testing.assert_close(grads.mean(0), full)


@pytest.mark.parametrize(("likelihood", "model", "n", "classes"), CASES[:2])
def test_fisher_equals_the_hessian_for_linear_models(likelihood, model, n, classes):
    X, y = data(4, classes=classes)
    theta = torch.randn(n, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    hessian = torch.autograd.functional.hessian(lambda t: nll(model(t, X), y, likelihood), theta)
    torch.testing.assert_close(fisher_information(model, theta, X, likelihood), hessian)
    # ... and the empirical Fisher does not.
    ef = empirical_fisher(model, theta, X, y, likelihood)
    assert float((ef - hessian).norm() / hessian.norm()) > 0.1


def test_fisher_is_the_hessian_of_kl_divergence():
    # F = d^2/d delta^2 KL(p_theta || p_{theta + delta}) at delta = 0, averaged over inputs.
    X, _ = data(6, classes=3)
    theta = torch.randn(27, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    log_p = torch.log_softmax(tiny_mlp(theta, X), dim=1)

    def kl(delta):
        log_q = torch.log_softmax(tiny_mlp(theta + delta, X), dim=1)
        return (log_p.exp() * (log_p - log_q)).sum(1).mean()

    hessian = torch.autograd.functional.hessian(kl, torch.zeros(27, dtype=torch.float64))
    torch.testing.assert_close(fisher_information(tiny_mlp, theta, X, "categorical"), hessian)


def test_natural_gradient_direction_solves_the_damped_system():
    gen = torch.Generator().manual_seed(8)
    a = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    fisher = a @ a.T
    g = torch.randn(6, generator=gen, dtype=torch.float64)
    for damping in (0.0, 0.5):
        d = natural_gradient_direction(fisher, g, damping)
        torch.testing.assert_close(d, torch.linalg.solve(fisher + damping * torch.eye(6), g))
    with pytest.raises(ValueError, match="damping"):
        natural_gradient_direction(fisher, g, -1.0)


def test_rejects_logits_of_the_wrong_shape():
    X, _ = data(9)
    with pytest.raises(ValueError, match="logits of shape"):
        fisher_information(logistic, torch.zeros(3, dtype=torch.float64), X, "categorical")
    with pytest.raises(ValueError, match="likelihood"):
        fisher_information(logistic, torch.zeros(3, dtype=torch.float64), X, "gaussian")
