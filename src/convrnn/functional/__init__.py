"""Pure tensor functions: padding with every boundary condition, N-d convolution and
transposed convolution, every pooling kind, maxout, and shape arithmetic.

Shapes follow PyTorch: ``x: (N, C, *spatial)`` with 1, 2 or 3 spatial dimensions.
"""

from convrnn.functional.boundary import BOUNDARIES, normalize_padding, pad
from convrnn.functional.conv import conv, conv_transpose, resolve_padding
from convrnn.functional.maxout import maxout
from convrnn.functional.pool import KINDS as POOL_KINDS
from convrnn.functional.pool import global_pool, pool
from convrnn.functional.shapes import (
    ReceptiveField,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    receptive_field,
    same_padding,
)

__all__ = [
    "BOUNDARIES",
    "POOL_KINDS",
    "ReceptiveField",
    "conv",
    "conv_output_size",
    "conv_transpose",
    "conv_transpose_output_size",
    "global_pool",
    "maxout",
    "normalize_padding",
    "pad",
    "pool",
    "pool_output_size",
    "receptive_field",
    "resolve_padding",
    "same_padding",
]
