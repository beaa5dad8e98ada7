"""Pooling of every kind over 1, 2 or 3 spatial dimensions: max, min, avg, sum, median, p-norm.

Pooling "takes several nearby inputs and produces an output via some summary statistic" (seed 000).
Along each spatial dimension a window of ``k`` cells with stride ``s`` and dilation ``d`` starts at
``o·s − p_lo`` of the input; the output cell ``o = (o_1, …, o_D)`` summarises the window

    W(o) = { x[o·s − p_lo + j·d] : 0 ≤ j < k }      (per dimension; j = (j_1, …, j_D))

with a statistic chosen by ``kind``:

    max     y(o) = max W(o)                 min     y(o) = min W(o)
    sum     y(o) = Σ_{w ∈ W(o)} w           avg     y(o) = Σ_{w ∈ W(o)} w / |W(o)|
    median  y(o) = w_(⌊(|W(o)| − 1)/2⌋)     the lower median: element ⌊(m − 1)/2⌋ (from 0) of the
                                            m window cells in increasing order, as ``torch.median``
    lp      y(o) = (Σ |w|^p)^(1/p),  p ≥ 1;  p = ∞: max |w|

``stride = kernel`` pools in blocks (downsampling); ``stride < kernel`` slides overlapping windows.

Which padded cells belong to W(o) depends on ``boundary``: with ``boundary=None`` (PyTorch's
semantics) padded cells do not take part — they act as −∞ for max, +∞ for min and are skipped by
sum, median and lp, while avg divides by every cell of the padded input (``count_include_pad``) or
by the real cells only. With a named boundary (see :func:`convrnn.functional.boundary.pad`) the
input is padded first and the padded cells take part like real ones. Either way a ``ceil_mode``
window that overhangs the padded input only pools the cells it covers.

Gradients: max, min and median route the whole gradient to the one selected cell (the first in
window order among equal values), sum/avg/lp have their natural gradients, and the p-norm of an
all-zero window has gradient 0 (its subgradient at the origin), not NaN.

Speed: max, min, avg, sum and p-norm run on PyTorch's own pooling kernels whenever the options allow
(min = −max(−x), p-norm = (sum pooling of |x|^p)^(1/p)); median runs a selection network of
``torch.minimum``/``torch.maximum`` over shifted strided views of the input (see ``_median_plan``),
then gathers the chosen cell, so that autograd sends the gradient to it alone.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from convrnn.functional._checks import as_tuple, check_choice, check_flag, check_real, check_tensor, is_tracing
from convrnn.functional.boundary import BOUNDARIES, Padding, normalize_padding, pad
from convrnn.functional.shapes import effective_kernel, pool_output_size

KINDS = ("max", "min", "avg", "sum", "median", "lp")
SELECTING_KINDS = ("max", "min", "median")  # kinds that pick one cell, and so have indices

# Median windows up to this many cells use the sorting network; larger ones sort the stacked window.
_NETWORK_MAX_CELLS = 25


class _Axis(NamedTuple):
    """Window geometry along one spatial dimension of the tensor being pooled.

    ``low``/``high`` count cells on each side that do NOT take part (``boundary=None`` padding);
    ``overhang`` counts cells a ``ceil_mode`` last window reaches past ``low + size + high``.
    """

    size: int
    kernel: int
    stride: int
    dilation: int
    low: int
    high: int
    out: int

    @property
    def overhang(self) -> int:
        reach = (self.out - 1) * self.stride + effective_kernel(self.kernel, self.dilation)
        return max(reach - (self.low + self.size + self.high), 0)

    @property
    def full(self) -> bool:
        """Every window cell lies in the real input."""
        return self.low == 0 and self.high == 0 and self.overhang == 0


def pool(
    x: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: Padding = 0,
    dilation: int | Sequence[int] = 1,
    *,
    kind: str = "max",
    p: float = 2.0,
    ceil_mode: bool = False,
    boundary: str | None = None,
    value: float = 0.0,
    count_include_pad: bool = True,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Pool every window of ``x`` with a summary statistic (see the module docstring for the math).

    Args:
        x: ``(N, C, *spatial)`` with 1, 2 or 3 spatial dimensions, floating point.
        kernel_size: window size ``k``: an int or one int per spatial dimension.
        stride: ``s``, an int or one per dimension; ``None`` (default) means ``kernel_size``.
        padding: ``p_lo``/``p_hi``: an int, one int per dimension, or one ``(low, high)`` pair per
            dimension (first spatial dimension first), as :func:`~convrnn.functional.boundary.pad`.
        dilation: ``d``, the spacing between window cells, an int or one per dimension.
        kind: ``"max"``, ``"min"``, ``"avg"``, ``"sum"``, ``"median"`` or ``"lp"``.
        p: the norm's order for ``kind="lp"``: any float ≥ 1, or ``math.inf`` for max |x|.
        ceil_mode: round the output size up, as PyTorch does: a last partial window is kept when it
            starts inside the input or the low padding.
        boundary: ``None`` (padded cells do not take part) or a boundary of ``pad`` —
            ``"zeros"``, ``"constant"``, ``"neumann"``, ``"reflect"``, ``"symmetric"``,
            ``"circular"`` — whose padded cells take part like real ones.
        value: the boundary's constant (``"constant"``) or outward difference (``"neumann"``).
        count_include_pad: ``kind="avg"`` with ``boundary=None`` divides by every cell of the padded
            input in the window (True) or by the real cells only (False).
        return_indices: also return, for ``max``/``min``/``median`` with ``boundary=None``, the
            flat index of the chosen cell in its input plane, as ``F.max_pool2d`` does (usable with
            ``F.max_unpool2d``).

    Returns:
        ``y: (N, C, *out)`` with, per dimension,
        ``out = ⌊(n + p_lo + p_hi − d·(k − 1) − 1) / s⌋ + 1`` (``⌈·⌉`` with ``ceil_mode``, see
        :func:`convrnn.functional.shapes.pool_output_size`); with ``return_indices`` the pair
        ``(y, indices)``, ``indices: (N, C, *out)`` int64.

    Raises:
        TypeError: ``x`` is not a floating-point tensor; an option has the wrong type.
        ValueError: ``x`` has no or more than 3 spatial dimensions; ``kernel_size``, ``stride`` or
            ``dilation`` < 1; the dilated window is larger than the padded input; with
            ``boundary=None``, padding so wide that a window holds no input cell; unknown
            ``kind`` or ``boundary``; ``p`` < 1; ``return_indices`` with a kind that picks no
            cell or with a boundary.

    Numerics: the finite p-norm sums |x|^p directly, which overflows float32 for large p and
    |x| (e.g. p = 50, |x| = 10); use ``p=math.inf`` for max |x|.
    """
    where = "pool"
    check_tensor("x", x, floating=True, where=where)
    if x.dim() not in (3, 4, 5):
        raise ValueError(
            f"pool: argument 'x' expected shape (N, C, *spatial) with 1, 2 or 3 spatial dimensions, "
            f"got shape {tuple(x.shape)} ({x.dim()}-d)"
        )
    check_choice("kind", kind, KINDS, where=where)
    dims = x.dim() - 2
    kernel = as_tuple("kernel_size", kernel_size, dims, minimum=1, where=where)
    strides = kernel if stride is None else as_tuple("stride", stride, dims, minimum=1, where=where)
    dilations = as_tuple("dilation", dilation, dims, minimum=1, where=where)
    pairs = normalize_padding(padding, dims, where=where)
    if boundary is not None:
        check_choice("boundary", boundary, (None, *BOUNDARIES), where=where)  # type: ignore[arg-type]
    if kind == "lp":
        _check_order(p)
    ceil_mode = check_flag("ceil_mode", ceil_mode, where=where)
    count_include_pad = check_flag("count_include_pad", count_include_pad, where=where)
    return_indices = check_flag("return_indices", return_indices, where=where)
    value = check_real("value", value, where=where)
    if return_indices and kind not in SELECTING_KINDS:
        raise ValueError(
            f"pool: argument 'return_indices' expected kind in {list(SELECTING_KINDS)}, got kind={kind!r}"
        )
    if return_indices and boundary is not None:
        raise ValueError(
            "pool: argument 'return_indices' expected boundary=None (a padded cell has no index in the "
            f"input plane), got boundary={boundary!r}"
        )

    axes = _geometry(x.shape[2:], kernel, strides, dilations, pairs, ceil_mode)
    if boundary is None:
        if ceil_mode or any(a.low or a.high for a in axes):   # unpadded floor-mode windows start inside
            _check_no_empty_window(axes)
    else:
        x = pad(x, pairs, boundary, value)
        axes = tuple(a._replace(size=a.low + a.size + a.high, low=0, high=0) for a in axes)

    indices = None
    if kind == "max":
        y, indices = _max(x, axes, ceil_mode, return_indices)
    elif kind == "min":
        y, indices = _max(-x, axes, ceil_mode, return_indices)
        y = -y
    elif kind == "median":
        y, indices = _median(x, axes, return_indices)
    elif kind == "sum":
        y = _sum(x, axes, ceil_mode)
    elif kind == "avg":
        y = _avg(x, axes, ceil_mode, count_include_pad)
    else:
        y = _norm(x, axes, p, ceil_mode)
    return (y, indices) if return_indices else y  # type: ignore[return-value]


