"""SmallCNN: shapes for 28x28 and 32x32 images, parameter count, batch norm modes."""

import pytest
import torch
from torch import nn

from course_lib.models import SmallCNN, count_parameters
from tests.models.helpers import assert_trains, same_state


def cnn_count(c_in: int, classes: int, channels: tuple[int, ...], size: int, norm: bool) -> int:
    """3x3 kernels, no conv bias under batch norm (2 c BN parameters instead), flattened head."""
    total = 0
    for c in channels:
        total += 9 * c_in * c + (2 * c if norm else c)
        c_in, size = c, size // 2
    return total + (c_in * size * size + 1) * classes


@pytest.mark.parametrize(("in_channels", "size"), [(1, 28), (3, 32), (3, 28), (1, 32)])
@pytest.mark.parametrize("channels", [(32, 64), (8, 16, 32)])
def test_shapes_backward_and_count(in_channels: int, size: int, channels: tuple) -> None:
    model = SmallCNN(in_channels, 10, channels=channels, image_size=size, dropout=0.2)
    assert_trains(model, torch.randn(3, in_channels, size, size), 10)
    assert count_parameters(model) == cnn_count(in_channels, 10, channels, size, True)


def test_default_count() -> None:
    # conv 288 + BN 64, conv 18,432 + BN 128, head 64 * 7 * 7 * 10 + 10 = 31,370
    assert count_parameters(SmallCNN()) == 50_282
    assert count_parameters(SmallCNN(norm=False)) == cnn_count(1, 10, (32, 64), 28, False)


def test_without_norm_has_no_batch_norm_and_conv_biases() -> None:
    model = SmallCNN(norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Conv2d))


def test_batch_norm_train_and_eval() -> None:
    torch.manual_seed(0)
    model = SmallCNN(channels=(4, 8))
    x = torch.randn(8, 1, 28, 28) * 3 + 1
    model.train()
    y_train = model(x)
    model.eval()
    y_eval = model(x)
    assert not torch.allclose(y_train, y_eval, atol=1e-3)
    torch.testing.assert_close(model(x), y_eval, rtol=0, atol=0)  # eval is deterministic
    assert model(x[:1]).shape == (1, 10)


def test_wrong_image_size_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="28x28"):
        SmallCNN()(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="too small"):
        SmallCNN(channels=(4, 4, 4, 4, 4), image_size=28)
    with pytest.raises(ValueError):
        SmallCNN(channels=())


def test_seed_gives_identical_models() -> None:
    torch.manual_seed(3)
    a = SmallCNN(3, image_size=32)
    torch.manual_seed(3)
    assert same_state(a, SmallCNN(3, image_size=32))
