"""Convolution past the edges at the speed of zero padding: the native kernel plus a border correction.

Write the padded input as ``x̃ = Z + D``: ``Z`` pads ``x`` with zeros and ``D`` is zero inside and
holds the boundary's values on the margins. Convolution is linear, so

    conv(x̃, w) = conv(Z, w) + conv(D, w)

The first term is PyTorch's own convolution with ``padding=p`` (no padded copy of ``x`` is ever
made, forward or backward); the second is non-zero only at outputs whose window reaches a margin,
a band of ``⌈p/s⌉`` outputs at each end of each dimension. It is computed on thin slabs, one per
dimension and side: slab ``(j, low)`` holds the low margin of dimension ``j`` (and ``e − 1`` rows
of zeros to complete the windows, ``e = d(k − 1) + 1``), the interior of every earlier dimension
(whose margins belong to that dimension's own slabs, so each margin cell is counted once) and the
full padded extent of every later one. A slab's convolution is added in place to its band of the
output.

Backward, with ``g = ∂L/∂y``:

    ∂L/∂x = convᵀ(g, w; padding p) + Σ_slabs scatter(convᵀ(g_band, w))
    ∂L/∂w = g ⋆ Z + Σ_slabs g_band ⋆ slab

where ``scatter`` adds each margin cell's gradient onto the input cell it copies (the adjoint of the
boundary's gather). Only thin tensors are allocated beyond what the zero-padded convolution itself
needs (the slabs are kept from the forward). The backward is written with differentiable operations
and, when a graph of it is being built, recomputes the slabs from ``x``, so gradients of gradients are exact.

Used by :func:`convrnn.functional.conv` when the padding is the same on both sides of every
dimension (as ``"same"`` with an odd kernel gives); other paddings pad first.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from convrnn.functional.boundary import _edge_index, _neumann_ramp

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@dataclass(frozen=True)
class _Slab:
    """One dimension's margin on one side: which padded rows it spans, which of them hold margin
    values, which kernel taps can reach those rows, and which outputs it feeds."""

    axis: int  # spatial dimension j
    rows: tuple[int, int]  # padded rows [start, stop) of the slab along j
    margin: tuple[int, int]  # padded rows [start, stop) that hold margin values (the rest are zero)
    taps: tuple[int, int]  # kernel taps [start, stop) along j that meet a margin row
    outputs: tuple[int, int]  # output positions [start, start + count) along j


def _slabs(sizes: Sequence[int], padding: Sequence[int], kernel: Sequence[int],
           stride: Sequence[int], dilation: Sequence[int]) -> tuple[_Slab, ...]:
    return _cached_slabs(tuple(sizes), tuple(padding), tuple(kernel), tuple(stride), tuple(dilation))


@functools.lru_cache(maxsize=256)
def _cached_slabs(sizes: tuple[int, ...], padding: tuple[int, ...], kernel: tuple[int, ...],
                  stride: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[_Slab, ...]:
    """Output ``o`` reads padded rows ``o·s + m·d`` (taps ``m = 0 … k − 1``); a slab keeps only the
    outputs, taps and rows for which some tap meets a margin row (for a 3×3 kernel with padding 1:
    one row of margin, one row of taps, one row of outputs per side)."""
    slabs = []
    for j, (n, p, k, s, d) in enumerate(zip(sizes, padding, kernel, stride, dilation, strict=True)):
        if p == 0:
            continue
        n_out = (n + 2 * p - d * (k - 1) - 1) // s + 1
        low = min(-(-p // s), n_out)  # outputs whose window starts inside the low margin
        if low > 0:
            taps = min(k, -(-p // d))  # taps m with m·d < p
            rows = (0, (low - 1) * s + (taps - 1) * d + 1)
            slabs.append(_Slab(j, rows, (0, min(p, rows[1])), (0, taps), (0, low)))
        last_row = (n_out - 1) * s + d * (k - 1)
        first = next((o for o in range(n_out) if o * s + d * (k - 1) >= p + n), n_out)  # reaches row p + n
        if first < n_out:
            # taps m that meet a margin row for the last output: (n_out − 1)·s + m·d ≥ p + n
            tap0 = max(0, -(-(p + n - (n_out - 1) * s) // d))
            rows = (first * s + tap0 * d, last_row + 1)
            margin = (max(p + n, rows[0]), min(n + 2 * p, rows[1]))  # strides may skip margin rows
            if margin[0] < margin[1]:
                slabs.append(_Slab(j, rows, margin, (tap0, k), (first, n_out - first)))
    return tuple(slabs)


@functools.lru_cache(maxsize=256)
def _sources(n: int, p: int, boundary: str) -> tuple[int, ...]:
    """The cell of ``x`` that each padded cell ``−p … n + p − 1`` copies (``boundary.pad``'s map)."""
    return tuple(_edge_index(n, p, p, boundary, torch.device("cpu")).tolist())


@functools.lru_cache(maxsize=1024)
def _runs(indices: tuple[int, ...]) -> tuple[tuple[int, int, int], ...]:
    """``indices`` as maximal runs ``(first, length, step)`` with step +1, −1 or 0, so a gather is a
    few slices (a slice, a flipped slice or a repeated cell) instead of an index_select."""
    runs: list[tuple[int, int, int]] = []
    for i in indices:
        if runs:
            first, length, step = runs[-1]
            last = first + (length - 1) * step
            if length == 1 and i - last in (-1, 0, 1):
                runs[-1] = (first, 2, i - last)
                continue
            if length > 1 and i - last == step:
                runs[-1] = (first, length + 1, step)
                continue
        runs.append((i, 1, 0))
    return tuple(runs)


def _gather(t: Tensor, dim: int, indices: tuple[int, ...]) -> Tensor:
    """``t.index_select(dim, indices)`` by slices."""
    pieces = []
    for first, length, step in _runs(indices):
        if step == 1:
            pieces.append(t.narrow(dim, first, length))
        elif step == -1:
            pieces.append(t.narrow(dim, first - length + 1, length).flip(dim))
        else:
            shape = list(t.shape)
            shape[dim] = length
            pieces.append(t.narrow(dim, first, 1).expand(shape))
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim)


