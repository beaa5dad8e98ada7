"""GoogLeNet (Szegedy et al., "Going deeper with convolutions", 2014) and its Inception v1 block —
seed 002's "1×1 convolutions" reducing channels before wide filters — built from convrnn's layers
with torchvision's module names; and :class:`InceptionNet`, a stack of the same blocks sized for
small images.

An Inception block runs four branches side by side on the same input and concatenates them along
the channels:

    y = [ conv1×1(x) ; conv3×3(conv1×1(x)) ; convK×K(conv1×1(x)) ; conv1×1(maxpool3×3/1(x)) ]

each convolution being ``ReLU(BN(W ⋆ x))`` (torchvision's ``BasicConv2d``: no bias, batch norm with
ε = 0.001). The paper's third branch is 5×5; torchvision's is 3×3 ("a known bug", pytorch/vision#906),
and :class:`GoogLeNet` follows torchvision so that its weights load.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrnn.layers import BatchNorm2d, Conv2d, Dropout
from convrnn.layers.pool import Pool2d
from convrnn.models.alexnet import _check_counts, _check_dropout


class ConvBN(nn.Module):
    """``y = ReLU(BN(W ⋆ x))``: a convolution without bias, batch norm (ε = 0.001) and ReLU
    (torchvision's ``BasicConv2d``; parameters ``conv.weight``, ``bn.weight``, ``bn.bias``).

    Shapes: ``x: (N, in_channels, H, W)`` → ``(N, out_channels, H', W')``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        self.conv = Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Inception v1 block: four branches concatenated along the channels (see the module docstring).

        branch1: 1×1 (ch1x1)
        branch2: 1×1 (ch3x3red) → 3×3 pad 1 (ch3x3)
        branch3: 1×1 (ch5x5red) → K×K pad K//2 (ch5x5), K = ``wide_kernel`` (3 as torchvision, 5 as the paper)
        branch4: max-pool 3×3 stride 1 pad 1 → 1×1 (pool_proj)

    Shapes: ``x: (N, in_channels, H, W)`` → ``(N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)``.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, *, wide_kernel: int = 3) -> None:
        super().__init__()
        _check_counts("Inception", in_channels=in_channels, ch1x1=ch1x1, ch3x3red=ch3x3red, ch3x3=ch3x3,
                      ch5x5red=ch5x5red, ch5x5=ch5x5, pool_proj=pool_proj)
        if wide_kernel not in (3, 5):
            raise ValueError(f"Inception: argument 'wide_kernel' expected 3 or 5, got {wide_kernel!r}")
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = ConvBN(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(ConvBN(in_channels, ch3x3red, 1), ConvBN(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(ConvBN(in_channels, ch5x5red, 1),
                                     ConvBN(ch5x5red, ch5x5, wide_kernel, padding=wide_kernel // 2))
        self.branch4 = nn.Sequential(Pool2d(3, stride=1, padding=1, ceil_mode=True),
                                     ConvBN(in_channels, pool_proj, 1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """GoogLeNet's auxiliary classifier: adaptive average pool to 4×4 → 1×1 ConvBN (128) → FC 2048→1024
    → ReLU → dropout → FC 1024→classes.

    Shapes: ``x: (N, in_channels, H, W)`` → logits ``(N, classes)``.
    """

    def __init__(self, in_channels: int, classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = ConvBN(in_channels, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, classes)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNetOutputs(NamedTuple):
    """What :class:`GoogLeNet` returns in training mode with auxiliary heads (torchvision's order)."""

    logits: Tensor
    aux_logits2: Tensor
    aux_logits1: Tensor


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1) as torchvision defines it (``torchvision.models.googlenet``).

        conv 7×7/2 (64) → max-pool 3/2 → conv 1×1 (64) → conv 3×3 (192) → max-pool 3/2
        → inception 3a, 3b → max-pool 3/2 → 4a [aux1] 4b 4c 4d [aux2] 4e → max-pool 2/2
        → 5a, 5b → global average pool → dropout → FC 1024→classes

    Every convolution is a :class:`ConvBN` (torchvision's batch-normalised form; the paper has none);
    the pools round up (``ceil_mode``). ``aux_logits`` adds the paper's two auxiliary classifiers
    after 4a and 4d; they run only in training mode, where the forward returns
    :class:`GoogLeNetOutputs` ``(logits, aux_logits2, aux_logits1)`` (weight them 0.3 each in the
    loss, as the paper does); in eval mode it returns the logits alone.

    Parameters at ``classes=1000``: 6,624,904 without the auxiliary heads (torchvision's number), and
    13,004,888 with them (torchvision's ``googlenet(aux_logits=True)``). The names are torchvision's,
    so its state dict loads as it is. ``wide_kernel=5`` gives the paper's 5×5 third branch
    (7,005,832 parameters) — then torchvision's weights no longer fit.

    Shapes: ``x: (N, in_channels, H, W)`` with ``H, W ≥ 15`` → logits ``(N, classes)``.
    """

    def __init__(self, classes: int = 1000, in_channels: int = 3, *, aux_logits: bool = False,
                 dropout: float = 0.2, aux_dropout: float = 0.7, wide_kernel: int = 3) -> None:
        super().__init__()
        _check_counts("GoogLeNet", classes=classes, in_channels=in_channels)
        _check_dropout("GoogLeNet", dropout)
        _check_dropout("GoogLeNet", aux_dropout)
        self.aux_logits = bool(aux_logits)

        def block(*channels: int) -> Inception:
            return Inception(*channels, wide_kernel=wide_kernel)

        self.conv1 = ConvBN(in_channels, 64, 7, stride=2, padding=3)
        self.maxpool1 = Pool2d(3, stride=2, ceil_mode=True)
        self.conv2 = ConvBN(64, 64, 1)
        self.conv3 = ConvBN(64, 192, 3, padding=1)
        self.maxpool2 = Pool2d(3, stride=2, ceil_mode=True)
        self.inception3a = block(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = block(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = Pool2d(3, stride=2, ceil_mode=True)
        self.inception4a = block(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = block(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = block(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = block(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = block(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = Pool2d(2, stride=2, ceil_mode=True)
        self.inception5a = block(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = block(832, 384, 192, 384, 48, 128, 128)
        self.aux1 = InceptionAux(512, classes, aux_dropout) if aux_logits else None
        self.aux2 = InceptionAux(528, classes, aux_dropout) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = Dropout(dropout)
        self.fc = nn.Linear(1024, classes)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if aux1 is not None and aux2 is not None:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


# InceptionNet's default: a 3×3 stem, five blocks, two max-pools — 28×28 → 14×14 → 7×7
SMALL_BLOCKS: tuple[tuple[int, ...] | str, ...] = (
    "M", (16, 16, 24, 4, 8, 8), (24, 24, 32, 8, 12, 12), "M", (32, 32, 48, 8, 16, 16), (40, 40, 56, 8, 20, 20),
)


class InceptionNet(nn.Module):
    """A GoogLeNet for small images: a 3×3 :class:`ConvBN` stem → :class:`Inception` blocks and
    3×3/2 max-pools → global average pool → dropout → FC.

    ``blocks`` lists ``"M"`` (max-pool 3×3, stride 2, rounding up) and Inception widths
    ``(ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)``; each block's input is the previous
    output. The default (:data:`SMALL_BLOCKS`, ``stem=32``) has 4 Inception blocks over 28×28
    Fashion-MNIST: 28 → 14 → 7, 136 channels at the end.

    Shapes: ``x: (N, in_channels, H, W)`` → logits ``(N, classes)``.
    """

    def __init__(self, in_channels: int = 1, classes: int = 10, stem: int = 32,
                 blocks: Sequence[Sequence[int] | str] = SMALL_BLOCKS, dropout: float = 0.2,
                 wide_kernel: int = 3) -> None:
        super().__init__()
        _check_counts("InceptionNet", in_channels=in_channels, classes=classes, stem=stem)
        _check_dropout("InceptionNet", dropout)
        layers: list[nn.Module] = [ConvBN(in_channels, stem, 3, padding=1)]
        channels = stem
        for spec in blocks:
            if spec == "M":
                layers.append(Pool2d(3, stride=2, padding=1))
            elif not isinstance(spec, str) and isinstance(spec, Sequence) and len(spec) == 6:
                block = Inception(channels, *spec, wide_kernel=wide_kernel)
                layers.append(block)
                channels = block.out_channels
            else:
                raise ValueError(f"InceptionNet: argument 'blocks' expected 'M' or 6 channel counts per entry, "
                                 f"got {spec!r}")
        self.features = nn.Sequential(*layers)
        self.dropout = Dropout(dropout)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.dropout(self.features(x).mean(dim=(2, 3))))
