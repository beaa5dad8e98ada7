"""A fully convolutional network for per-pixel labels (Long, Shelhamer & Darrell, 2015, "FCN").

No fully connected layer anywhere, so the network takes images of any size and returns one score
vector per pixel. Strided convolutions go down, transposed convolutions ("de-convolutions") go
back up, and skip connections add the finer encoder maps to the upsampled coarse ones, as FCN
fuses pool4/pool3 with its upsampled scores — here the fusion happens on features, before the
next convolution, which lets the fine map's detail and the coarse map's context mix::

    e_0 = stem(x)                                                  (N, c_0, H, W)
    e_i = block_i(down_i(e_{i−1}))       down_i: conv 3×3, stride 2 → (N, c_i, ⌈H_{i−1}/2⌉, …)
    u_L = e_L
    u_i = block'_i(up_i(u_{i+1}, output_size = size(e_i)) + e_i)    up_i: transposed conv 3×3, stride 2
    y   = head(u_0)                      1×1 conv → (N, K, H, W) class scores

Every conv is followed by batch norm and ReLU. ``output_size`` picks, among the two sizes a
stride-2 transposed convolution can produce (2n − 1 or 2n), the one the encoder had, so H and W
need not be multiples of 2^L. The 3×3 transposed kernel (padding 1) puts upsampled cell i at 2i,
on the encoder's grid; a 4×4 kernel would avoid the checkerboard overlap pattern (Odena et al.,
2016) but shifts the map by half a cell per stage, and on the digit canvases it learnt markedly
slower (mean IoU 0.16 against 0.48 after 300 steps of batch 32).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.layers.blocks import BatchNorm2d
from convrnn.layers.conv import Conv, ConvTranspose


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    # 3×3 with one cell of zeros each side: n outputs at stride 1, ⌈n/2⌉ at stride 2
    return nn.Sequential(Conv(in_channels, out_channels, 3, stride=stride, padding=1, bias=False, dims=2),
                         BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class FCN(nn.Module):
    """Fully convolutional segmentation network (see the module docstring for the equations).

    Args:
        in_channels: C of the input.
        num_classes: K, scores per pixel.
        channels: ``(c_0, …, c_L)``, the width at each scale; ``L = len(channels) − 1`` halvings.
        convs_per_scale: 3×3 convolutions after each down (and up) step, ≥ 1.

    Shapes: ``x: (N, C, H, W)`` → ``(N, K, H, W)`` for any H, W ≥ 1.
    Receptive field of the bottom features with ``channels`` of length 4 and one conv per
    scale: 45 pixels, enough to see a whole 28×28 MNIST digit from any of its stroke pixels.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 11,
                 channels: Sequence[int] = (32, 64, 128, 256), convs_per_scale: int = 1) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("convs_per_scale", convs_per_scale)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"FCN: argument '{name}' expected an int ≥ 1, got {value!r}")
        channels = tuple(channels)
        if len(channels) < 2 or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1
                                        for c in channels):
            raise ValueError(f"FCN: argument 'channels' expected at least two ints ≥ 1, got {channels!r}")
        self.in_channels, self.num_classes, self.channels = in_channels, num_classes, channels

        def convs(width: int) -> nn.Sequential:
            return nn.Sequential(*(_conv_bn_relu(width, width) for _ in range(convs_per_scale)))

        self.stem = _conv_bn_relu(in_channels, channels[0])
        self.down = nn.ModuleList(
            nn.Sequential(_conv_bn_relu(c_in, c_out, stride=2), convs(c_out))
            for c_in, c_out in pairwise(channels))
        self.up = nn.ModuleList(
            ConvTranspose(c_in, c_out, 3, stride=2, padding=1, bias=False, dims=2)
            for c_in, c_out in zip(channels[:0:-1], channels[-2::-1], strict=True))
        self.fuse = nn.ModuleList(nn.Sequential(BatchNorm2d(c), nn.ReLU(inplace=True), convs(c))
                                  for c in channels[-2::-1])
        self.head = Conv.pointwise(channels[0], num_classes, dims=2)

    def forward(self, x: Tensor) -> Tensor:
        """Class scores (logits) ``(N, K, H, W)`` for ``x: (N, C, H, W)``."""
        check_tensor("x", x, dims=4, floating=True, where="FCN")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"FCN: argument 'x' expected {self.in_channels} channels (N, C, H, W), "
                             f"got shape {tuple(x.shape)}")
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up, fuse in zip(self.up, self.fuse, strict=True):
            skip = skips.pop()
            y = fuse(up(y, output_size=skip.shape[-2:]) + skip)
        return self.head(y)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, num_classes={self.num_classes}, channels={self.channels}"


__all__ = ["FCN"]