def _scatter_add(out: Tensor, dim: int, indices: tuple[int, ...], grad: Tensor) -> Tensor:
    """Adjoint of :func:`_gather`: ``out.index_add(dim, indices, grad)`` by slices, in place."""
    offset = 0
    for first, length, step in _runs(indices):
        piece = grad.narrow(dim, offset, length)
        offset += length
        if step == 1:
            out.narrow(dim, first, length).add_(piece)
        elif step == -1:
            out.narrow(dim, first - length + 1, length).add_(piece.flip(dim))
        else:
            out.narrow(dim, first, 1).add_(piece.sum(dim, keepdim=True))
    return out


def _slab_values(x: Tensor, slab: _Slab, padding: Sequence[int], boundary: str, value: float) -> Tensor:
    """The slab of ``D`` (see the module docstring): margin rows gathered from ``x`` by the boundary's
    index map, zero rows after or before them; interior only along earlier dimensions."""
    dims = x.dim() - 2
    sizes = x.shape[2:]
    j = slab.axis
    m0, m1 = slab.margin
    if boundary == "constant":
        shape = list(x.shape)
        shape[j + 2] = m1 - m0
        for i in range(j + 1, dims):
            shape[i + 2] = sizes[i] + 2 * padding[i]
        part = x.new_full(shape, value)
    else:
        part = _gather(x, j + 2, _sources(sizes[j], padding[j], boundary)[m0:m1])
        for i in range(j + 1, dims):
            part = _gather(part, i + 2, _sources(sizes[i], padding[i], boundary))
        if boundary == "neumann" and value != 0:
            for i in range(j, dims):
                ramp = _neumann_ramp(sizes[i], padding[i], padding[i], value, part)
                if i == j:
                    ramp = ramp[m0:m1]
                view = [1] * part.dim()
                view[i + 2] = ramp.numel()
                part = part + ramp.reshape(view)
    r0, r1 = slab.rows
    before, after = m0 - r0, r1 - m1
    if before or after:
        widths = [0, 0] * dims
        widths[2 * (dims - 1 - j)] = before
        widths[2 * (dims - 1 - j) + 1] = after
        part = F.pad(part, widths)
    return part


def _scatter_slab(grad_x: Tensor, grad_slab: Tensor, slab: _Slab, padding: Sequence[int], boundary: str) -> None:
    """Adjoint of :func:`_slab_values` (without its constants): add the margin rows' gradients onto
    the cells of ``x`` they were copied from, in place on ``grad_x``."""
    dims = grad_x.dim() - 2
    sizes = grad_x.shape[2:]
    j = slab.axis
    m0, m1 = slab.margin
    part = grad_slab.narrow(j + 2, m0 - slab.rows[0], m1 - m0)
    for i in reversed(range(j + 1, dims)):
        shape = list(part.shape)
        shape[i + 2] = sizes[i]
        part = _scatter_add(part.new_zeros(shape), i + 2, _sources(sizes[i], padding[i], boundary), part)
    _scatter_add(grad_x, j + 2, _sources(sizes[j], padding[j], boundary)[m0:m1], part)


