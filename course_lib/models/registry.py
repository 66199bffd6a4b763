"""Models by name, for configs and the command line, and a parameter counter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from course_lib.models.cnn import SmallCNN
from course_lib.models.mlp import MLP
from course_lib.models.resnet import resnet18
from course_lib.models.transformer import TransformerClassifier

__all__ = ["MODELS", "build_model", "count_parameters"]

MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": MLP,
    "cnn": SmallCNN,
    "resnet18": resnet18,
    "transformer": TransformerClassifier,
}


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a model of :data:`MODELS` by name, e.g. ``build_model("mlp", in_features=784,
    out_features=10, depth=3)``; ``kwargs`` go to its constructor unchanged.

    Raises:
        ValueError: for an unknown name (the message lists the known ones).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; use one of {', '.join(MODELS)}")
    return MODELS[name](**kwargs)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (a parameter shared by two modules counts once).

    Args:
        model: any module.
        trainable_only: count only parameters with ``requires_grad``.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
