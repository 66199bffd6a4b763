"""A multilayer perceptron: the model of the optimisation chapters' first experiments.

``depth`` hidden layers of ``width`` units, each ``Linear -> [norm] -> activation -> [dropout]``,
then a linear head. ``depth=0`` is a linear (logistic-regression) model, and
``activation="identity"`` gives a deep *linear* network, whose loss is non-convex in the weights
although the function it computes is linear: the classic toy for saddle points.

Batch norm sits between the linear map and the activation, as in Ioffe & Szegedy (2015). It
subtracts a per-feature mean, which cancels a per-feature bias exactly, so the Linear before a
batch norm has no bias. (A layer norm does not cancel it: it subtracts the mean over features.)

Parameter count, with ``d_0 = in_features`` and hidden width ``w``::

    depth = 0:  (d_0 + 1) * out
    depth >= 1: (d_0 + b) * w + (depth - 1) * (w + b) * w + (w + 1) * out + depth * n

where ``b = 0`` for batch norm else 1, and ``n = 2 w`` (weight and bias) for a norm else 0.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.models.init import init_weights

__all__ = ["ACTIVATIONS", "MLP", "make_activation"]

ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "gelu", "sigmoid", "identity")
# The gain init_weights uses for each activation; GELU has no closed form and behaves like ReLU
# for the gain (it is ReLU away from 0), which is what the usual practice assumes.
_GAIN_NAME = {
    "relu": "relu",
    "tanh": "tanh",
    "gelu": "relu",
    "sigmoid": "sigmoid",
    "identity": "linear",
}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`)."""
    modules = {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "gelu": nn.GELU,
        "sigmoid": nn.Sigmoid,
        "identity": nn.Identity,
    }
    if name not in modules:
        raise ValueError(f"unknown activation {name!r}; use one of {', '.join(ACTIVATIONS)}")
    return modules[name]()


class MLP(nn.Module):
    """Fully connected classifier/regressor on flattened inputs.

    Args:
        in_features: size of one flattened input, e.g. ``28 * 28`` for Fashion-MNIST.
        out_features: number of outputs (classes, or regression targets).
        depth: number of hidden layers (0 gives a single linear map).
        width: units per hidden layer.
        activation: ``"relu"`` | ``"tanh"`` | ``"gelu"`` | ``"sigmoid"`` | ``"identity"``.
        norm: ``None`` | ``"batch"`` (``BatchNorm1d``) | ``"layer"`` (``LayerNorm``), after
            each hidden Linear and before its activation.
        dropout: dropout probability after each hidden activation (0 adds no module).
        init: initialisation scheme, see :func:`~course_lib.models.init.init_weights`.

    Shape:
        input ``(N, *)`` with ``prod(*) == in_features`` (an image batch ``(N, C, H, W)`` is
        flattened), output ``(N, out_features)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        depth: int = 2,
        width: int = 128,
        activation: str = "relu",
        norm: str | None = None,
        dropout: float = 0.0,
        init: str = "default",
    ) -> None:
        super().__init__()
        if min(in_features, out_features, width) < 1 or depth < 0:
            raise ValueError(
                f"need in_features, out_features, width >= 1 and depth >= 0; got "
                f"{in_features=}, {out_features=}, {width=}, {depth=}"
            )
        if norm not in (None, "batch", "layer"):
            raise ValueError(f"unknown norm {norm!r}; use None, 'batch' or 'layer'")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        make_activation(activation)  # validates the name before any layer is built
        self.in_features = in_features
        self.nonlinearity = _GAIN_NAME[activation]  # read by init_weights for the gain

        layers: list[nn.Module] = []
        fan_in = in_features
        for _ in range(depth):
            layers.append(nn.Linear(fan_in, width, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(width))
            elif norm == "layer":
                layers.append(nn.LayerNorm(width))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            fan_in = width
        self.hidden = nn.Sequential(*layers)
        self.head = nn.Linear(fan_in, out_features)
        init_weights(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, out_features)`` of a batch ``(N, *)``."""
        x = x.flatten(1)  # (N, *) -> (N, in_features)
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"MLP expects {self.in_features} features per example, got input of shape "
                f"{tuple(x.shape)} after flattening"
            )
        return self.head(self.hidden(x))  # (N, width) -> (N, out_features)
