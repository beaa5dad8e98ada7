"""VGG (Simonyan & Zisserman, "Very deep convolutional networks for large-scale image recognition",
2014): stacks of 3×3 convolutions and 2×2 max-pools, then three fully connected layers — seed 002's
"deeper with small filters", built from convrnn's layers with torchvision's module names.

The configurations are the paper's Table 1 (an int is a 3×3 'same' convolution with that many
filters followed by ReLU, ``"M"`` a 2×2 max-pool of stride 2):

    A (VGG-11): 64 M 128 M 256 256 M 512 512 M 512 512 M
    B (VGG-13): 64 64 M 128 128 M 256 256 M 512 512 M 512 512 M
    D (VGG-16): 64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M
    E (VGG-19): 64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from convrnn.layers import BatchNorm2d, Conv2d, Dropout
from convrnn.layers.pool import Pool2d
from convrnn.models.alexnet import _check_counts, _check_dropout

VGG_CONFIGS: dict[int, tuple[int | str, ...]] = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    19: (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


class VGG(nn.Module):
    """VGG: ``features`` (the configuration's 3×3 convolutions and max-pools) → adaptive average pool
    to ``pooled``×``pooled`` → ``classifier`` (FC → ReLU → dropout → FC → ReLU → dropout → FC).

        conv layer:  y = ReLU(W ⋆ x + b)     (with ``batch_norm``: y = ReLU(BN(W ⋆ x + b)))

    ``layers`` is a sequence of ints (a 3×3 convolution, padding 1, with that many filters) and
    ``"M"`` (2×2 max-pool, stride 2), or a depth of :data:`VGG_CONFIGS` (11, 13, 16, 19).
    With the defaults (``hidden=4096``, ``pooled=7``, ``classes=1000``) this is
    ``torchvision.models.vgg{11,13,16,19}[_bn]``, module for module and name for name: VGG-11
    132,863,336 parameters, VGG-13 133,047,848, VGG-16 138,357,544, VGG-19 143,667,240 (batch norm
    adds 2 per filter: VGG-16-BN 138,365,992).

    Shapes: ``x: (N, in_channels, H, W)`` with ``H, W ≥ 2^pools`` → logits ``(N, classes)``.
    """

    def __init__(self, layers: int | Sequence[int | str] = 16, *, classes: int = 1000, in_channels: int = 3,
                 batch_norm: bool = False, hidden: int = 4096, pooled: int = 7, dropout: float = 0.5) -> None:
        super().__init__()
        if isinstance(layers, int) and not isinstance(layers, bool):
            if layers not in VGG_CONFIGS:
                raise ValueError(f"VGG: argument 'layers' expected a depth in {sorted(VGG_CONFIGS)} or a "
                                 f"sequence of channel counts and 'M', got {layers!r}")
            layers = VGG_CONFIGS[layers]
        if isinstance(layers, str) or not isinstance(layers, Sequence) or not any(
                isinstance(v, int) for v in layers):
            raise ValueError(f"VGG: argument 'layers' expected a sequence of channel counts and 'M' with at least "
                             f"one convolution, got {layers!r}")
        _check_counts("VGG", classes=classes, in_channels=in_channels, hidden=hidden, pooled=pooled)
        _check_dropout("VGG", dropout)
        modules: list[nn.Module] = []
        channels = in_channels
        for value in layers:
            if value == "M":
                modules.append(Pool2d(2, stride=2))
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                modules.append(Conv2d(channels, value, 3, padding=1))
                if batch_norm:
                    modules.append(BatchNorm2d(value))
                modules.append(nn.ReLU())
                channels = value
            else:
                raise ValueError(f"VGG: argument 'layers' expected ints ≥ 1 and 'M', got {value!r} in {layers!r}")
        self.features = nn.Sequential(*modules)
        # convrnn has no adaptive pooling layer; torch's (no parameters) is the identity when the last
        # map is already pooled×pooled (7×7 at 224×224) and keeps torchvision's behaviour otherwise.
        self.avgpool = nn.AdaptiveAvgPool2d((pooled, pooled))
        self.classifier = nn.Sequential(
            nn.Linear(channels * pooled * pooled, hidden), nn.ReLU(), Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), Dropout(dropout),
            nn.Linear(hidden, classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))
