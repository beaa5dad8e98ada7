"""Convolution layers: N-d ``Conv`` and ``ConvTranspose`` over :mod:`convrnn.functional`, and the seeds'
channel variants (pointwise, depthwise/layerwise, separable, same filter on each channel)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from convrnn.functional._checks import as_tuple, check_choice, check_flag, check_real, check_tensor, spatial_dims
from convrnn.functional.boundary import BOUNDARIES, Padding, normalize_padding
from convrnn.functional.conv import PADDING_NAMES, conv, conv_transpose

INITS = ("kaiming", "xavier", "torch")


def _init_weight(weight: Tensor, bias: Tensor | None, init: str, fan_in: int) -> None:
    """He (Kaiming) normal for ReLU nets by default; Xavier/Glorot; or PyTorch's own default."""
    if init == "kaiming":
        nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu")
        if bias is not None:
            nn.init.zeros_(bias)
    elif init == "xavier":
        nn.init.xavier_uniform_(weight)
        if bias is not None:
            nn.init.zeros_(bias)
    else:
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        if bias is not None:
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(bias, -bound, bound)


class Conv(nn.Module):
    """N-d convolution layer: ``y = conv(x, W) + b`` with every boundary condition.

    The number of spatial dimensions comes from ``kernel_size`` (a tuple) or ``dims``.
    See :func:`convrnn.functional.conv` for the formula and every option.

    Shapes: ``x: (N, C_in, *spatial)`` → ``y: (N, C_out, *out)``;
    ``weight: (C_out, C_in/groups, *kernel)``, ``bias: (C_out,)``.
    Parameters: ``C_out·(C_in/groups)·∏kernel + C_out`` (the seeds' "8×5×5×1 + 8 = 208").

    Init: ``"kaiming"`` (He normal, fan-in, ReLU gain, zero bias — the default), ``"xavier"``
    (Glorot uniform, zero bias) or ``"torch"`` (``torch.nn.Conv2d``'s own).

    Channel variants (the seeds' names): the default is a *full* convolution, each filter spanning
    all input channels; :meth:`pointwise` (1×1…), :meth:`depthwise` (= :meth:`layerwise`, each
    channel filtered separately), :class:`SeparableConv` and :class:`SharedFilterConv` (the same
    filter on each channel).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: str | Padding = "valid",
                 dilation: int | Sequence[int] = 1, groups: int = 1, bias: bool = True, *,
                 boundary: str = "zeros", value: float = 0.0, flip: bool = False,
                 dims: int | None = None, init: str = "kaiming") -> None:
        super().__init__()
        dims = spatial_dims(kernel_size, dims, "Conv")
        self.kernel_size = as_tuple("kernel_size", kernel_size, dims, minimum=1, where="Conv")
        self.stride = as_tuple("stride", stride, dims, minimum=1, where="Conv")
        self.dilation = as_tuple("dilation", dilation, dims, minimum=1, where="Conv")
        check_choice("boundary", boundary, BOUNDARIES, where="Conv")
        check_choice("init", init, INITS, where="Conv")
        for name, count in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"Conv: argument '{name}' expected an int ≥ 1, got {count!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv: argument 'groups' expected a divisor of both in_channels={in_channels} and "
                f"out_channels={out_channels}, got {groups}"
            )
        if isinstance(padding, str):
            check_choice("padding", padding, PADDING_NAMES, where="Conv")
        else:
            normalize_padding(padding, dims, where="Conv")
        bias = check_flag("bias", bias, where="Conv")
        flip = check_flag("flip", flip, where="Conv")
        value = check_real("value", value, where="Conv")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.padding, self.boundary, self.value, self.flip = padding, boundary, value, flip
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.init = init
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_in = self.weight[0].numel()
        _init_weight(self.weight, self.bias, self.init, fan_in)

    @classmethod
    def pointwise(cls, in_channels: int, out_channels: int, *, dims: int = 2, bias: bool = True,
                  **options: object) -> Conv:
        """1×1… convolution: a weighted sum of channels at every position, ``(C_out, C_in, 1, …)``."""
        return cls(in_channels, out_channels, (1,) * dims, bias=bias, **options)

    @classmethod
    def depthwise(cls, channels: int, kernel_size: int | Sequence[int], *, multiplier: int = 1,
                  **options: object) -> Conv:
        """Layerwise convolution: each input channel filtered separately by ``multiplier`` filters
        of its own (``groups = channels``); weight ``(channels·multiplier, 1, *kernel)``."""
        for name, count in (("in_channels", channels), ("multiplier", multiplier)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"Conv: argument '{name}' expected an int ≥ 1, got {count!r}")
        return cls(channels, channels * multiplier, kernel_size, groups=channels, **options)

    layerwise = depthwise

    def forward(self, x: Tensor) -> Tensor:
        return conv(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                    dilation=self.dilation, groups=self.groups, boundary=self.boundary,
                           value=self.value, flip=self.flip)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}")
        if any(d != 1 for d in self.dilation):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.boundary != "zeros":
            text += f", boundary={self.boundary!r}"
            if self.boundary in ("constant", "neumann"):
                text += f", value={self.value}"
        if self.flip:
            text += ", flip=True"
        return text


class Conv1d(Conv):
    """:class:`Conv` with one spatial dimension: ``x: (N, C_in, L)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 *args: object, **kwargs: object) -> None:
        super().__init__(in_channels, out_channels, kernel_size, *args, dims=1, **kwargs)


class Conv2d(Conv):
    """:class:`Conv` with two spatial dimensions: ``x: (N, C_in, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 *args: object, **kwargs: object) -> None:
        super().__init__(in_channels, out_channels, kernel_size, *args, dims=2, **kwargs)


class Conv3d(Conv):
    """:class:`Conv` with three spatial dimensions: ``x: (N, C_in, D, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 *args: object, **kwargs: object) -> None:
        super().__init__(in_channels, out_channels, kernel_size, *args, dims=3, **kwargs)


