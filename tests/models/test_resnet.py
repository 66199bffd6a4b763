"""resnet18: small-image shapes, and the parameter count derived from torchvision's ResNet-18."""

import pytest
import torch
from torch import nn

from course_lib.models import ResNet, count_parameters, resnet18
from tests.models.helpers import assert_trains, same_state

# torchvision.models.resnet18(num_classes=1000), the ImageNet model, counted by torchvision.
TORCHVISION_RESNET18 = 11_689_512


def body_count(w: int) -> int:
    """layer1..4 by hand: a block c -> c has two 3x3 convs and two BNs (18 c^2 + 4 c); a block
    c -> 2c has 9 c (2c) + 9 (2c)^2 conv weights, a 1x1 projection c (2c), three BNs of 2c."""

    def same(c: int) -> int:
        return 18 * c * c + 4 * c

    def down(c: int) -> int:
        return 9 * c * 2 * c + 9 * (2 * c) ** 2 + 2 * c * c + 3 * 2 * (2 * c)

    return 2 * same(w) + sum(down(c) + same(2 * c) for c in (w, 2 * w, 4 * w))


def resnet18_count(w: int, c_in: int, classes: int, stem_kernel: int = 3) -> int:
    return stem_kernel**2 * c_in * w + 2 * w + body_count(w) + 8 * w * classes + classes


def test_formula_reproduces_torchvision_imagenet_count() -> None:
    # The same body with torchvision's 7x7 RGB stem and a 1000-way head.
    assert resnet18_count(64, 3, 1000, stem_kernel=7) == TORCHVISION_RESNET18
    assert body_count(64) == 2724 * 64**2 + 148 * 64 == 11_166_976


@pytest.mark.parametrize(("width", "c_in", "classes"), [(64, 1, 10), (64, 3, 1000), (16, 3, 10)])
def test_parameter_count(width: int, c_in: int, classes: int) -> None:
    model = resnet18(classes, c_in, width=width)
    assert count_parameters(model) == resnet18_count(width, c_in, classes)


def test_known_counts() -> None:
    assert count_parameters(resnet18()) == 11_172_810  # 28x28, 1 channel, 10 classes
    assert count_parameters(resnet18(in_channels=3)) == 11_173_962  # the usual CIFAR-10 count
    assert count_parameters(resnet18(width=16)) == 701_178
    # Differs from torchvision's only in the stem (3x3 instead of 7x7 weights).
    swap_stem = -3 * 3 * 3 * 64 + 7 * 7 * 3 * 64
    assert count_parameters(resnet18(1000, 3)) + swap_stem == TORCHVISION_RESNET18


@pytest.mark.parametrize(("c_in", "size"), [(1, 28), (3, 32), (1, 32), (3, 28)])
def test_shapes_and_backward(c_in: int, size: int) -> None:
    model = resnet18(10, c_in, size, width=8)
    assert_trains(model, torch.randn(3, c_in, size, size), 10)


def test_stage_shapes_at_32() -> None:
    model = resnet18(10, 3, 32, width=4).eval()
    shapes = {}
    for name in ("conv1", "layer1", "layer2", "layer3", "layer4"):
        getattr(model, name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape))
        )
    model(torch.randn(2, 3, 32, 32))
    assert shapes == {
        "conv1": (2, 4, 32, 32),  # 3x3 stride-1 stem, no max-pool
        "layer1": (2, 4, 32, 32),
        "layer2": (2, 8, 16, 16),
        "layer3": (2, 16, 8, 8),
        "layer4": (2, 32, 4, 4),
    }
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())


def test_torchvision_module_names() -> None:
    keys = resnet18(width=4).state_dict().keys()
    expected = ["conv1.weight", "bn1.running_mean", "layer2.0.downsample.0.weight"]
    expected += ["layer4.1.bn2.weight", "fc.weight", "fc.bias"]
    assert set(expected) <= set(keys)
    assert "layer1.0.downsample.0.weight" not in keys  # stage 1 keeps shape: identity shortcut


def test_train_and_eval_modes() -> None:
    torch.manual_seed(0)
    model = resnet18(width=4)
    x = torch.randn(4, 1, 28, 28)
    y_train = model.train()(x)
    model.eval()
    assert not torch.allclose(y_train, model(x), atol=1e-3)
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="small-image"):
        resnet18(image_size=224)
    with pytest.raises(ValueError):
        ResNet([2, 2, 2], width=8)


def test_seed_gives_identical_models() -> None:
    torch.manual_seed(5)
    a = resnet18(width=8)
    torch.manual_seed(5)
    assert same_state(a, resnet18(width=8))
