"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012) in torchvision's single-tower form, and ZFNet
(Zeiler & Fergus, 2013): seed 002's first classic CNNs, built from convrnn's layers.

Both are "5 convolutions (ReLU, 3 max-pools) → 3 fully connected layers" at 224×224×3:

    AlexNet (torchvision):  conv 11×11/4 64 → pool 3/2 → conv 5×5 192 → pool 3/2 → conv 3×3 384
                            → conv 3×3 256 → conv 3×3 256 → pool 3/2 → [6×6×256] → FC 4096 → FC 4096 → FC 1000
    ZFNet (paper, Fig. 3):  conv 7×7/2 96 → pool 3/2 → conv 5×5/2 256 → pool 3/2 → conv 3×3 384
                            → conv 3×3 384 → conv 3×3 256 → pool 3/2 → [6×6×256] → FC 4096 → FC 4096 → FC 1000
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convrnn.layers import Conv2d, Dropout
from convrnn.layers.pool import Pool2d


def _check_counts(where: str, **counts: int) -> None:
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}: argument '{name}' expected an int ≥ 1, got {value!r}")


def _check_dropout(where: str, dropout: float) -> None:
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"{where}: argument 'dropout' expected a float in [0, 1), got {dropout!r}")


class AlexNet(nn.Module):
    """AlexNet as torchvision defines it (``torchvision.models.alexnet``): the single-tower variant of
    Krizhevsky's "One weird trick" (2014) with 64-192-384-256-256 filters, not the 2012 paper's two
    GPU towers (48+48, 128+128, …, 60.97 M parameters) nor its local response normalisation.

        features:   conv 11×11 stride 4 pad 2 → ReLU → max-pool 3/2 → conv 5×5 pad 2 → ReLU → max-pool 3/2
                    → 3 × (conv 3×3 pad 1 → ReLU) → max-pool 3/2
        avgpool:    adaptive average pool to 6×6 (the identity at 224×224)
        classifier: dropout → FC 9216→4096 → ReLU → dropout → FC 4096→4096 → ReLU → FC 4096→classes

    Parameters at ``classes=1000``: 61,100,840 (torchvision's number). The module and parameter names
    are torchvision's, so ``model.load_state_dict(torchvision_alexnet.state_dict())`` loads its
    weights as they are.

    Shapes: ``x: (N, in_channels, H, W)`` with ``H, W ≥ 63`` → logits ``(N, classes)``.
    """

    def __init__(self, classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        _check_counts("AlexNet", classes=classes, in_channels=in_channels)
        _check_dropout("AlexNet", dropout)
        self.features = nn.Sequential(
            Conv2d(in_channels, 64, 11, stride=4, padding=2), nn.ReLU(),
            Pool2d(3, stride=2),
            Conv2d(64, 192, 5, padding=2), nn.ReLU(),
            Pool2d(3, stride=2),
            Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            Conv2d(256, 256, 3, padding=1), nn.ReLU(),
            Pool2d(3, stride=2),
        )
        # convrnn has no adaptive pooling layer; torch's (no parameters) keeps torchvision's behaviour
        # at other input sizes.
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
            Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class ZFNet(nn.Module):
    """ZFNet (Zeiler & Fergus, "Visualizing and understanding convolutional networks", 2013, Fig. 3):
    AlexNet with a 7×7 stride-2 first layer (96 filters) and a stride-2 second layer, dense (one
    tower), without the paper's contrast normalisation across feature maps.

        features:   conv 7×7 stride 2 pad 1 (96) → ReLU → max-pool 3/2 → conv 5×5 stride 2 (256) → ReLU
                    → max-pool 3/2 → conv 3×3 pad 1 (384) → ReLU → conv 3×3 pad 1 (384) → ReLU
                    → conv 3×3 pad 1 (256) → ReLU → max-pool 3/2
        classifier: FC 9216→4096 → ReLU → dropout → FC 4096→4096 → ReLU → dropout → FC 4096→classes

    The pools round up (``ceil_mode``) so that the feature maps have the paper's sizes at 224×224:
    110 → 55 → 26 → 13 → 6. Parameters at ``classes=1000``: 62,357,608 (the paper states none;
    this is the count of its Fig. 3).

    Shapes: ``x: (N, in_channels, 224, 224)`` → logits ``(N, classes)`` (other sizes whose last map
    is 6×6 work too).
    """

    def __init__(self, classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        _check_counts("ZFNet", classes=classes, in_channels=in_channels)
        _check_dropout("ZFNet", dropout)
        self.features = nn.Sequential(
            Conv2d(in_channels, 96, 7, stride=2, padding=1), nn.ReLU(),
            Pool2d(3, stride=2, ceil_mode=True),
            Conv2d(96, 256, 5, stride=2), nn.ReLU(),
            Pool2d(3, stride=2, ceil_mode=True),
            Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            Conv2d(384, 384, 3, padding=1), nn.ReLU(),
            Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            Pool2d(3, stride=2, ceil_mode=True),
        )
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), Dropout(dropout),
            nn.Linear(4096, classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        features = self.features(x)
        if not torch.jit.is_tracing() and tuple(features.shape[1:]) != (256, 6, 6):
            raise ValueError(
                f"ZFNet: argument 'x' expected images whose last feature map is 256×6×6 (224×224 inputs), "
                f"got shape {tuple(x.shape)} giving {tuple(features.shape[1:])}"
            )
        return self.classifier(torch.flatten(features, 1))
