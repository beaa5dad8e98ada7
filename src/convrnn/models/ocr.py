"""A line reader (CRNN, Shi, Bai & Yao 2015): CNN features, their columns read as time by a BiLSTM, CTC.

    image (N, 1, H, W) ─ S × [conv 3×3 'same' → batch norm → ReLU → max-pool] ─▶ (N, C_S, H/2^S, W')
      ─ columns as time ─▶ (N, W', C_S·H/2^S) ─ BiLSTM (L layers, lengths) ─▶ (N, W', 2·hidden)
      ─ dropout → CTC head ─▶ log y (N, W', classes + 1)

Every stage halves the height; the first ``width_pools`` stages also halve the width (pool 2×2,
then 2×1), so one time step covers 2^width_pools pixel columns. Images of a batch are padded on the
right to the widest; each stage zeroes the columns past each image's own width (followed through
the stage by :func:`convrnn.layers.columns.column_lengths`), and the BiLSTM gets the lengths, so in
``eval()`` mode the padding never changes a result.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.layers.blocks import BatchNorm2d, Dropout
from convrnn.layers.columns import column_lengths, columns_to_sequence
from convrnn.layers.conv import Conv2d
from convrnn.layers.ctc import CTCHead
from convrnn.layers.pool import Pool
from convrnn.layers.recurrent import RNN

__all__ = ["CRNN"]


class CRNN(nn.Module):
    """CNN → columns as time → bidirectional recurrent layers → CTC head (see the module docstring).

    Args:
        height: H, the image height (divisible by 2^len(channels)).
        classes: number of label classes (CTC adds the blank as symbol 0; class c is symbol c + 1).
        in_channels: C of the input images.
        channels: output channels of each conv stage (S = len(channels) stages).
        width_pools: how many of the first stages halve the width too.
        hidden: units per direction of the recurrent layers.
        layers: number of recurrent layers.
        cell: any cell of :class:`convrnn.layers.recurrent.RNN` ("lstm", "gru", …).
        dropout: between recurrent layers and before the head.

    Shapes: ``images: (N, C, H, W)``, ``widths: (N,)`` true widths or None (all W) →
    ``(log_probs (N, T, classes + 1), lengths (N,))`` with T = W / 2^width_pools (floored).
    """

    def __init__(self, height: int = 32, classes: int = 10, in_channels: int = 1,
                 channels: Sequence[int] = (32, 64, 128, 128), width_pools: int = 2, hidden: int = 128,
                 layers: int = 2, cell: str = "lstm", dropout: float = 0.2) -> None:
        super().__init__()
        channels = tuple(channels)
        if not channels or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in channels):
            raise ValueError(f"CRNN: argument 'channels' expected one int ≥ 1 per stage, got {channels!r}")
        if isinstance(height, bool) or not isinstance(height, int) or height < 1 or height % 2 ** len(channels):
            raise ValueError(f"CRNN: argument 'height' expected a multiple of 2^{len(channels)} (one halving per "
                             f"stage), got {height!r}")
        if not 0 <= width_pools <= len(channels):
            raise ValueError(f"CRNN: argument 'width_pools' expected 0 to {len(channels)}, got {width_pools!r}")
        self.height, self.classes, self.in_channels = height, classes, in_channels
        self.width_pools = width_pools
        stages = []
        previous = in_channels
        for index, count in enumerate(channels):
            pool = (2, 2) if index < width_pools else (2, 1)
            stages.append(nn.Sequential(Conv2d(previous, count, 3, padding="same", bias=False),
                                        BatchNorm2d(count), nn.ReLU(), Pool(pool, kind="max")))
            previous = count
        self.stages = nn.ModuleList(stages)
        features = channels[-1] * (height // 2 ** len(channels))
        self.rnn = RNN(cell, features, hidden, num_layers=layers, bidirectional=True, dropout=dropout)
        self.dropout = Dropout(dropout)
        self.head = CTCHead(2 * hidden, classes)

    def forward(self, images: Tensor, widths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_tensor("images", images, dims=4, floating=True, where="CRNN")
        batch, channels, height, width = images.shape
        if (channels, height) != (self.in_channels, self.height):
            raise ValueError(f"CRNN: argument 'images' expected (N, {self.in_channels}, {self.height}, W), "
                             f"got shape {tuple(images.shape)}")
        if widths is None:   # every image full width: no masking (and no data-dependent checks, so it exports)
            x = images
            for stage in self.stages:
                x = stage(x)
            if x.shape[-1] < 1:
                raise ValueError(f"CRNN: argument 'images' expected images at least {2 ** self.width_pools} columns "
                                 f"wide (one time step), got {width}")
            outputs, _ = self.rnn(columns_to_sequence(x))
            lengths = torch.full((batch,), x.shape[-1], dtype=torch.long, device=x.device)
            return self.head(self.dropout(outputs)), lengths
        check_tensor("widths", widths, dims=1, where="CRNN")
        widths = widths.cpu()
        if widths.shape[0] != batch or (batch and (int(widths.min()) < 1 or int(widths.max()) > width)):
            raise ValueError(f"CRNN: argument 'widths' expected {batch} widths in [1, {width}], got {widths.tolist()}")
        x = images
        for stage in self.stages:
            x = stage(x)
            widths = column_lengths(widths, stage)
            inside = torch.arange(x.shape[-1]) < widths.unsqueeze(1)
            x = x * inside.to(x.device, non_blocking=True).view(batch, 1, 1, -1)
        if batch and int(widths.min()) < 1:
            raise ValueError(f"CRNN: argument 'widths' expected images at least {2 ** self.width_pools} columns "
                             f"wide (one time step), got {int(widths.min())} steps for the narrowest")
        lengths = widths.to(x.device)
        outputs, _ = self.rnn(columns_to_sequence(x), lengths)
        return self.head(self.dropout(outputs)), lengths
