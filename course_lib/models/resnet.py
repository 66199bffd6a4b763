"""ResNet-18 (He et al., 2016) adapted to small images, as in torchvision but without torchvision.

The body is torchvision's ``resnet18``: four stages of two :class:`BasicBlock` each, with
``w, 2w, 4w, 8w`` channels (``w = 64`` in the paper) and stride 2 at the start of stages 2-4.
Module names follow torchvision (``conv1, bn1, layer1..4, fc``, ``downsample.0/1``), so the
state-dict keys of the body match. Two changes for 28x28 / 32x32 inputs, the usual CIFAR
adaptation: the stem is a 3x3 stride-1 convolution instead of 7x7 stride 2, and there is no
max-pool, so a 32x32 image reaches the last stage at 4x4 rather than 1x1::

    (N, C, 32, 32) -stem-> (N, w, 32, 32) -layer1-> (N, w, 32, 32) -layer2-> (N, 2w, 16, 16)
                   -layer3-> (N, 4w, 8, 8) -layer4-> (N, 8w, 4, 4) -avgpool-> (N, 8w) -fc-> (N, K)

(28x28 gives 28, 14, 7, 4.) Parameter count with ``C`` input channels and ``K`` classes::

    stem 9 C w + 2 w  +  body 2724 w^2 + 148 w  +  head 8 w K + K

At ``w = 64, C = 1, K = 10`` that is 11,172,810. Check: torchvision's ImageNet ResNet-18
(7x7 stem on 3 channels: 49 * 3 * 64 weights; 1000 classes) has 9408 + 128 + 11,166,976 +
513,000 = 11,689,512.

``init="default"`` keeps PyTorch's per-layer init; note that torchvision's constructor instead
applies ``kaiming_normal_(mode="fan_out")`` to every convolution.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.models.init import init_weights

__all__ = ["BasicBlock", "ResNet", "resnet18"]


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding 1, no bias (a batch norm follows)."""
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and an identity (or 1x1 projection) shortcut.

    ``out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``; the shortcut is a 1x1
    stride-``stride`` convolution + BN when the shape changes (torchvision's "option B").
    Parameters: ``9 c_in c + 9 c^2 + 4 c`` (+ ``c_in c + 2 c`` with a projection).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        # Not in place (torchvision's is): activation hooks of the diagnostics then see the
        # batch norm's output, not a tensor the ReLU overwrote afterwards.
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(c_out),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, c_in, H, W) -> (N, c_out, H / stride, W / stride)`` (sizes rounded up)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """A ResNet of :class:`BasicBlock` stages with a small-image stem.

    Args:
        blocks_per_stage: number of blocks in each of the four stages (``[2, 2, 2, 2]`` is
            ResNet-18, ``[3, 4, 6, 3]`` ResNet-34).
        num_classes: number of outputs.
        in_channels: image channels.
        width: channels of the stem and first stage; stage ``i`` has ``width * 2**i``.
        init: initialisation scheme, see :func:`~course_lib.models.init.init_weights`.

    Shape:
        input ``(N, in_channels, H, W)`` (any ``H, W >= 1``: the average pool is global),
        output ``(N, num_classes)``.
    """

    nonlinearity = "relu"  # read by init_weights for the gain

    def __init__(
        self,
        blocks_per_stage: list[int],
        num_classes: int = 10,
        in_channels: int = 1,
        width: int = 64,
        init: str = "default",
    ) -> None:
        super().__init__()
        if width < 1 or len(blocks_per_stage) != 4 or min(blocks_per_stage) < 1:
            raise ValueError(
                f"need width >= 1 and four stages of >= 1 block; got {width=}, {blocks_per_stage=}"
            )
        # Stem: 3x3 stride 1 and no max-pool, so small images keep their resolution.
        self.conv1 = conv3x3(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        c = width
        stages = []
        for i, n_blocks in enumerate(blocks_per_stage):
            c_out, stride = width * 2**i, 1 if i == 0 else 2
            blocks = [BasicBlock(c, c_out, stride)]
            blocks += [BasicBlock(c_out, c_out) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            c = c_out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        init_weights(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` of images ``(N, C, H, W)``."""
        x = self.relu(self.bn1(self.conv1(x)))  # (N, w, H, W)
        x = self.layer1(x)  # (N, w, H, W)
        x = self.layer2(x)  # (N, 2w, H/2, W/2)
        x = self.layer3(x)  # (N, 4w, H/4, W/4)
        x = self.layer4(x)  # (N, 8w, H/8, W/8)
        x = self.avgpool(x).flatten(1)  # (N, 8w): mean over the remaining positions
        return self.fc(x)  # (N, num_classes)


def resnet18(
    num_classes: int = 10,
    in_channels: int = 1,
    image_size: int = 28,
    width: int = 64,
    init: str = "default",
) -> ResNet:
    """ResNet-18 for small images (3x3 stem, no max-pool; see the module docstring).

    Args:
        num_classes: number of outputs.
        in_channels: 1 (Fashion-MNIST) or 3 (CIFAR-10).
        image_size: 28 or 32. The global average pool makes the network size-agnostic; the
            argument documents the intended input and rejects sizes the adaptation is not for.
        width: channels of the first stage (64 is the paper's; 16 gives a 0.7M-parameter
            network that trains on a CPU).
        init: initialisation scheme, see :func:`~course_lib.models.init.init_weights`.

    Returns:
        The network, with ``2724 w^2 + 148 w + 9 C w + 2 w + 8 w K + K`` parameters.
    """
    if not 8 <= image_size <= 64:
        raise ValueError(
            f"resnet18 here is the small-image (CIFAR-style) adaptation, for image sizes such as "
            f"28 or 32 (8 to 64 accepted); got {image_size}"
        )
    return ResNet([2, 2, 2, 2], num_classes, in_channels, width, init)