def _taps(weight: Tensor, slab: _Slab) -> Tensor:
    return weight.narrow(slab.axis + 2, slab.taps[0], slab.taps[1] - slab.taps[0])


def _untap(grad: Tensor, slab: _Slab, shape: Sequence[int]) -> Tensor:
    """The gradient of the tap-cropped kernel placed in a full kernel's gradient (zeros elsewhere)."""
    if grad.shape[slab.axis + 2] == shape[slab.axis + 2]:
        return grad
    widths = [0, 0] * (len(shape) - 2)
    widths[2 * (len(shape) - 3 - slab.axis)] = slab.taps[0]
    widths[2 * (len(shape) - 3 - slab.axis) + 1] = shape[slab.axis + 2] - slab.taps[1]
    return F.pad(grad, widths)


def _slab_padding(slab: _Slab, padding: Sequence[int]) -> tuple[int, ...]:
    """Earlier dimensions carry only the interior, so the native kernel zero-pads them."""
    return tuple(p if i < slab.axis else 0 for i, p in enumerate(padding))


class _BorderConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, boundary, value):  # type: ignore[override]
        dims = x.dim() - 2
        y = _CONV[dims](x, weight, bias, stride, padding, dilation, groups)
        slabs = _slabs(x.shape[2:], padding, weight.shape[2:], stride, dilation)
        values = [_slab_values(x, slab, padding, boundary, value) for slab in slabs]
        for slab, v in zip(slabs, values, strict=True):
            part = _CONV[dims](v, _taps(weight, slab), None, stride, _slab_padding(slab, padding), dilation, groups)
            y.narrow(slab.axis + 2, *slab.outputs).add_(part)
        ctx.save_for_backward(x, weight, *values)
        ctx.options = (stride, padding, dilation, groups, boundary, value, slabs, bias is not None)
        return y

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, weight, *saved = ctx.saved_tensors
        stride, padding, dilation, groups, boundary, value, slabs, has_bias = ctx.options
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        zeros = [0] * (x.dim() - 2)
        grad_x, grad_w, grad_b = torch.ops.aten.convolution_backward(
            grad, x, weight, [weight.shape[0]] if has_bias else None, list(stride), list(padding),
            list(dilation), False, zeros, groups, [need_x, need_w, need_b and has_bias])
        for slab, values in zip(slabs, saved, strict=True):
            if not need_w and (not need_x or boundary == "constant"):
                break
            band = grad.narrow(slab.axis + 2, *slab.outputs)
            if torch.is_grad_enabled():  # a gradient of this gradient needs the slab as a function of x
                values = _slab_values(x, slab, padding, boundary, value)
            grad_slab, grad_w_slab, _ = torch.ops.aten.convolution_backward(
                band, values, _taps(weight, slab), None, list(stride), list(_slab_padding(slab, padding)),
                list(dilation), False, zeros, groups, [need_x and boundary != "constant", need_w, False])
            if need_w:
                grad_w = grad_w + _untap(grad_w_slab, slab, weight.shape)
            if need_x and boundary != "constant":
                _scatter_slab(grad_x, grad_slab, slab, padding, boundary)
        return grad_x, grad_w, grad_b, None, None, None, None, None, None


def border_conv(x: Tensor, weight: Tensor, bias: Tensor | None, stride: Sequence[int], padding: Sequence[int],
                dilation: Sequence[int], groups: int, boundary: str, value: float = 0.0) -> Tensor:
    """``conv(pad(x, p, boundary, value), weight)`` without the padded copy (see the module docstring).

    Args:
        x: ``(N, C_in, *spatial)``; weight: ``(C_out, C_in/groups, *kernel)``; bias: ``(C_out,)`` or None.
        stride, padding, dilation: one int per spatial dimension; ``padding[i]`` cells on both sides.
        boundary: ``"constant"``, ``"neumann"``, ``"reflect"``, ``"symmetric"`` or ``"circular"``.

    Returns:
        ``(N, C_out, *out)``, exactly what padding then convolving gives.
    """
    return _BorderConv.apply(x, weight, bias, tuple(stride), tuple(padding), tuple(dilation), groups, boundary,
                             float(value))


__all__ = ["border_conv"]