def global_pool(x: Tensor, kind: str = "avg", p: float = 2.0, *, keepdim: bool = False) -> Tensor:
    """Pool each channel over all its spatial cells: one window as large as the input.

        y[n, c] = statistic of { x[n, c, i] : every spatial index i }

    with the statistics of :func:`pool` (median: the lower median; max/min/median send the gradient
    to one cell; lp of an all-zero plane has gradient 0).

    Args:
        x: ``(N, C, *spatial)`` with one or more spatial dimensions, floating point.
        kind: ``"max"``, ``"min"``, ``"avg"``, ``"sum"``, ``"median"`` or ``"lp"``.
        p: order of the norm for ``kind="lp"`` (≥ 1 or ``math.inf``).
        keepdim: keep the spatial dimensions with size 1.

    Returns:
        ``(N, C)``, or ``(N, C, 1, …, 1)`` with ``keepdim=True``.
    """
    where = "global_pool"
    check_tensor("x", x, floating=True, where=where)
    if x.dim() < 3:
        raise ValueError(
            f"global_pool: argument 'x' expected shape (N, C, *spatial) with at least one spatial "
            f"dimension, got shape {tuple(x.shape)} ({x.dim()}-d)"
        )
    check_choice("kind", kind, KINDS, where=where)
    if kind == "lp":
        _check_order(p, where=where)
    keepdim = check_flag("keepdim", keepdim, where=where)
    if not is_tracing() and any(n == 0 for n in x.shape[2:]):
        raise ValueError(f"global_pool: argument 'x' expected at least one cell in every spatial dimension, "
                         f"got shape {tuple(x.shape)}")
    cells = x.flatten(2)  # (N, C, L)
    if kind == "max":
        y = cells.max(dim=2).values
    elif kind == "min":
        y = cells.min(dim=2).values
    elif kind == "median" and is_tracing():  # ONNX has no median: the middle of a sort
        ordered = cells.sort(dim=2).values
        middle = ordered[:, :, (cells.shape[2] - 1) // 2]
        y = torch.where(cells.isnan().any(dim=2), math.nan, middle)
    elif kind == "median":
        y = cells.median(dim=2).values
    elif kind == "sum":
        y = cells.sum(dim=2)
    elif kind == "avg":
        y = cells.mean(dim=2)
    elif math.isinf(p):
        y = cells.abs().max(dim=2).values
    else:
        y = _root(_abs_pow(cells, p).sum(dim=2), p)
    return y.reshape(*y.shape, *([1] * (x.dim() - 2))) if keepdim else y


# ---------------------------------------------------------------------------------------------
# Arguments and geometry


def _check_order(p: object, where: str = "pool") -> None:
    if isinstance(p, bool) or not isinstance(p, int | float):
        raise TypeError(f"{where}: argument 'p' expected a float ≥ 1 or math.inf, got {p!r}")
    if not p >= 1:  # also refuses NaN
        raise ValueError(f"{where}: argument 'p' expected a float ≥ 1 or math.inf, got {p!r}")


def _geometry(sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
              dilations: Sequence[int], pairs: Sequence[tuple[int, int]],
              ceil_mode: bool) -> tuple[_Axis, ...]:
    axes = []
    for i, (n, k, s, d, (low, high)) in enumerate(
            zip(sizes, kernel, strides, dilations, pairs, strict=True)):
        reach = effective_kernel(k, d)
        if reach > low + n + high:
            raise ValueError(
                f"pool: argument 'kernel_size' expected a window no larger than the padded input "
                f"along spatial dimension {i}: dilation·(kernel_size − 1) + 1 = {reach} ≤ "
                f"size + padding = {n} + {low} + {high}, got kernel_size {k}, dilation {d}"
            )
        out = pool_output_size(n, k, s, (low, high), d, ceil_mode)
        axes.append(_Axis(n, k, s, d, low, high, out))
    return tuple(axes)


def _check_no_empty_window(axes: Sequence[_Axis]) -> None:
    """Refuse padding so large that some window holds no input cell (it would have no value)."""
    for i, a in enumerate(axes):
        # only windows starting in the padding can miss the input: the first ⌈low/s⌉ and those
        # starting past its end
        first_inside = -(-a.low // a.stride)
        first_past = -(-(a.low + a.size) // a.stride)
        for o in itertools.chain(range(min(first_inside, a.out)), range(first_past, a.out)):
            start = o * a.stride - a.low
            j = max(0, -(start // a.dilation))  # first window cell at or after the input's start
            if not (j < a.kernel and start + j * a.dilation < a.size):
                raise ValueError(
                    f"pool: argument 'padding' expected every window to hold an input cell along "
                    f"spatial dimension {i} (with boundary=None padded cells do not take part), "
                    f"got padding {(a.low, a.high)} for size {a.size}, kernel_size {a.kernel}, "
                    f"stride {a.stride}, dilation {a.dilation}: output {o} sees only padding"
                )


def _cells(a: _Axis, *, include_padding: bool, device: torch.device) -> Tensor:
    """``(out, kernel)`` bools: which cells of each window along one dimension take part."""
    q = (torch.arange(a.out, device=device)[:, None] * a.stride
         + torch.arange(a.kernel, device=device)[None, :] * a.dilation - a.low)
    first, end = (-a.low, a.size + a.high) if include_padding else (0, a.size)
    return (q >= first) & (q < end)


def _outer(factors: Sequence[Tensor]) -> Tensor:
    """Outer product of per-dimension vectors: ``(out_1,), …, (out_D,)`` → ``(out_1, …, out_D)``."""
    dims = len(factors)
    shaped = [f.reshape([-1 if i == j else 1 for j in range(dims)]) for i, f in enumerate(factors)]
    return functools.reduce(torch.mul, shaped)


def _fill(x: Tensor, axes: Sequence[_Axis], fill: float) -> Tensor:
    """Materialise the non-participating cells (padding and ceil overhang) with ``fill``."""
    if all(a.full for a in axes):
        return x
    flat: list[int] = []
    for a in reversed(axes):  # F.pad lists the last dimension first
        flat += [a.low, a.high + a.overhang]
    return F.pad(x, flat, value=fill)


def _filled_axes(axes: Sequence[_Axis]) -> tuple[_Axis, ...]:
    return tuple(a._replace(size=a.low + a.size + a.high + a.overhang, low=0, high=0) for a in axes)


def _crop(y: Tensor, axes: Sequence[_Axis]) -> Tensor:
    """Keep the first ``out`` windows (PyTorch's ceil rule may keep one more than ours)."""
    if tuple(y.shape[2:]) == tuple(a.out for a in axes):
        return y
    return y[(..., *(slice(0, a.out) for a in axes))]


def _unfill_index(index: Tensor, axes: Sequence[_Axis]) -> Tensor:
    """Flat index in the filled plane (``low + size + high + overhang`` per dim) → in the input plane."""
    if all(a.full for a in axes):
        return index
    out = torch.zeros_like(index)
    rest, step = index, 1
    for a in reversed(axes):  # peel coordinates off the last dimension first
        width = a.low + a.size + a.high + a.overhang
        out = out + (rest % width - a.low) * step
        rest, step = rest // width, step * a.size
    return out


# ---------------------------------------------------------------------------------------------
# PyTorch's kernels: max (and through it min and p = ∞) and sum (and through it avg and finite p)


def _torch_padding(axes: Sequence[_Axis]) -> tuple[int, ...] | None:
    """The symmetric padding PyTorch's kernels accept (≤ half the kernel), when ours is one."""
    if all(a.low == a.high and 2 * a.low <= a.kernel for a in axes):
        return tuple(a.low for a in axes)
    return None


def _lift(x: Tensor, axes: Sequence[_Axis]) -> tuple[Tensor, tuple[_Axis, ...]]:
    """View a 1-d signal as a 1-row image: PyTorch's 1-d kernels lack options the 2-d ones have."""
    if len(axes) == 1:
        return x.unsqueeze(2), (_Axis(1, 1, 1, 1, 0, 0, 1), *axes)
    return x, tuple(axes)


def _drop(y: Tensor, dims: int) -> Tensor:
    return y.squeeze(2) if dims == 1 else y


def _torch_call(function2d: Callable[..., object], function3d: Callable[..., object], x: Tensor,
                axes: Sequence[_Axis], padding: tuple[int, ...], **options: object) -> object:
    """Call PyTorch's 2-d or 3-d pooling kernel on ``x`` (1-d lifted to 2-d)."""
    t, lifted = _lift(x, axes)
    function = function2d if t.dim() == 4 else function3d
    return function(t, [a.kernel for a in lifted], [a.stride for a in lifted],
                    [0] * (len(lifted) - len(padding)) + list(padding), **options)


def _max(x: Tensor, axes: Sequence[_Axis], ceil_mode: bool,
         return_indices: bool) -> tuple[Tensor, Tensor | None]:
    """Max over each window; non-participating cells are −∞. Indices are in the input plane."""
    padding = _torch_padding(axes)
    plane: Sequence[_Axis] = axes
    if padding is None:  # asymmetric or wide padding: fill it with −∞ ourselves
        x, plane, padding, ceil_mode = (_fill(x, axes, -math.inf), _filled_axes(axes),
                                        (0,) * len(axes), False)
    dilation = [1] * (len(axes) == 1) + [a.dilation for a in axes]
    y = _torch_call(F.max_pool2d, F.max_pool3d, x, plane, padding, dilation=dilation,
                    ceil_mode=ceil_mode, return_indices=return_indices)
    if not return_indices:
        return _crop(_drop(y, len(axes)), axes), None  # type: ignore[arg-type]
    y, index = y  # type: ignore[misc]
    y, index = _crop(_drop(y, len(axes)), axes), _crop(_drop(index, len(axes)), axes)
    return y, (index if plane is axes else _unfill_index(index, axes))


def _sum(x: Tensor, axes: Sequence[_Axis], ceil_mode: bool) -> Tensor:
    """Sum over each window; non-participating cells count as 0."""
    padding = _torch_padding(axes)
    if any(a.dilation > 1 for a in axes):  # PyTorch's avg_pool has no dilation
        x, plane = _fill(x, axes, 0.0), _filled_axes(axes)
        return functools.reduce(torch.add, _window_views(x, plane))
    plane: Sequence[_Axis] = axes
    if padding is None:
        x, plane, padding, ceil_mode = (_fill(x, axes, 0.0), _filled_axes(axes),
                                        (0,) * len(axes), False)
    if is_tracing():
        # ONNX's AveragePool has no divisor_override: export the mean times its divisor
        mean = _torch_call(F.avg_pool2d, F.avg_pool3d, x, plane, padding, ceil_mode=ceil_mode,
                           count_include_pad=True)
        counts = [_cells(a, include_padding=True, device=x.device).sum(1) for a in plane]
        return _crop(_drop(mean, len(axes)), axes) * _outer(counts).to(x.dtype)  # type: ignore[arg-type]
    y = _torch_call(F.avg_pool2d, F.avg_pool3d, x, plane, padding, ceil_mode=ceil_mode,
                    count_include_pad=True, divisor_override=1)
    return _crop(_drop(y, len(axes)), axes)  # type: ignore[arg-type]


def _avg(x: Tensor, axes: Sequence[_Axis], ceil_mode: bool, count_include_pad: bool) -> Tensor:
    padding = _torch_padding(axes)
    if padding is not None and all(a.dilation == 1 for a in axes):
        y = _torch_call(F.avg_pool2d, F.avg_pool3d, x, axes, padding, ceil_mode=ceil_mode,
                        count_include_pad=count_include_pad)
        return _crop(_drop(y, len(axes)), axes)  # type: ignore[arg-type]
    total = _sum(x, axes, ceil_mode)
    if all(a.full for a in axes):
        return total / math.prod(a.kernel for a in axes)
    counts = [_cells(a, include_padding=count_include_pad, device=x.device).sum(1) for a in axes]
    return total / _outer(counts).to(total.dtype)


def _norm(x: Tensor, axes: Sequence[_Axis], p: float, ceil_mode: bool) -> Tensor:
    """p-norm over each window; non-participating cells count as 0."""
    if math.isinf(p):
        return _max_abs(x, axes, ceil_mode)
    padding = _torch_padding(axes)
    if padding is None or any(a.dilation > 1 for a in axes) or is_tracing():
        return _root(_sum(_abs_pow(x, p), axes, ceil_mode), p)
    t, lifted = _lift(x, axes)
    y = _NormPool.apply(t, p, [a.kernel for a in lifted], [a.stride for a in lifted],
                        [0] * (len(lifted) - len(axes)) + list(padding), ceil_mode)
    return _crop(_drop(y, len(axes)), axes)


def _max_abs(x: Tensor, axes: Sequence[_Axis], ceil_mode: bool) -> Tensor:
    """max |x| over each window: pick the cell on |x|, then take |·| of the picked cells only, so
    that the backward pass touches the input once (a scatter) rather than three times."""
    with torch.no_grad():
        _, index = _max(x.abs(), axes, ceil_mode, True)
    assert index is not None
    return x.flatten(2).gather(2, index.flatten(2)).reshape(index.shape).abs()


class _NormPool(torch.autograd.Function):
    """p-norm pooling ``y = (Σ_window |x|^p)^(1/p)`` on PyTorch's sum pooling, for finite p.

    The gradient ``∂y/∂x_i = y^(1−p) · |x_i|^(p−1) sgn(x_i)`` (0 where y = 0) needs one saved
    tensor, ``|x|^(p−1) sgn(x)``, and two passes over the input, where autograd through
    ``|x|``, ``pow`` and the root takes five. Shapes: x ``(N, C, *spatial)`` with 2 or 3 spatial
    dims → ``(N, C, *out)``. Used only when not tracing. A backward pass that itself builds a
    graph (``create_graph=True``) differentiates the plain formula instead, so that higher
    derivatives stay right.
    """

    @staticmethod
    def forward(ctx, x: Tensor, p: float, kernel: list[int], stride: list[int],  # type: ignore[override]
                padding: list[int], ceil_mode: bool) -> Tensor:
        if p == 1:
            slope = x.sign()
        elif p == 2:
            slope = x
        else:
            slope = x.abs().pow_(p - 1).copysign_(x)
        total = _sum_pool(slope * x, kernel, stride, padding, ceil_mode)  # Σ |x|^p
        y = total.pow(1.0 / p)  # 0^(1/p) = 0: no special case forward
        ctx.save_for_backward(x, slope, y)
        ctx.options = (p, kernel, stride, padding, ceil_mode)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, slope, y = ctx.saved_tensors
        p, kernel, stride, padding, ceil_mode = ctx.options
        if torch.is_grad_enabled():  # create_graph=True
            plain = _root(_sum_pool(_abs_pow(x, p), kernel, stride, padding, ceil_mode), p)
            (gradient,) = torch.autograd.grad(plain, x, grad, create_graph=True)
            return gradient, None, None, None, None, None
        # ∂y/∂Σ folded with the p of ∂|x|^p/∂x: y^(1−p), and 0 for an all-zero window
        scale = grad if p == 1 else torch.where(y > 0, grad * _inverse_power(y, p - 1), 0.0)
        sizes = slope.shape[2:]
        if stride == kernel and not any(padding) and tuple(y.shape[2:]) == tuple(
                n // k for n, k in zip(sizes, kernel, strict=True)) and all(
                n % k == 0 for n, k in zip(sizes, kernel, strict=True)):
            # blocks tile the input exactly: broadcast each block's scale over its cells
            blocks = [size for n, k in zip(y.shape[2:], kernel, strict=True) for size in (n, k)]
            ones = [size for n in y.shape[2:] for size in (n, 1)]
            spread = slope.reshape(*slope.shape[:2], *blocks) * scale.reshape(*y.shape[:2], *ones)
            return spread.reshape(slope.shape), None, None, None, None, None
        spread_backward = (torch.ops.aten.avg_pool2d_backward if slope.dim() == 4
                           else torch.ops.aten.avg_pool3d_backward)
        spread = spread_backward(scale, slope, kernel, stride, padding, ceil_mode, True, 1)
        return spread.mul_(slope), None, None, None, None, None


def _sum_pool(x: Tensor, kernel: list[int], stride: list[int], padding: list[int],
              ceil_mode: bool) -> Tensor:
    pool = F.avg_pool2d if x.dim() == 4 else F.avg_pool3d
    return pool(x, kernel, stride, padding, ceil_mode, True, 1)


def _inverse_power(y: Tensor, q: float) -> Tensor:
    return y.reciprocal() if q == 1 else y.pow(-q)


def _abs_pow(x: Tensor, p: float) -> Tensor:
    if p == 1:
        return x.abs()
    if p == 2:
        return x * x  # cheaper than pow, same gradient 2x
    return x.abs().pow(p)


def _root(total: Tensor, p: float) -> Tensor:
    """``total^(1/p)`` with gradient 0 where ``total = 0`` (d/dt t^(1/p) is infinite there)."""
    if p == 1:
        return total
    positive = total > 0
    safe = torch.where(positive, total, torch.ones_like(total))
    return torch.where(positive, safe.pow(1.0 / p), torch.zeros_like(total))


# ---------------------------------------------------------------------------------------------
# Median: a selection network over shifted strided views, then a gather of the chosen cell


def _window_views(x: Tensor, axes: Sequence[_Axis]) -> list[Tensor]:
    """One strided view ``(N, C, *out)`` per window cell ``j``, in row-major order of ``j``.

    View ``j`` holds cell ``j`` of every window, so an elementwise op across views acts window-wise.
    """
    views = []
    for j in itertools.product(*(range(a.kernel) for a in axes)):
        index = tuple(
            slice(jd * a.dilation, jd * a.dilation + (a.out - 1) * a.stride + 1, a.stride)
            for jd, a in zip(j, axes, strict=True)
        )
        views.append(x[(..., *index)])
    return views


def _flat_index(axes: Sequence[_Axis], cell: Tensor) -> Tensor:
    """Flat index in the pooled tensor's plane of window cell ``cell`` (row-major ``j``) of every
    window: ``Σ_d (o_d·s_d + j_d·d_d)·step_d`` with ``step_d`` the plane's row-major strides."""
    dims, device = len(axes), cell.device
    steps = [math.prod(b.size for b in axes[i + 1:]) for i in range(dims)]
    base = torch.zeros((), dtype=torch.long, device=device)
    for i, (a, step) in enumerate(zip(axes, steps, strict=True)):
        shape = [-1 if d == i else 1 for d in range(dims)]
        base = base + (torch.arange(a.out, device=device) * (a.stride * step)).reshape(shape)
    offsets = [sum(jd * a.dilation * step for jd, a, step in zip(j, axes, steps, strict=True))
               for j in itertools.product(*(range(a.kernel) for a in axes))]
    return torch.tensor(offsets, device=device)[cell.long()].add_(base)


def _median(x: Tensor, axes: Sequence[_Axis],
            return_indices: bool) -> tuple[Tensor, Tensor | None]:
    """Lower median of each window; non-participating cells are skipped."""
    cells = math.prod(a.kernel for a in axes)
    full = all(a.full for a in axes)
    median = None
    if full and cells <= _NETWORK_MAX_CELLS:
        views = _window_views(x, axes)
        with torch.no_grad():  # the values only choose the cell; autograd goes through the gather
            median = _median_network(x, axes)
            # the first view equal to the median is the chosen cell
            cell = torch.full_like(median, cells - 1, dtype=torch.uint8)
            equal = torch.empty_like(median, dtype=torch.bool)
            for j in range(cells - 2, -1, -1):
                cell.masked_fill_(torch.eq(views[j], median, out=equal), j)
        plane, filled = axes, x
    else:
        cell, plane, filled = _median_by_sorting(x, axes)
    index = _flat_index(plane, cell)
    y = filled.flatten(2).gather(2, index.flatten(2)).reshape(index.shape)
    if median is not None:
        # a NaN in a window reaches the network's output (every input does) but equals no cell
        y = torch.where(median.isnan(), median, y)
    if not return_indices:
        return y, None
    return y, (index if plane is axes else _unfill_index(index, axes))


def _median_by_sorting(x: Tensor, axes: Sequence[_Axis]) -> tuple[Tensor, tuple[_Axis, ...],
                                                                   Tensor]:
    """Window cell of the lower median, by sorting each stacked window (partial or large windows).

    Non-participating cells are NaN, which sorts after every number, so rank ⌊(m − 1)/2⌋ of a window
    with ``m`` real cells is its lower median; a window holding a real NaN gives NaN, as
    ``torch.median`` does.
    """
    filled, plane = _fill(x, axes, math.nan), _filled_axes(axes)
    stacked = torch.stack(_window_views(filled.detach(), plane))  # (K, N, C, *out)
    masks = [_cells(a, include_padding=False, device=x.device) for a in axes]  # (out, k) each
    real = masks[0]
    for m in masks[1:]:
        real = real[..., None, None] & m
    dims = len(axes)
    # (out_1, k_1, …, out_D, k_D) → (k_1 ⋯ k_D, out_1, …, out_D), window cells in row-major order
    out_shape = real.shape[0::2]
    real = real.permute(*range(1, 2 * dims, 2), *range(0, 2 * dims, 2)).reshape(-1, *out_shape)
    rank = ((real.sum(0) - 1) // 2).expand(stacked.shape[1:])[None]
    median = torch.sort(stacked, dim=0).values.gather(0, rank)
    has_nan = (stacked.isnan() & real[:, None, None]).any(0, keepdim=True)
    median = torch.where(has_nan, math.nan, median)
    return _first_match(stacked, median, real), plane, filled


def _first_match(stacked: Tensor, median: Tensor, real: Tensor | None = None) -> Tensor:
    """Window cell (row-major) of the first real cell equal to ``median`` (NaN matching NaN)."""
    match = (stacked == median) | (stacked.isnan() & median.isnan())
    if real is not None:
        match &= real[:, None, None]
    return match.to(torch.uint8).argmax(0)


def _median_network(x: Tensor, axes: Sequence[_Axis]) -> Tensor:
    """Lower median of every (full) window by compare–exchange on whole tensors.

    Sorting the window's columns along the first dimension is shared by all windows that use a
    column (a 3×3 stride-1 window reuses each column three times); the rest runs per window.
    """
    first, rest = axes[0], axes[1:]
    column_program, window_program, output = _median_plan(tuple(a.kernel for a in axes))
    reach = (first.out - 1) * first.stride + 1
    columns: list[Tensor | None] = [
        x[:, :, j * first.dilation:j * first.dilation + reach:first.stride]
        for j in range(first.kernel)
    ]
    columns = _run(column_program, columns)  # columns[i]: rank i of each column, where needed
    wires: list[Tensor | None] = []
    for column in columns:
        if column is None:
            wires += [None] * math.prod(a.kernel for a in rest)
        else:
            wires += _window_views(column, rest)
    result = _run(window_program, wires)[output]
    assert result is not None
    return result


_Program = tuple[tuple[int, int, bool, bool], ...]


@functools.cache
def _median_plan(kernel: tuple[int, ...]) -> tuple[_Program, _Program, int]:
    """Comparator programs whose output is the lower median of a window of shape ``kernel``.

    Returns ``(column_program, window_program, output_wire)``. Wires are the window's cells in
    row-major order. First every column (first dimension) is sorted, then every line along each
    further dimension; the window is then sorted along every dimension, so a cell with multi-index
    ``i`` is ≥ the ∏(i_d + 1) cells "below" it and ≤ the ∏(k_d − i_d) cells "above" it. The rank-r
    cell (r = ⌊(K − 1)/2⌋) can only be one with ∏(i_d + 1) ≤ r + 1 and ∏(k_d − i_d) ≤ K − r; among
    these candidates it has rank r minus the number of cells certainly below it. Every comparator
    that does not reach the output is dropped: for 3×3 this leaves 6 + 14 min/max operations where a
    plain sorting network needs 36. Shapes where the plain network is cheaper use it instead.
    """
    total = math.prod(kernel)
    rank = (total - 1) // 2
    cells = list(itertools.product(*(range(k) for k in kernel)))
    wire = {c: w for w, c in enumerate(cells)}
    program: list[tuple[int, int]] = []
    for d in range(1, len(kernel)):
        for c in cells:
            if c[d] == 0:  # one line along dimension d starts at every cell with c_d = 0
                line = [wire[(*c[:d], i, *c[d + 1:])] for i in range(kernel[d])]
                program += [(line[a], line[b]) for a, b in _sorting_network(kernel[d])]
    below = sum(math.prod(k - i for k, i in zip(kernel, c, strict=True)) > total - rank
                for c in cells)
    candidates = [wire[c] for c in cells
                  if math.prod(i + 1 for i in c) <= rank + 1
                  and math.prod(k - i for k, i in zip(kernel, c, strict=True)) <= total - rank]
    program += [(candidates[a], candidates[b]) for a, b in _sorting_network(len(candidates))]
    output = candidates[rank - below]
    window_program, inputs = _prune(program, {output})
    column_program, _ = _prune(_sorting_network(kernel[0]), {cells[w][0] for w in inputs})
    # for some shapes (4×4, 2×2×2) one pruned sorting network over all cells is cheaper
    plain, _ = _prune(_sorting_network(total), {rank})
    if _cost(plain) < _cost(column_program) + _cost(window_program):
        return (), plain, rank
    return column_program, window_program, output


def _cost(program: _Program) -> int:
    return sum(keep_min + keep_max for _, _, keep_min, keep_max in program)


@functools.cache
def _sorting_network(size: int) -> tuple[tuple[int, int], ...]:
    """Batcher's odd–even merge sort (Knuth, TAOCP vol. 3, §5.3.4): comparators ``(a, b)``, a < b,
    each putting the smaller value on wire ``a``."""
    width = 1 << max(size - 1, 0).bit_length()
    comparators = []
    p = 1
    while p < width:
        k = p
        while k >= 1:
            for j in range(k % p, width - k, 2 * k):
                for i in range(min(k, width - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        comparators.append((i + j, i + j + k))
            k //= 2
        p *= 2
    # wires ≥ size would hold +∞, so their comparators never move anything
    return tuple((a, b) for a, b in comparators if b < size)


def _prune(comparators: Sequence[tuple[int, int]], outputs: set[int]) -> tuple[_Program, set[int]]:
    """Keep the comparators that reach ``outputs``, each with the half (min, max) that is used.

    Returns the program ``(a, b, keep_min, keep_max)`` and the wires it reads at its start.
    """
    needed, kept = set(outputs), []
    for a, b in reversed(comparators):
        if a in needed or b in needed:
            kept.append((a, b, a in needed, b in needed))
            needed |= {a, b}
    return tuple(reversed(kept)), needed


def _run(program: _Program, wires: Sequence[Tensor | None]) -> list[Tensor | None]:
    """Run a comparator program on whole tensors: wire a gets min(a, b), wire b gets max(a, b).

    A result overwrites a tensor this run made and no longer needs (the given wires, views of
    the input or of shared columns, are never written): a whole-tensor allocation costs about as
    much as a comparison.
    """
    wires = list(wires)
    owned = [False] * len(wires)
    for a, b, keep_min, keep_max in program:
        low, high = wires[a], wires[b]
        assert low is not None and high is not None
        if keep_min and keep_max:
            smaller = torch.minimum(low, high)
            if owned[b] or owned[a]:  # the old value is dead once the max has read it
                larger = torch.maximum(low, high, out=high if owned[b] else low)
            else:
                larger = torch.maximum(low, high)
            wires[a], wires[b] = smaller, larger
        elif keep_min:
            wires[a] = torch.minimum(low, high, out=low) if owned[a] else torch.minimum(low, high)
        else:
            wires[b] = torch.maximum(low, high, out=high) if owned[b] else torch.maximum(low, high)
        owned[a] = owned[a] or keep_min
        owned[b] = owned[b] or keep_max
    return wires
