r"""Loss landscapes: the loss along a line and over a plane through the trained weights.

We plot :math:`f(\alpha) = L(\theta^* + \alpha \delta)` and
:math:`f(\alpha, \beta) = L(\theta^* + \alpha \delta + \beta \eta)` for directions
:math:`\delta, \eta` in weight space. Random Gaussian directions mislead, because networks with
ReLUs and batch norm are invariant to rescaling a filter's weights: the same step is huge for a
filter with small weights and negligible for a large one. Li et al. (2018) therefore
**filter-normalise** each random direction: for every filter :math:`j` (a slice along the first
dimension of a conv or linear weight, i.e. one output channel or one neuron),

.. math:: \delta_{j} \leftarrow \frac{\delta_{j}}{\|\delta_{j}\|}\, \|\theta^*_{j}\|,

and the directions of 1-D parameters (biases, batch-norm scales and shifts) are set to zero, as
in the paper's default. Two random directions in a space of millions of dimensions are nearly
orthogonal, so they span a plane without further work.

A landscape is evaluated by writing :math:`\theta^* + \alpha\delta` into the model's parameters
(under ``torch.no_grad()``) and calling ``loss_of(model)``; the parameters and buffers are
restored bit for bit afterwards, even if ``loss_of`` raises.

References:
    H. Li, Z. Xu, G. Taylor, C. Studer, T. Goldstein (2018), "Visualizing the loss landscape of
    neural nets", NeurIPS. Reference code: github.com/tomgoldstein/loss-landscape.
    I. Goodfellow, O. Vinyals, A. Saxe (2015), "Qualitatively characterizing neural network
    optimization problems", ICLR (the line between two sets of weights).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib.diagnostics._flat import unflatten

Direction = dict[str, torch.Tensor]
LossOf = Callable[[nn.Module], torch.Tensor]


@dataclass(frozen=True)
class Landscape1D:
    """The loss along a line: ``losses[i]`` at ``theta + alphas[i] * direction``."""

    alphas: np.ndarray
    losses: np.ndarray


@dataclass(frozen=True)
class Landscape2D:
    """The loss over a plane: ``losses[j, i]`` at ``theta + alphas[i] * d1 + betas[j] * d2``.

    Rows follow ``betas`` and columns ``alphas``, matplotlib's convention for
    ``contour(alphas, betas, losses)``.
    """

    alphas: np.ndarray
    betas: np.ndarray
    losses: np.ndarray


def random_filter_normalized_direction(
    model: nn.Module, seed: int | None = None, *, ignore_1d: bool = True
) -> Direction:
    """A random Gaussian direction, rescaled filter by filter to the model's weights.

    Args:
        model: the network at the point :math:`\\theta^*`.
        seed: seeds the Gaussian draws (on the CPU, in float64, so a seed gives the same
            direction on every device and dtype); ``None`` uses torch's global generator.
        ignore_1d: zero the directions of parameters with at most one dimension (biases,
            batch-norm parameters), as Li et al. do by default. With ``False`` they are set
            equal to the parameters themselves, as the paper's code does for that option.

    Returns:
        ``{parameter name: direction}``, same shapes, dtypes and devices as the parameters.
        Each filter ``d[j]`` of a weight ``w`` has ``||d[j]|| = ||w[j]||`` (up to the
        paper's ``1e-10`` guard against an all-zero draw).
    """
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    direction: Direction = {}
    for name, p in model.named_parameters():
        w = p.detach()
        # Drawn for every parameter, 1-D ones included, so the stream does not depend on
        # ignore_1d (the paper's code draws them all too).
        d = torch.randn(w.shape, generator=gen, dtype=torch.float64)
        d = d.to(w.dtype).to(w.device)  # cast first: MPS has no float64
        if w.dim() <= 1:
            d = torch.zeros_like(w) if ignore_1d else w.clone()
        else:
            w_norms = torch.linalg.vector_norm(w.flatten(1), dim=1)
            d_norms = torch.linalg.vector_norm(d.flatten(1), dim=1)
            scale = w_norms / (d_norms + 1e-10)
            d = d * scale.view(-1, *([1] * (w.dim() - 1)))
        direction[name] = d
    return direction


def direction_between(model: nn.Module, target: nn.Module) -> Direction:
    """The direction from ``model``'s weights to ``target``'s (same architecture).

    Along it, ``alpha = 0`` is ``model`` and ``alpha = 1`` is ``target``: Goodfellow et al.'s
    linear interpolation, e.g. from the initial to the trained weights.
    """
    targets = dict(target.named_parameters())
    return {name: (targets[name] - p).detach().clone() for name, p in model.named_parameters()}


def direction_from_flat(model: nn.Module, flat: torch.Tensor) -> Direction:
    """Shape a flat vector (e.g. a Hessian eigenvector) into a direction.

    The vector follows the order of :func:`~course_lib.diagnostics.hessian.functional_loss`:
    the trainable parameters in ``named_parameters()`` order; frozen ones get zero.
    """
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    parts = unflatten(flat, [p for _, p in trainable])
    direction = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    for (name, p), part in zip(trainable, parts, strict=True):
        direction[name] = part.detach().to(dtype=p.dtype, device=p.device).clone()
    return direction


def _evaluate(
    model: nn.Module,
    loss_of: LossOf,
    directions: tuple[Mapping[str, torch.Tensor], ...],
    points: Iterable[tuple[float, ...]],
) -> list[float]:
    params = dict(model.named_parameters())
    for d in directions:
        unknown = set(d) - set(params)
        if unknown:
            raise KeyError(f"the direction names parameters the model lacks: {sorted(unknown)}")
    origin = {name: p.detach().clone() for name, p in params.items()}
    # Buffers too: a model in training mode updates batch-norm running statistics when the
    # loss is evaluated, which must neither leak into the next point nor outlive the call.
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    live_buffers = dict(model.named_buffers())
    losses = []
    try:
        with torch.no_grad():
            for coefs in points:
                for name, p in params.items():
                    # Always from the saved origin, never by accumulating steps: no drift.
                    value = origin[name].clone()
                    for c, d in zip(coefs, directions, strict=True):
                        if name in d:
                            value.add_(d[name], alpha=c)
                    p.copy_(value)
                losses.append(float(loss_of(model)))
                for name, b in live_buffers.items():
                    b.copy_(buffers[name])
    finally:
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(origin[name])
            for name, b in live_buffers.items():
                b.copy_(buffers[name])
    return losses


def _grid(values: Iterable[float] | np.ndarray | None, default_points: int) -> np.ndarray:
    if values is None:
        return np.linspace(-1.0, 1.0, default_points)
    return np.asarray(list(values), dtype=np.float64)


def loss_landscape_1d(
    model: nn.Module,
    loss_of: LossOf,
    direction: Mapping[str, torch.Tensor] | None = None,
    alphas: Iterable[float] | np.ndarray | None = None,
    *,
    seed: int = 0,
) -> Landscape1D:
    r"""The loss along a line, :math:`f(\alpha) = L(\theta^* + \alpha\delta)`.

    Args:
        model: the network at :math:`\theta^*`; its weights are restored afterwards.
        loss_of: ``loss_of(model) -> scalar tensor``, typically on a fixed batch or a loader
            it captures. It runs under ``torch.no_grad()``.
        direction: :math:`\delta` as ``{parameter name: tensor}`` (missing names count as
            zero); by default :func:`random_filter_normalized_direction` with ``seed``.
        alphas: the step sizes along the line; by default 41 points from -1 to 1.
        seed: seeds the default direction.

    Returns:
        A :class:`Landscape1D`.
    """
    if direction is None:
        direction = random_filter_normalized_direction(model, seed)
    a = _grid(alphas, 41)
    losses = _evaluate(model, loss_of, (direction,), ((float(x),) for x in a))
    return Landscape1D(a, np.asarray(losses))


def loss_landscape_2d(
    model: nn.Module,
    loss_of: LossOf,
    directions: tuple[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor]] | None = None,
    alphas: Iterable[float] | np.ndarray | None = None,
    betas: Iterable[float] | np.ndarray | None = None,
    *,
    seed: int = 0,
) -> Landscape2D:
    r"""The loss over a plane, :math:`f(\alpha, \beta) = L(\theta^* + \alpha\delta + \beta\eta)`.

    Args:
        model: the network at :math:`\theta^*`; its weights are restored afterwards.
        loss_of: ``loss_of(model) -> scalar tensor``, run under ``torch.no_grad()``.
        directions: :math:`(\delta, \eta)`; by default two random filter-normalised
            directions seeded with ``seed`` and ``seed + 1``.
        alphas: the coefficients of :math:`\delta` (columns of the result); by default 21
            points from -1 to 1.
        betas: the coefficients of :math:`\eta` (rows); by default the same as ``alphas``.
        seed: seeds the default directions.

    Returns:
        A :class:`Landscape2D` with ``losses`` of shape ``(len(betas), len(alphas))``; it costs
        ``len(alphas) * len(betas)`` evaluations of ``loss_of``.
    """
    if directions is None:
        directions = (
            random_filter_normalized_direction(model, seed),
            random_filter_normalized_direction(model, seed + 1),
        )
    a = _grid(alphas, 21)
    b = a.copy() if betas is None else _grid(betas, 21)
    points = ((float(x), float(y)) for y in b for x in a)  # row-major: beta outer, alpha inner
    losses = _evaluate(model, loss_of, tuple(directions), points)
    return Landscape2D(a, b, np.asarray(losses).reshape(len(b), len(a)))
