"""Columns as time: a conv feature map ``(N, C, H, W)`` read left to right as a sequence ``(N, W, C·H)``.

Column w of the map becomes step w of the sequence; its feature f = c·H + h is the activation of
channel c at row h:

    s[n, w, c·H + h] = x[n, c, h, w]

so a CNN's width axis can feed a recurrent layer (and back). When images of one batch are padded
to the widest, :func:`column_lengths` follows each image's true width through the convolutions and
poolings (with :mod:`convrnn.functional.shapes`), giving the ``lengths`` the recurrent layer needs.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from convrnn.functional import shapes
from convrnn.functional._checks import check_int, check_tensor
from convrnn.functional.conv import resolve_padding
from convrnn.layers.conv import Conv
from convrnn.layers.pool import Pool

__all__ = ["ColumnsAsTime", "column_lengths", "columns_to_sequence", "output_width", "sequence_to_columns"]

# Layers that never change the width: activations, normalisation, dropout, identity.
_WIDTH_KEEPING = (nn.modules.activation.__name__, nn.modules.batchnorm.__name__,
                  nn.modules.normalization.__name__, nn.modules.instancenorm.__name__,
                  nn.modules.dropout.__name__, nn.modules.linear.__name__ + ".Identity")


def columns_to_sequence(x: Tensor) -> Tensor:
    """``(N, C, H, W)`` → ``(N, W, C·H)``: column w of the map is step w, feature c·H + h."""
    check_tensor("x", x, dims=4, where="columns_to_sequence")
    batch, channels, height, width = x.shape
    return x.permute(0, 3, 1, 2).reshape(batch, width, channels * height)


def sequence_to_columns(x: Tensor, channels: int, height: int) -> Tensor:
    """``(N, W, C·H)`` → ``(N, C, H, W)``, the inverse of :func:`columns_to_sequence`."""
    check_tensor("x", x, dims=3, where="sequence_to_columns")
    for name, value in (("channels", channels), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"sequence_to_columns: argument '{name}' expected an int ≥ 1, got {value!r}")
    batch, width, features = x.shape
    if features != channels * height:
        raise ValueError(f"sequence_to_columns: argument 'x' expected C·H = {channels}·{height} = "
                         f"{channels * height} features, got shape {tuple(x.shape)}")
    return x.reshape(batch, width, channels, height).permute(0, 2, 3, 1)


class ColumnsAsTime(nn.Module):
    """Module form of :func:`columns_to_sequence`; :meth:`inverse` is :func:`sequence_to_columns`.

    Shapes: ``x: (N, C, H, W)`` → ``(N, W, C·H)``. With ``channels`` and ``height`` given, the
    input is checked against them and :meth:`inverse` needs no sizes.
    """

    def __init__(self, channels: int | None = None, height: int | None = None) -> None:
        super().__init__()
        for name, value in (("channels", channels), ("height", height)):
            if value is not None:
                check_int(name, value, minimum=1, where="ColumnsAsTime")
        self.channels, self.height = channels, height

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x, dims=4, where="ColumnsAsTime")
        for name, want, got in (("channels", self.channels, x.shape[1]), ("height", self.height, x.shape[2])):
            if want is not None and got != want:
                raise ValueError(f"ColumnsAsTime: argument 'x' expected {name} {want}, got shape {tuple(x.shape)}")
        return columns_to_sequence(x)

    def inverse(self, x: Tensor, channels: int | None = None, height: int | None = None) -> Tensor:
        channels = self.channels if channels is None else channels
        height = self.height if height is None else height
        if channels is None or height is None:
            raise ValueError("ColumnsAsTime.inverse: arguments 'channels' and 'height' are needed when "
                             "the module was built without them, got None")
        return sequence_to_columns(x, channels, height)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, height={self.height}"


def output_width(width: int, layers: nn.Module | Iterable[nn.Module]) -> int:
    """The width after ``layers`` (applied in order) of an input ``width`` columns wide.

    Convolutions (:class:`convrnn.layers.Conv`, ``torch.nn.Conv1d/2d/3d``) and poolings
    (:class:`convrnn.layers.Pool`, ``torch.nn.MaxPool*``/``AvgPool*``) change it by the formulas of
    :mod:`convrnn.functional.shapes` along their last spatial axis; ``nn.Sequential`` is walked in
    order; activations, normalisation, dropout and identity keep it. Any other layer is refused
    (``TypeError``), since its effect on the width is unknown.
    """
    check_int("width", width, minimum=0, where="output_width")
    if not isinstance(layers, nn.Module) and (isinstance(layers, str | bytes) or not hasattr(layers, "__iter__")):
        raise TypeError(f"output_width: argument 'layers' expected a module or an iterable of modules, "
                        f"got {type(layers).__name__}")
    modules = [layers] if isinstance(layers, nn.Module) else list(layers)
    for module in modules:
        width = _one_layer(width, module)
    return width


def column_lengths(widths: Tensor, layers: nn.Module | Iterable[nn.Module]) -> Tensor:
    """:func:`output_width` of every entry of ``widths (N,)`` → ``(N,)`` int64 on the same device."""
    check_tensor("widths", widths, dims=1, where="column_lengths")
    if widths.is_floating_point() or widths.is_complex() or widths.dtype == torch.bool:
        raise TypeError(f"column_lengths: argument 'widths' expected integers, got dtype {widths.dtype}")
    if widths.device.type == "meta":
        raise ValueError("column_lengths: argument 'widths' expected a tensor with values, got one on the meta device")
    if widths.numel() and int(widths.min()) < 0:
        raise ValueError(f"column_lengths: argument 'widths' expected widths ≥ 0, got {widths.tolist()}")
    layers = [layers] if isinstance(layers, nn.Module) else list(layers)
    values = widths.tolist()
    known = {width: output_width(width, layers) for width in set(values)}
    return torch.tensor([known[width] for width in values], dtype=torch.long, device=widths.device)


def _one_layer(width: int, module: nn.Module) -> int:
    if isinstance(module, (nn.Sequential, nn.ModuleList)):
        return output_width(width, list(module))
    if isinstance(module, Conv):
        pairs = resolve_padding(module.padding, (width,), module.kernel_size[-1:], module.stride[-1:],
                                module.dilation[-1:], where="output_width")
        return shapes.conv_output_size(width, module.kernel_size[-1], module.stride[-1], pairs[0],
                                       module.dilation[-1])
    if isinstance(module, Pool):
        return shapes.pool_output_size(width, module.kernel_size[-1], module.stride[-1], module.padding[-1],
                                       module.dilation[-1], module.ceil_mode)
    if isinstance(module, nn.modules.conv._ConvNd) and not module.transposed:
        padding = module.padding
        if isinstance(padding, str):
            pairs = resolve_padding(padding, (width,), module.kernel_size[-1:], module.stride[-1:],
                                    module.dilation[-1:], where="output_width")
            padding = pairs[0]
        else:
            padding = padding[-1]
        return shapes.conv_output_size(width, module.kernel_size[-1], module.stride[-1], padding,
                                       module.dilation[-1])
    if isinstance(module, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
        def last(value: int | tuple[int, ...]) -> int:
            return value[-1] if isinstance(value, tuple) else value
        stride = module.stride if module.stride is not None else module.kernel_size
        dilation = getattr(module, "dilation", 1)
        return shapes.pool_output_size(width, last(module.kernel_size), last(stride), last(module.padding),
                                       last(dilation), module.ceil_mode)
    kind = type(module)
    if kind.__module__ in _WIDTH_KEEPING or f"{kind.__module__}.{kind.__name__}" in _WIDTH_KEEPING:
        return width
    raise TypeError(f"output_width: cannot tell how a {kind.__name__} layer changes the width; expected "
                    "convolutions, poolings, nn.Sequential, activations, normalisation or dropout")
