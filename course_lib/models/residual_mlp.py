r"""Plain and residual twins: the same stack of layers, with or without identity skips.

``ResidualMLP(residual=True)`` computes :math:`h_{k} = h_{k-1} + \phi(W_k h_{k-1} + b_k)` in each
block; ``residual=False`` computes :math:`h_k = \phi(W_k h_{k-1} + b_k)`. Everything else (a linear
stem to the width, the blocks' weights for a given seed, a linear head) is identical, so the two
differ in the skips alone and a chapter can compare their gradient flow fairly. A residual
block's Jacobian is :math:`I + J_f`, whose singular values stay near 1 when :math:`J_f` is small;
the plain block's is :math:`J_f` alone, and a product of many of them shrinks or grows.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.models.init import init_weights
from course_lib.models.mlp import _GAIN_NAME, make_activation

__all__ = ["ResidualBlock", "ResidualMLP"]


class ResidualBlock(nn.Module):
    r"""One block :math:`h \mapsto [h +]\, \phi(W h + b)` of width ``width``."""

    def __init__(self, width: int, activation: str = "relu", residual: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.activation = make_activation(activation)
        self.residual = residual

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out = self.activation(self.linear(h))  # (N, width)
        return h + out if self.residual else out


class ResidualMLP(nn.Module):
    """A linear stem, ``depth`` equal-width blocks (with or without skips), a linear head.

    Args:
        in_features: input features (inputs are flattened).
        out_features: outputs.
        depth: number of blocks.
        width: units per block.
        activation: ``"relu"`` | ``"tanh"`` | ``"gelu"`` | ``"sigmoid"`` | ``"identity"``.
        residual: add the identity skip in every block.
        init: initialisation scheme, see :func:`~course_lib.models.init.init_weights`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        depth: int = 8,
        width: int = 64,
        activation: str = "relu",
        residual: bool = True,
        init: str = "default",
    ) -> None:
        super().__init__()
        if min(in_features, out_features, width) < 1 or depth < 0:
            raise ValueError(
                f"need in_features, out_features, width >= 1 and depth >= 0; got "
                f"{in_features=}, {out_features=}, {width=}, {depth=}"
            )
        self.in_features = in_features
        self.nonlinearity = _GAIN_NAME[activation]  # read by init_weights for the gain
        self.stem = nn.Linear(in_features, width)
        self.blocks = nn.Sequential(
            *(ResidualBlock(width, activation, residual) for _ in range(depth))
        )
        self.head = nn.Linear(width, out_features)
        init_weights(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, out_features)`` of a batch ``(N, *)``."""
        return self.head(self.blocks(self.stem(x.flatten(1))))
