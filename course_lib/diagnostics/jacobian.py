r"""The input-output Jacobian of a network and its singular values.

For one example :math:`x \in \mathbb{R}^{n}` and a network :math:`f: \mathbb{R}^n \to
\mathbb{R}^m`, the Jacobian :math:`J = \partial f / \partial x \in \mathbb{R}^{m \times n}` says
how a small change of the input moves the output. By the chain rule it is the product of the
layers' Jacobians, :math:`J = J_L \cdots J_1`, and the same product (transposed) carries
gradients backwards, so its singular values show whether signals explode (:math:`\sigma \gg 1`),
vanish (:math:`\sigma \ll 1`) or keep their size. Networks whose singular values all stay near 1
("dynamical isometry", Saxe et al. 2014; Pennington et al. 2017) train fastest when deep.

Per-example Jacobians are computed with ``torch.func``: ``jacrev`` (one reverse pass per output
coordinate, vectorised) for one example, ``vmap`` over the batch.

References:
    A. Saxe, J. McClelland, S. Ganguli (2014), "Exact solutions to the nonlinear dynamics of
    learning in deep linear neural networks", ICLR.
    J. Pennington, S. Schoenholz, S. Ganguli (2017), "Resurrecting the sigmoid in deep learning
    through dynamical isometry: theory and practice", NeurIPS.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def input_jacobian(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""Per-example Jacobians of ``model`` with respect to its input.

    Each example is pushed through the model alone (a batch of one), so examples must not
    interact: call ``model.eval()`` first if it has batch norm (batch statistics mix examples)
    or dropout (``vmap`` refuses random operations by default).

    Args:
        model: a network or block taking a batch ``(B, *in_shape)`` to ``(B, *out_shape)``.
        x: the batch of inputs, shape ``(B, *in_shape)``.
        chunk_size: examples per vectorised chunk (``torch.func.vmap``'s), to bound memory.

    Returns:
        A tensor of shape ``(B, *out_shape, *in_shape)``:
        ``J[b, i..., j...] = d model(x)[b, i...] / d x[b, j...]``.
    """

    def single(example: torch.Tensor) -> torch.Tensor:
        return model(example.unsqueeze(0)).squeeze(0)

    return torch.func.vmap(torch.func.jacrev(single), chunk_size=chunk_size)(x)


def jacobian_singular_values(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""The singular values of each example's input Jacobian, largest first.

    The Jacobian of an example is flattened to an :math:`m \times n` matrix (outputs by inputs)
    before ``torch.linalg.svdvals``.

    Args:
        model: a network or block taking ``(B, *in_shape)`` to ``(B, *out_shape)``.
        x: the batch of inputs.
        chunk_size: passed to :func:`input_jacobian`.

    Returns:
        A tensor of shape ``(B, min(m, n))``, each row in decreasing order.
    """
    J = input_jacobian(model, x, chunk_size=chunk_size)
    n = math.prod(x.shape[1:])
    return torch.linalg.svdvals(J.reshape(x.shape[0], -1, n))
