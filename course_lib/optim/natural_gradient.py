r"""The Fisher information, the empirical Fisher and natural-gradient directions.

A classifier with logits :math:`z_i = z(x_i; \theta)` defines a distribution
:math:`p_\theta(y \mid x_i)` (a Bernoulli through the sigmoid of one logit, or a categorical
through the softmax of :math:`C`). With :math:`J_i = \partial z_i / \partial \theta` and the
per-example gradient of the negative log-likelihood
:math:`\nabla_\theta[-\log p_\theta(y \mid x_i)] = J_i^\top (\pi_i - e_y)` (:math:`\pi_i` the
predicted probabilities, :math:`e_y` the one-hot label):

* the **Fisher information** averages the outer product over labels drawn from the *model*,

  .. math::

      F = \frac1N \sum_i \mathbb{E}_{y \sim p_\theta(\cdot \mid x_i)}
          \big[\nabla \log p\, \nabla \log p^\top\big]
        = \frac1N \sum_i J_i^\top \big(\operatorname{diag}(\pi_i) - \pi_i \pi_i^\top\big) J_i ,

  computed here exactly (the expectation over the :math:`C` labels in closed form; for a
  Bernoulli the middle factor is :math:`\pi_i (1 - \pi_i)`);
* the **empirical Fisher** uses the *observed* labels instead,
  :math:`\tilde F = \frac1N \sum_i g_i g_i^\top` with :math:`g_i = J_i^\top (\pi_i - e_{y_i})`.

For these likelihoods :math:`F` is the generalised Gauss-Newton matrix of the mean negative
log-likelihood, and for a linear model (logistic or softmax regression) it equals the Hessian.
:math:`\tilde F` is neither (Kunstner, Balles and Hennig 2019).

The model is a function of a flat parameter vector, ``logits_of(theta, X) -> logits`` with
logits of shape ``(N,)`` (Bernoulli) or ``(N, C)`` (categorical); per-example Jacobians come from
``torch.func.jacrev``, so this is for small models (:math:`N \times C \times n` numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "LIKELIHOODS",
    "empirical_fisher",
    "fisher_information",
    "natural_gradient_direction",
    "per_example_nll_gradients",
]

Likelihood = Literal["bernoulli", "categorical"]
LIKELIHOODS: tuple[str, ...] = ("bernoulli", "categorical")
LogitsFn = Callable[[Tensor, Tensor], Tensor]


def _logits_and_jacobian(
    logits_of: LogitsFn, theta: Tensor, X: Tensor, likelihood: Likelihood
) -> tuple[Tensor, Tensor]:
    """Logits ``(N, C)`` and per-example Jacobians ``(N, C, n)`` (``C = 1`` for a Bernoulli)."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    if theta.dim() != 1:
        raise ValueError(f"theta must be a flat (1-D) tensor, got shape {tuple(theta.shape)}")
    theta = theta.detach()
    with torch.no_grad():
        z = logits_of(theta, X)
    expected = 1 if likelihood == "bernoulli" else 2
    if z.dim() != expected:
        raise ValueError(
            f"a {likelihood} model needs logits of shape {'(N,)' if expected == 1 else '(N, C)'}"
            f", got {tuple(z.shape)}"
        )
    jac = torch.func.jacrev(logits_of)(theta, X)  # (N, n) or (N, C, n)
    if likelihood == "bernoulli":
        return z.unsqueeze(1), jac.unsqueeze(1)
    return z, jac


def _probabilities(z: Tensor, likelihood: Likelihood) -> Tensor:
    """Predicted probabilities ``(N, C)``; a Bernoulli gets the one column ``sigmoid(z)``."""
    return torch.sigmoid(z) if likelihood == "bernoulli" else torch.softmax(z, dim=1)


def fisher_information(
    logits_of: LogitsFn, theta: Tensor, X: Tensor, likelihood: Likelihood = "bernoulli"
) -> Tensor:
    r"""The Fisher information :math:`F`, ``(n, n)``, at ``theta``, averaged over the inputs ``X``.

    Args:
        logits_of: ``(theta, X) -> logits``, ``(N,)`` for a Bernoulli, ``(N, C)`` otherwise.
        theta: the flat parameters.
        X: the inputs.
        likelihood: ``"bernoulli"`` (sigmoid of one logit) or ``"categorical"`` (softmax).

    Returns:
        :math:`\frac1N \sum_i J_i^\top (\operatorname{diag}\pi_i - \pi_i\pi_i^\top) J_i`.
    """
    z, jac = _logits_and_jacobian(logits_of, theta, X, likelihood)
    pi = _probabilities(z, likelihood)
    if likelihood == "bernoulli":
        middle = (pi * (1 - pi)).unsqueeze(2)  # (N, 1, 1)
    else:
        middle = torch.diag_embed(pi) - pi.unsqueeze(2) * pi.unsqueeze(1)  # (N, C, C)
    return torch.einsum("nci,ncd,ndj->ij", jac, middle, jac) / X.shape[0]


def per_example_nll_gradients(
    logits_of: LogitsFn, theta: Tensor, X: Tensor, y: Tensor, likelihood: Likelihood = "bernoulli"
) -> Tensor:
    r"""Gradients of :math:`-\log p_\theta(y_i \mid x_i)`, one row per example (``(N, n)``).

    Args:
        logits_of: as for :func:`fisher_information`.
        theta: the flat parameters.
        X: the inputs.
        y: the labels: 0/1 (any float or int dtype) for a Bernoulli, class indices otherwise.
        likelihood: ``"bernoulli"`` or ``"categorical"``.

    Returns:
        :math:`g_i = J_i^\top (\pi_i - e_{y_i})` for each example.
    """
    z, jac = _logits_and_jacobian(logits_of, theta, X, likelihood)
    pi = _probabilities(z, likelihood)
    if likelihood == "bernoulli":
        residual = pi - y.to(pi.dtype).reshape(-1, 1)
    else:
        residual = pi - torch.nn.functional.one_hot(y.long(), pi.shape[1]).to(pi.dtype)
    return torch.einsum("nc,nci->ni", residual, jac)


def empirical_fisher(
    logits_of: LogitsFn, theta: Tensor, X: Tensor, y: Tensor, likelihood: Likelihood = "bernoulli"
) -> Tensor:
    r"""The empirical Fisher :math:`\tilde F = \frac1N \sum_i g_i g_i^\top` with observed labels.

    Args: as for :func:`per_example_nll_gradients`.

    Returns:
        The ``(n, n)`` matrix.
    """
    g = per_example_nll_gradients(logits_of, theta, X, y, likelihood)
    return g.T @ g / g.shape[0]


def natural_gradient_direction(fisher: Tensor, grad: Tensor, damping: float = 0.0) -> Tensor:
    r"""Solve :math:`(F + \lambda I)\, d = g` for the (damped) natural gradient :math:`d`.

    Args:
        fisher: a symmetric positive semi-definite ``(n, n)`` matrix (the Fisher or a stand-in).
        grad: the gradient, ``(n,)``.
        damping: :math:`\lambda \ge 0`; with :math:`\lambda = 0` the matrix must be definite.

    Returns:
        :math:`d`; the natural-gradient step is :math:`\theta \leftarrow \theta - \eta d`.
    """
    if damping < 0:
        raise ValueError(f"damping must be >= 0, got {damping}")
    a = fisher + damping * torch.eye(fisher.shape[0], dtype=fisher.dtype, device=fisher.device)
    factor = torch.linalg.cholesky(a)
    return torch.cholesky_solve(grad.unsqueeze(1), factor).squeeze(1)
