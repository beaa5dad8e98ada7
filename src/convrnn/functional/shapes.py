"""Shape arithmetic of the seeds: output sizes of convolution, transposed convolution and pooling,
and the receptive field, jump and start of a stack of layers.

Per spatial dimension, with input size ``n``, kernel ``k``, stride ``s``, dilation ``d`` and padding
``p_lo``/``p_hi``, a dilated kernel spans ``k_eff = d·(k − 1) + 1`` cells and

    convolution / pooling:   n_out = ⌊(n + p_lo + p_hi − k_eff) / s⌋ + 1
    (ceil_mode pooling:      n_out = ⌈(n + p_lo + p_hi − k_eff) / s⌉ + 1, minus one if the
                             last window would start inside the high padding)
    transposed convolution:  n_out = (n − 1)·s − p_lo − p_hi + k_eff + output_padding

"same" padding keeps ``n_out = ⌈n / s⌉`` for any stride by padding
``total = max((⌈n/s⌉ − 1)·s + k_eff − n, 0)`` cells, ``⌊total/2⌋`` low and the rest high.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from torch import SymInt

from convrnn.functional._checks import check_flag, check_int


def _check_size(n: object, where: str) -> None:
    """An input length: an int ≥ 0, or a symbolic size (``torch.export``), which is left free."""
    if not isinstance(n, SymInt):
        check_int("n", n, where=where, minimum=0)


def _check_window(where: str, kernel: object, stride: object, dilation: object) -> None:
    check_int("kernel", kernel, where=where, minimum=1)
    check_int("stride", stride, where=where, minimum=1)
    check_int("dilation", dilation, where=where, minimum=1)


def _padding_pair(padding: object, where: str) -> tuple[int, int]:
    """``padding`` as ``(low, high)``: an int ≥ 0 or a pair of them."""
    if isinstance(padding, tuple | list) and len(padding) == 2:
        low, high = padding
    elif isinstance(padding, tuple | list):
        raise ValueError(f"{where}: argument 'padding' expected an int ≥ 0 or a (low, high) pair, got {padding!r}")
    else:
        low = high = padding
    for value in (low, high):
        try:
            check_int("padding", value, where=where, minimum=0)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{where}: argument 'padding' expected an int ≥ 0 or a (low, high) pair of them, "
                              f"got {padding!r}") from None
    return int(low), int(high)  # type: ignore[call-overload]


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """Number of input cells a dilated kernel spans: ``d·(k − 1) + 1``."""
    return dilation * (kernel - 1) + 1


def conv_output_size(n: int, kernel: int, stride: int = 1, padding: int | tuple[int, int] = 0,
                     dilation: int = 1) -> int:
    """Output length of a convolution along one dimension (0 when the kernel does not fit).

    ``n ≥ 0``, ``kernel``, ``stride``, ``dilation`` ≥ 1 and ``padding`` ≥ 0 (an int or a ``(low, high)``
    pair) are checked: a ``ValueError``/``TypeError`` names the argument otherwise.
    """
    _check_size(n, "conv_output_size")
    _check_window("conv_output_size", kernel, stride, dilation)
    low, high = _padding_pair(padding, "conv_output_size")
    span = n + low + high - effective_kernel(kernel, dilation)
    return span // stride + 1 if span >= 0 else 0


def pool_output_size(n: int, kernel: int, stride: int | None = None,
                     padding: int | tuple[int, int] = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output length of a pooling window along one dimension (PyTorch's ``ceil_mode`` rule); the
    arguments are checked as :func:`conv_output_size` checks them (``stride=None`` means ``kernel``)."""
    where = "pool_output_size"
    _check_size(n, where)
    stride = kernel if stride is None else stride
    _check_window(where, kernel, stride, dilation)
    low, high = _padding_pair(padding, where)
    ceil_mode = check_flag("ceil_mode", ceil_mode, where=where)
    span = n + low + high - effective_kernel(kernel, dilation)
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    # the last window must start inside the input or the low padding, never in the high padding
    if (out - 1) * stride >= n + low:
        out -= 1
    return out


