"""The seeds' image classifiers: the MNIST CNN "2 × (convolution + ReLU + max-pool) + FC + softmax",
and LeNet-5 (LeCun et al., 1998)."""

from __future__ import annotations

from torch import Tensor, nn

from convrnn.layers import Conv2d, Dropout, Flatten
from convrnn.layers.pool import Pool


class SeedCNN(nn.Module):
    """2 × (convolution + ReLU + 2×2 max-pool) + fully connected + softmax (seed 001's MNIST net).

        x (N, C, H, W) → conv k×k 'same' → ReLU → pool → conv → ReLU → pool → vec
          → FC hidden → ReLU → dropout → FC classes  (logits; softmax lives in the loss)

    Shapes: ``x: (N, in_channels, H, W)`` with ``H, W`` divisible by 4 → logits ``(N, classes)``.
    """

    def __init__(self, in_channels: int = 1, classes: int = 10, image_size: tuple[int, int] = (28, 28),
                 channels: tuple[int, int] = (32, 64), kernel_size: int = 5, hidden: int = 128,
                 dropout: float = 0.25) -> None:
        super().__init__()
        height, width = image_size
        if height % 4 or width % 4:
            raise ValueError(f"SeedCNN: argument 'image_size' expected sides divisible by 4, got {image_size}")
        c1, c2 = channels
        self.features = nn.Sequential(
            Conv2d(in_channels, c1, kernel_size, padding="same"), nn.ReLU(),
            Pool((2, 2), kind="max"),
            Conv2d(c1, c2, kernel_size, padding="same"), nn.ReLU(),
            Pool((2, 2), kind="max"),
        )
        self.classifier = nn.Sequential(
            Flatten(), nn.Linear(c2 * (height // 4) * (width // 4), hidden), nn.ReLU(),
            Dropout(dropout), nn.Linear(hidden, classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) on 28×28 digits, the first layer padded to the paper's 32×32.

        C1: 6 @ 5×5 (padding 2) → tanh → S2: 2×2 average pool → C3: 16 @ 5×5 → tanh → S4: 2×2 average
        pool → C5: FC 120 → tanh → F6: FC 84 → tanh → output FC classes

    The paper's sparse C3 connection table and trainable subsampling coefficients are replaced by
    full connections and plain averages, as in most modern reimplementations.

    Shapes: ``x: (N, 1, 28, 28)`` → logits ``(N, classes)``.
    """

    def __init__(self, in_channels: int = 1, classes: int = 10, activation: str = "tanh",
                 pool: str = "avg") -> None:
        super().__init__()
        act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
        self.features = nn.Sequential(
            Conv2d(in_channels, 6, 5, padding=2, init="xavier"), act(), Pool((2, 2), kind=pool),
            Conv2d(6, 16, 5, init="xavier"), act(), Pool((2, 2), kind=pool),
        )
        self.classifier = nn.Sequential(
            Flatten(), nn.Linear(16 * 5 * 5, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
