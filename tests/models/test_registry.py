"""build_model and count_parameters."""

import pytest
from torch import nn

from course_lib.models import MLP, MODELS, SmallCNN, build_model, count_parameters


def test_names_build_the_right_classes() -> None:
    assert set(MODELS) == {"mlp", "cnn", "resnet18", "transformer"}
    model = build_model("mlp", in_features=784, out_features=10, depth=3, width=8)
    assert isinstance(model, MLP)
    assert len([m for m in model.hidden if isinstance(m, nn.Linear)]) == 3
    assert isinstance(build_model("cnn", in_channels=3, image_size=32), SmallCNN)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="mlp, cnn, resnet18, transformer"):
        build_model("vgg16")


def test_count_parameters_shared_and_frozen() -> None:
    layer = nn.Linear(3, 4)  # 16 parameters
    shared = nn.Sequential(layer, nn.ReLU(), layer)
    assert count_parameters(shared) == 16  # counted once
    frozen = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    frozen[0].requires_grad_(False)
    assert count_parameters(frozen) == 26
    assert count_parameters(frozen, trainable_only=True) == 10
    assert count_parameters(nn.ReLU()) == 0