def conv_transpose_output_size(n: int, kernel: int, stride: int = 1,
                               padding: int | tuple[int, int] = 0, dilation: int = 1,
                               output_padding: int = 0) -> int:
    """Output length of a transposed convolution ("deconvolution") along one dimension; the
    arguments are checked as :func:`conv_output_size` checks them, with
    ``0 ≤ output_padding < max(stride, dilation)``, and a ``ValueError`` when the padding crops the
    whole output."""
    where = "conv_transpose_output_size"
    if not isinstance(n, SymInt):
        check_int("n", n, where=where, minimum=1)
    _check_window(where, kernel, stride, dilation)
    low, high = _padding_pair(padding, where)
    check_int("output_padding", output_padding, where=where, minimum=0, maximum=max(stride, dilation) - 1)
    out = (n - 1) * stride - low - high + effective_kernel(kernel, dilation) + output_padding
    if not isinstance(out, SymInt) and out < 1:
        raise ValueError(f"{where}: argument 'padding' expected to crop less than the whole output of n={n} "
                         f"inputs, got (low, high) = ({low}, {high}), which leaves {out} cells")
    return (n - 1) * stride - low - high + effective_kernel(kernel, dilation) + output_padding


def same_padding(n: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """``(low, high)`` padding that gives ``⌈n / s⌉`` outputs; ``high`` gets the odd cell (arguments
    checked as in :func:`conv_output_size`)."""
    _check_size(n, "same_padding")
    _check_window("same_padding", kernel, stride, dilation)
    if stride == 1:   # the same for every n: no expression in n (a symbolic n stays free when exported)
        total = effective_kernel(kernel, dilation) - 1
    else:
        total = max((math.ceil(n / stride) - 1) * stride + effective_kernel(kernel, dilation) - n, 0)
    return total // 2, total - total // 2


def full_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """``(low, high)`` padding of a "full" convolution: every partial overlap, ``k_eff − 1`` each side."""
    extra = effective_kernel(kernel, dilation) - 1
    return extra, extra


@dataclass(frozen=True)
class ReceptiveField:
    """Geometry of one unit of a layer's output, in input cells along one dimension.

    ``size``: cells of the input that can influence the unit (r); ``jump``: distance in input cells
    between neighbouring units (j, the product of strides); ``start``: centre of the first unit's
    field in input coordinates (negative when it lies in the padding).
    """

    size: int
    jump: int
    start: float


def receptive_field(layers: Iterable[tuple[int, int, int, int]]) -> list[ReceptiveField]:
    """Receptive field after each layer of a stack, along one dimension.

    Args:
        layers: ``(kernel, stride, dilation, padding_low)`` per layer, input side first. Layers
            without a window (ReLU, batch norm) are ``(1, 1, 1, 0)``.

    Returns:
        One :class:`ReceptiveField` per layer, using
        ``j_out = j_in·s``, ``r_out = r_in + (k_eff − 1)·j_in``,
        ``start_out = start_in + ((k_eff − 1)/2 − p_lo)·j_in`` from ``r = j = 1``, ``start = 0``.
    """
    where = "receptive_field"
    if isinstance(layers, str | bytes) or not hasattr(layers, "__iter__"):
        raise TypeError(f"{where}: argument 'layers' expected an iterable of (kernel, stride, dilation, "
                        f"padding_low) tuples, got {type(layers).__name__}")
    size, jump, start = 1, 1, 0.0
    out = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, tuple | list) or len(layer) != 4:
            raise ValueError(f"{where}: argument 'layers' expected (kernel, stride, dilation, padding_low) "
                             f"per layer, got {layer!r} at index {index}")
        kernel, stride, dilation, padding_low = layer
        _check_window(where, kernel, stride, dilation)
        check_int("padding_low", padding_low, where=where, minimum=0)
        k_eff = effective_kernel(kernel, dilation)
        size = size + (k_eff - 1) * jump
        start = start + ((k_eff - 1) / 2 - padding_low) * jump
        jump = jump * stride
        out.append(ReceptiveField(size, jump, start))
    return out


def output_shape(input_shape: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                 padding: Sequence[tuple[int, int]], dilation: Sequence[int]) -> tuple[int, ...]:
    """Spatial output shape of a convolution, one :func:`conv_output_size` per dimension."""
    return tuple(
        conv_output_size(n, k, s, p, d)
        for n, k, s, p, d in zip(input_shape, kernel, stride, padding, dilation, strict=True)
    )