class SeparableConv(nn.Sequential):
    """Depthwise-separable convolution: a layerwise convolution, then a pointwise one.

        y = W_point · (w_depth ⋆ x)     with parameters C_in·∏k (+C_in) + C_out·C_in (+C_out)

    Shapes: ``x: (N, C_in, *spatial)`` → ``(N, C_out, *out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: str | Padding = "valid",
                 dilation: int | Sequence[int] = 1, bias: bool = True, *, dims: int | None = None,
                 **options: object) -> None:
        dims = spatial_dims(kernel_size, dims, "SeparableConv")
        super().__init__()
        self.depthwise = Conv.depthwise(in_channels, kernel_size, stride=stride, padding=padding,
                                        dilation=dilation, bias=bias, dims=dims, **options)
        self.pointwise = Conv.pointwise(in_channels, out_channels, dims=dims, bias=bias)


class SharedFilterConv(nn.Module):
    """The same filter(s) applied independently to every channel (the seeds' "same filter on each
    channel", e.g. blurring R, G and B alike).

        y[c·F + f] = w_f ⋆ x[c]          for every input channel c and filter f < F

    Works for any number of input channels. Shapes: ``x: (N, C, *spatial)`` → ``(N, C·F, *out)``;
    ``weight: (F, 1, *kernel)``, ``bias: (F,)``.
    """

    def __init__(self, kernel_size: int | Sequence[int], filters: int = 1,
                 stride: int | Sequence[int] = 1, padding: str | Padding = "valid",
                 dilation: int | Sequence[int] = 1, bias: bool = True, *, dims: int | None = None,
                 **options: object) -> None:
        super().__init__()
        self.conv = Conv(1, filters, kernel_size, stride, padding, dilation, bias=bias, dims=dims,
                         **options)

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x, dims=len(self.conv.kernel_size) + 2, where="SharedFilterConv")
        n, c = x.shape[:2]
        y = self.conv(x.reshape(n * c, 1, *x.shape[2:]))
        return y.reshape(n, c * y.shape[1], *y.shape[2:])


class ConvTranspose(nn.Module):
    """N-d transposed convolution, the seeds' "de-convolution" for upsampling.

    See :func:`convrnn.functional.conv_transpose`. Shapes: ``x: (N, C_in, *spatial)`` →
    ``(N, C_out, *out)`` with ``out = (n − 1)·s − p_lo − p_hi + d(k − 1) + 1 + output_padding``;
    ``weight: (C_in, C_out/groups, *kernel)``. ``forward(x, output_size=None)``: ``output_size``
    picks among the sizes a strided convolution maps to the same input size.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: Padding = 0,
                 output_padding: int | Sequence[int] = 0, groups: int = 1, bias: bool = True,
                 dilation: int | Sequence[int] = 1, *, dims: int | None = None,
                 init: str = "kaiming") -> None:
        super().__init__()
        dims = spatial_dims(kernel_size, dims, "ConvTranspose")
        self.kernel_size = as_tuple("kernel_size", kernel_size, dims, minimum=1, where="ConvTranspose")
        self.stride = as_tuple("stride", stride, dims, minimum=1, where="ConvTranspose")
        self.dilation = as_tuple("dilation", dilation, dims, minimum=1, where="ConvTranspose")
        self.output_padding = as_tuple("output_padding", output_padding, dims, minimum=0,
                                       where="ConvTranspose")
        check_choice("init", init, INITS, where="ConvTranspose")
        for name, count in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"ConvTranspose: argument '{name}' expected an int ≥ 1, got {count!r}")
        normalize_padding(padding, dims, where="ConvTranspose")
        for axis, (op, s, d) in enumerate(zip(self.output_padding, self.stride, self.dilation, strict=True)):
            if op >= max(s, d):
                raise ValueError(f"ConvTranspose: argument 'output_padding' expected < max(stride, dilation) = "
                                 f"{max(s, d)} along spatial dimension {axis}, got {op}")
        bias = check_flag("bias", bias, where="ConvTranspose")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"ConvTranspose: argument 'groups' expected a divisor of both in_channels={in_channels} and "
                f"out_channels={out_channels}, got {groups}"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.padding, self.init = padding, init
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
        _init_weight(self.weight, self.bias, self.init, fan_in)

    def forward(self, x: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        return conv_transpose(x, self.weight, self.bias, stride=self.stride,
                                     padding=self.padding, output_padding=self.output_padding,
                                     dilation=self.dilation, groups=self.groups,
                                     output_size=output_size)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}")
        if any(self.output_padding):
            text += f", output_padding={self.output_padding}"
        if any(d != 1 for d in self.dilation):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class ConvTranspose1d(ConvTranspose):
    """:class:`ConvTranspose` with one spatial dimension."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 *args: object, **kwargs: object) -> None:
        super().__init__(in_channels, out_channels, kernel_size, *args, dims=1, **kwargs)


class ConvTranspose2d(ConvTranspose):
    """:class:`ConvTranspose` with two spatial dimensions."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 *args: object, **kwargs: object) -> None:
        super().__init__(in_channels, out_channels, kernel_size, *args, dims=2, **kwargs)


class ConvTranspose3d(ConvTranspose):
    """:class:`ConvTranspose` with three spatial dimensions."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 *args: object, **kwargs: object) -> None:
        super().__init__(in_channels, out_channels, kernel_size, *args, dims=3, **kwargs)


__all__ = ["Conv", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "SeparableConv", "SharedFilterConv"]
