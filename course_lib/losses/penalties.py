r"""Weight penalties: L1, L2 and elastic net, summed over a collection of parameter tensors.

Conventions (each function states its own):

* :func:`l1_penalty` is :math:`\sum_j |w_j|`.
* :func:`l2_penalty` is **half** the sum of squares, :math:`\tfrac12\sum_j w_j^2`, so that its
  gradient is :math:`w` itself. Then ``loss + wd * l2_penalty(model.parameters())`` adds
  exactly ``wd * p`` to each gradient, which is what ``weight_decay=wd`` does inside
  ``torch.optim.SGD`` and ``Adam`` (L2 regularisation; ``AdamW``'s decoupled decay is a
  different algorithm). Multiply by 2 for the plain sum of squares.
* :func:`elastic_net_penalty` uses scikit-learn's ``ElasticNet`` parametrisation (Zou & Hastie
  2005, "Regularization and variable selection via the elastic net"):
  :math:`\alpha\,(\rho\,\lVert w\rVert_1 + \tfrac12(1 - \rho)\lVert w\rVert_2^2)` with
  :math:`\rho` = ``l1_ratio``.

Each takes a tensor or any iterable of tensors (``model.parameters()``, a list, a generator)
and returns a 0-dim tensor; an empty collection gives ``tensor(0.)``. Penalising biases and
normalisation parameters is usually not wanted: pass only the weights you mean.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

Params = torch.Tensor | Iterable[torch.Tensor]


def _as_list(params: Params) -> list[torch.Tensor]:
    if isinstance(params, torch.Tensor):
        return [params]
    tensors = list(params)
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            raise ValueError(
                f"params must be a tensor or an iterable of tensors, got an item of type "
                f"{type(t).__name__}; pass e.g. model.parameters()"
            )
    return tensors


def _total(terms: list[torch.Tensor]) -> torch.Tensor:
    """Add 0-dim terms (one per parameter tensor); nothing to add gives ``tensor(0.)``."""
    if not terms:
        return torch.tensor(0.0)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def l1_penalty(params: Params) -> torch.Tensor:
    r"""The L1 norm of all parameters, :math:`\sum_j |w_j|` (lasso; Tibshirani 1996).

    Its gradient is :math:`\operatorname{sign}(w)`, with the subgradient 0 at :math:`w_j = 0`.
    Plain (sub)gradient descent on it does not make weights exactly zero; proximal methods do.

    Args:
        params: a tensor or an iterable of tensors.

    Returns:
        A 0-dim tensor.
    """
    return _total([p.abs().sum() for p in _as_list(params)])


def l2_penalty(params: Params) -> torch.Tensor:
    r"""Half the squared L2 norm of all parameters, :math:`\tfrac12\sum_j w_j^2` (ridge).

    The factor :math:`\tfrac12` makes the gradient :math:`w`, so ``wd * l2_penalty(params)``
    reproduces torch's ``weight_decay=wd`` (which adds ``wd * p`` to the gradient).

    Args:
        params: a tensor or an iterable of tensors.

    Returns:
        A 0-dim tensor.
    """
    return _total([0.5 * (p * p).sum() for p in _as_list(params)])


def elastic_net_penalty(params: Params, l1_ratio: float = 0.5, alpha: float = 1.0) -> torch.Tensor:
    r"""Elastic-net penalty in scikit-learn's ``ElasticNet`` parametrisation.

    .. math::
        \alpha\Big(\rho\,\lVert w\rVert_1 + \tfrac12(1 - \rho)\,\lVert w\rVert_2^2\Big),
        \qquad \rho = \texttt{l1\_ratio} \in [0, 1],

    i.e. ``alpha * (l1_ratio * l1_penalty(params) + (1 - l1_ratio) * l2_penalty(params))``:
    :math:`\rho = 1` is the lasso, :math:`\rho = 0` ridge (with its :math:`\tfrac12`).

    Args:
        params: a tensor or an iterable of tensors.
        l1_ratio: mix :math:`\rho` between L1 and L2, in [0, 1].
        alpha: overall strength, ``>= 0``.

    Returns:
        A 0-dim tensor.

    Raises:
        ValueError: if ``l1_ratio`` is outside [0, 1] or ``alpha < 0``.
    """
    if not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"l1_ratio={l1_ratio!r} must lie in [0, 1] (1 = lasso, 0 = ridge)")
    if not alpha >= 0:
        raise ValueError(f"alpha={alpha!r} must be >= 0")
    tensors = _as_list(params)
    return alpha * (l1_ratio * l1_penalty(tensors) + (1 - l1_ratio) * l2_penalty(tensors))
