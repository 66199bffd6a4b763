"""A small convolutional network for 28x28 / 32x32 images, quick to train on a laptop CPU.

Each block is ``Conv3x3 (padding 1) -> [BatchNorm] -> ReLU -> MaxPool 2x2``: the convolution
keeps the spatial size, the pool halves it (rounding down). A linear head reads the flattened
last feature map. With the defaults on Fashion-MNIST::

    (N, 1, 28, 28) -conv-> (N, 32, 28, 28) -pool-> (N, 32, 14, 14)
                   -conv-> (N, 64, 14, 14) -pool-> (N, 64, 7, 7) -flatten-> (N, 3136) -> (N, 10)

Parameters: 288 + 64 + 18,432 + 128 + 31,370 = 50,282 (most in the head). A convolution before
a batch norm has no bias, since the norm subtracts the per-channel mean and would cancel it.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.models.init import init_weights

__all__ = ["SmallCNN"]


class SmallCNN(nn.Module):
    """Conv-BN-ReLU-pool blocks and a linear head.

    Args:
        in_channels: image channels (1 for Fashion-MNIST, 3 for CIFAR-10).
        num_classes: number of outputs.
        channels: output channels of each block; one block per entry.
        image_size: height = width of the input; fixes the head's input size
            ``channels[-1] * (image_size // 2**len(channels))**2``.
        dropout: dropout probability before the head (0 adds no module).
        norm: put a ``BatchNorm2d`` after each convolution.
        init: initialisation scheme, see :func:`~course_lib.models.init.init_weights`.

    Shape:
        input ``(N, in_channels, image_size, image_size)``, output ``(N, num_classes)``.
    """

    nonlinearity = "relu"  # read by init_weights for the gain

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        channels: tuple[int, ...] = (32, 64),
        image_size: int = 28,
        dropout: float = 0.0,
        norm: bool = True,
        init: str = "default",
    ) -> None:
        super().__init__()
        if len(channels) == 0 or min(channels) < 1:
            raise ValueError(f"channels must be a non-empty tuple of positive ints; got {channels}")
        if image_size // 2 ** len(channels) < 1:
            raise ValueError(
                f"image_size={image_size} is too small for {len(channels)} blocks: each block "
                f"halves it, so it must be at least {2 ** len(channels)}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        self.image_size = image_size

        blocks: list[nn.Module] = []
        size, c_in = image_size, in_channels
        for c_out in channels:
            blocks.append(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=not norm))
            if norm:
                blocks.append(nn.BatchNorm2d(c_out))
            blocks += [nn.ReLU(), nn.MaxPool2d(2)]
            size, c_in = size // 2, c_out  # the pool floors odd sizes: 7 -> 3
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(c_in * size * size, num_classes)
        init_weights(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` of images ``(N, C, H, W)``."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"SmallCNN was built for {self.image_size}x{self.image_size} images (its head "
                f"size depends on it), got input of shape {tuple(x.shape)}"
            )
        x = self.features(x)  # (N, C, S, S) -> (N, channels[-1], S', S'), S' = S // 2**blocks
        return self.head(self.dropout(x.flatten(1)))  # (N, channels[-1] * S'^2) -> (N, classes)
