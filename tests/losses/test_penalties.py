"""L1, L2 and elastic-net penalties against their formulas (numpy), torch's weight_decay and
scikit-learn's ElasticNet."""

import itertools

import numpy as np
import pytest
import torch

from course_lib.losses import elastic_net_penalty, l1_penalty, l2_penalty


def _params(seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = ((3, 4), (4,), (), (2, 2, 2))
    return [torch.randn(s, generator=gen, dtype=torch.float64).requires_grad_(True) for s in shapes]


def _flat(params):
    return np.concatenate([p.detach().numpy().ravel() for p in params])


def test_l1_and_l2_are_sum_abs_and_half_sum_of_squares():
    params = _params()
    w = _flat(params)
    assert l1_penalty(params).item() == pytest.approx(np.abs(w).sum(), rel=1e-12)
    assert l2_penalty(params).item() == pytest.approx(0.5 * (w**2).sum(), rel=1e-12)
    g1 = torch.autograd.grad(l1_penalty(params), params)
    g2 = torch.autograd.grad(l2_penalty(params), params)
    for p, a, b in zip(params, g1, g2, strict=True):
        torch.testing.assert_close(a, torch.sign(p.detach()))
        torch.testing.assert_close(b, p.detach())  # the 1/2 makes the gradient w itself


@pytest.mark.parametrize(
    ("l1_ratio", "alpha"), list(itertools.product((0.0, 0.3, 1.0), (0.0, 0.5, 2.0)))
)
def test_elastic_net_is_sklearn_parametrisation(l1_ratio, alpha):
    params = _params(seed=1)
    w = _flat(params)
    # scikit-learn ElasticNet's penalty: alpha * l1_ratio * ||w||_1
    #                                    + 0.5 * alpha * (1 - l1_ratio) * ||w||_2^2
    expected = alpha * l1_ratio * np.abs(w).sum() + 0.5 * alpha * (1 - l1_ratio) * (w**2).sum()
    assert elastic_net_penalty(params, l1_ratio, alpha).item() == pytest.approx(expected, rel=1e-12)
    grads = torch.autograd.grad(
        elastic_net_penalty(params, l1_ratio, alpha), params, allow_unused=True
    )
    for p, g in zip(params, grads, strict=True):
        expected_g = alpha * (l1_ratio * torch.sign(p) + (1 - l1_ratio) * p).detach()
        torch.testing.assert_close(torch.zeros_like(p) if g is None else g, expected_g)


def test_elastic_net_optimality_of_sklearn_solution():
    # At scikit-learn's ElasticNet solution w*, the gradient of
    # 1/(2n) ||y - Xw||^2 + elastic_net_penalty(w) vanishes on the non-zero coordinates.
    from sklearn import linear_model

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    y = X @ np.array([1.5, 0.0, -2.0, 0.0, 0.5, 0.0]) + 0.1 * rng.normal(size=40)
    alpha, l1_ratio = 0.1, 0.6
    model = linear_model.ElasticNet(
        alpha=alpha, l1_ratio=l1_ratio, fit_intercept=False, tol=1e-12, max_iter=100_000
    )
    model.fit(X, y)
    w = torch.tensor(model.coef_, requires_grad=True)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    objective = ((yt - Xt @ w) ** 2).sum() / (2 * len(y)) + elastic_net_penalty(w, l1_ratio, alpha)
    (g,) = torch.autograd.grad(objective, w, retain_graph=True)
    nonzero = w.detach() != 0
    assert nonzero.sum() >= 2
    torch.testing.assert_close(g[nonzero], torch.zeros_like(g[nonzero]), rtol=0, atol=1e-8)
    # A penalty off by the factor 1/2 would not be stationary there.
    wrong = objective + 0.5 * alpha * (1 - l1_ratio) * (w**2).sum()
    (g_wrong,) = torch.autograd.grad(wrong, w)
    assert g_wrong[nonzero].abs().max() > 1e-3


@pytest.mark.parametrize("optimizer", ("SGD", "Adam"))
def test_wd_times_l2_penalty_reproduces_torch_weight_decay(optimizer):
    def run(weight_decay, penalised):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2).double()
        opt = getattr(torch.optim, optimizer)(model.parameters(), lr=0.1, weight_decay=weight_decay)
        x = torch.randn(5, 3, dtype=torch.float64)
        for _ in range(3):
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            if penalised:
                loss = loss + 0.01 * l2_penalty(model.parameters())
            loss.backward()
            opt.step()
        return [p.detach() for p in model.parameters()]

    for a, b in zip(run(0.01, False), run(0.0, True), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


def test_accepts_a_tensor_a_generator_and_nothing():
    t = torch.tensor([1.0, -2.0])
    assert l1_penalty(t).item() == 3.0
    assert l2_penalty(p for p in [t, t]).item() == 5.0
    assert l1_penalty([]).item() == 0.0 and l2_penalty([]).item() == 0.0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="l1_ratio"):
        elastic_net_penalty([torch.ones(2)], l1_ratio=1.5)
    with pytest.raises(ValueError, match="alpha"):
        elastic_net_penalty([torch.ones(2)], alpha=-1.0)
    with pytest.raises(ValueError, match="iterable of tensors"):
        l1_penalty([1.0, 2.0])
