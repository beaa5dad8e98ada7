"""A small ResNet (He et al., 2015) for 28×28 images: convolution, batch norm, residual connections."""

from __future__ import annotations

from torch import Tensor, nn

from convrnn.layers import BatchNorm2d, Conv2d, Flatten, Residual
from convrnn.layers.pool import GlobalPool


def basic_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """Two 3×3 convolutions with batch norm around a shortcut, then ReLU:
    ``y = ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x))``; the shortcut is a strided 1×1
    convolution + BN when the shape changes, the identity otherwise."""
    body = nn.Sequential(
        Conv2d(in_channels, out_channels, 3, stride=stride, padding="same", bias=False),
        BatchNorm2d(out_channels), nn.ReLU(),
        Conv2d(out_channels, out_channels, 3, padding="same", bias=False), BatchNorm2d(out_channels),
    )
    shortcut = None
    if stride != 1 or in_channels != out_channels:
        shortcut = nn.Sequential(Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                 BatchNorm2d(out_channels))
    return nn.Sequential(Residual(body, shortcut), nn.ReLU())


class ResNet(nn.Module):
    """Stem 3×3 conv → stages of basic blocks (each stage after the first halves the size and
    doubles the channels) → global average pool → FC.

    Shapes: ``x: (N, in_channels, H, W)`` → logits ``(N, classes)``.
    """

    def __init__(self, in_channels: int = 1, classes: int = 10, width: int = 32,
                 blocks: tuple[int, ...] = (2, 2, 2), dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            Conv2d(in_channels, width, 3, padding="same", bias=False), BatchNorm2d(width), nn.ReLU(),
        ]
        channels = width
        for stage, count in enumerate(blocks):
            out = width * 2 ** stage
            for index in range(count):
                stride = 2 if stage > 0 and index == 0 else 1
                layers.append(basic_block(channels, out, stride))
                channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(GlobalPool("avg"), Flatten(), nn.Dropout(dropout), nn.Linear(channels, classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
