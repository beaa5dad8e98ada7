"""Pooling layers over :mod:`convrnn.functional.pool`: N-d ``Pool`` of every kind, its
``Pool1d/2d/3d`` aliases, and ``GlobalPool``."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from convrnn.functional._checks import (
    as_tuple,
    check_choice,
    check_flag,
    check_real,
    check_tensor,
    is_tracing,
    spatial_dims,
)
from convrnn.functional.boundary import BOUNDARIES, Padding, normalize_padding
from convrnn.functional.pool import KINDS, SELECTING_KINDS, _check_order, global_pool, pool


class Pool(nn.Module):
    """Pooling layer of every kind — max, min, avg, sum, median, p-norm — over 1, 2 or 3 spatial dims.

    Each output cell summarises one window of the input (see :func:`convrnn.functional.pool` for
    the formulas, ``boundary``, ``ceil_mode`` and the gradients):

        y[n, c, o] = kind{ x[n, c, o·s − p_lo + j·d] : 0 ≤ j < k }

    The number of spatial dimensions ``D`` comes from ``kernel_size`` (a tuple) or ``dims``.

    Shapes: ``x: (N, C, *spatial)`` with ``D`` spatial dims → ``y: (N, C, *out)``,
    ``out = ⌊(n + p_lo + p_hi − d·(k − 1) − 1) / s⌋ + 1`` per dimension (``⌈·⌉`` with
    ``ceil_mode``). With ``return_indices=True`` (max, min, median) the layer returns
    ``(y, indices)``, ``indices: (N, C, *out)`` flat positions in each input plane, as
    ``torch.nn.MaxPool2d`` does.
    """

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                 padding: Padding = 0, dilation: int | Sequence[int] = 1, *, kind: str = "max",
                 p: float = 2.0, ceil_mode: bool = False, boundary: str | None = None,
                 value: float = 0.0, count_include_pad: bool = True,
                 return_indices: bool = False, dims: int | None = None) -> None:
        super().__init__()
        where = type(self).__name__
        dims = spatial_dims(kernel_size, dims, where)
        self.dims = dims
        self.kernel_size = as_tuple("kernel_size", kernel_size, dims, minimum=1, where=where)
        self.stride = (self.kernel_size if stride is None
                       else as_tuple("stride", stride, dims, minimum=1, where=where))
        self.padding = normalize_padding(padding, dims, where=where)
        self.dilation = as_tuple("dilation", dilation, dims, minimum=1, where=where)
        check_choice("kind", kind, KINDS, where=where)
        if boundary is not None:
            check_choice("boundary", boundary, BOUNDARIES, where=where)
        if kind == "lp":
            _check_order(p, where=where)
        ceil_mode = check_flag("ceil_mode", ceil_mode, where=where)
        count_include_pad = check_flag("count_include_pad", count_include_pad, where=where)
        return_indices = check_flag("return_indices", return_indices, where=where)
        value = check_real("value", value, where=where)
        if return_indices and (kind not in SELECTING_KINDS or boundary is not None):
            raise ValueError(
                f"{where}: argument 'return_indices' expected kind in {list(SELECTING_KINDS)} and "
                f"boundary=None, got kind={kind!r}, boundary={boundary!r}"
            )
        self.kind, self.p, self.ceil_mode = kind, p, ceil_mode
        self.boundary, self.value = boundary, value
        self.count_include_pad, self.return_indices = count_include_pad, return_indices

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        check_tensor("x", x, where=type(self).__name__)
        if not is_tracing() and x.dim() != self.dims + 2:
            raise ValueError(
                f"{type(self).__name__}: argument 'x' expected shape (N, C) + {self.dims} spatial "
                f"dimensions, got shape {tuple(x.shape)}"
            )
        return pool(x, self.kernel_size, self.stride, self.padding, self.dilation, kind=self.kind,
                    p=self.p, ceil_mode=self.ceil_mode, boundary=self.boundary, value=self.value,
                    count_include_pad=self.count_include_pad, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        padding = self.padding
        symmetric = all(low == high for low, high in padding)
        shown = tuple(low for low, _ in padding) if symmetric else padding
        text = (f"kind={self.kind!r}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={shown}")
        if any(d != 1 for d in self.dilation):
            text += f", dilation={self.dilation}"
        if self.kind == "lp":
            text += f", p={self.p}"
        if self.ceil_mode:
            text += ", ceil_mode=True"
        if self.boundary is not None:
            text += f", boundary={self.boundary!r}"
            if self.boundary in ("constant", "neumann"):
                text += f", value={self.value}"
        if self.kind == "avg" and not self.count_include_pad:
            text += ", count_include_pad=False"
        if self.return_indices:
            text += ", return_indices=True"
        return text


class Pool1d(Pool):
    """:class:`Pool` with one spatial dimension: ``x: (N, C, L)``."""

    def __init__(self, kernel_size: int | Sequence[int], *args: object, **kwargs: object) -> None:
        super().__init__(kernel_size, *args, dims=1, **kwargs)  # type: ignore[arg-type]


class Pool2d(Pool):
    """:class:`Pool` with two spatial dimensions: ``x: (N, C, H, W)``."""

    def __init__(self, kernel_size: int | Sequence[int], *args: object, **kwargs: object) -> None:
        super().__init__(kernel_size, *args, dims=2, **kwargs)  # type: ignore[arg-type]


class Pool3d(Pool):
    """:class:`Pool` with three spatial dimensions: ``x: (N, C, D, H, W)``."""

    def __init__(self, kernel_size: int | Sequence[int], *args: object, **kwargs: object) -> None:
        super().__init__(kernel_size, *args, dims=3, **kwargs)  # type: ignore[arg-type]


class GlobalPool(nn.Module):
    """Pool each channel over all its spatial cells (e.g. global average pooling before a classifier).

        y[n, c] = kind{ x[n, c, i] : every spatial index i }

    Shapes: ``x: (N, C, *spatial)`` (any number of spatial dims) → ``y: (N, C)``, or
    ``(N, C, 1, …, 1)`` with ``keepdim=True``. See :func:`convrnn.functional.global_pool`.
    """

    def __init__(self, kind: str = "avg", p: float = 2.0, *, keepdim: bool = False) -> None:
        super().__init__()
        check_choice("kind", kind, KINDS, where="GlobalPool")
        if kind == "lp":
            _check_order(p, where="GlobalPool")
        keepdim = check_flag("keepdim", keepdim, where="GlobalPool")
        self.kind, self.p, self.keepdim = kind, p, keepdim

    def forward(self, x: Tensor) -> Tensor:
        return global_pool(x, self.kind, self.p, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        text = f"kind={self.kind!r}"
        if self.kind == "lp":
            text += f", p={self.p}"
        if self.keepdim:
            text += ", keepdim=True"
        return text


__all__ = ["GlobalPool", "Pool", "Pool1d", "Pool2d", "Pool3d"]
