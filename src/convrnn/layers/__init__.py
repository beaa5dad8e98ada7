"""``torch.nn.Module`` layers over :mod:`convrnn.functional`: convolution, pooling, glue blocks;
the recurrent engine lives in :mod:`convrnn.layers.recurrent`."""

from convrnn.layers.blocks import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    Dropout,
    Flatten,
    Parallel,
    Residual,
    Unflatten,
)
from convrnn.layers.conv import (
    Conv,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    SeparableConv,
    SharedFilterConv,
)

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Conv",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Dropout",
    "Flatten",
    "Parallel",
    "Residual",
    "SeparableConv",
    "SharedFilterConv",
    "Unflatten",
]
