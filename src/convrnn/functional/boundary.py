"""Padding with the boundary conditions of the seeds: zeros, Dirichlet, Neumann, reflect, symmetric, cyclic.

A finite signal ``x`` of length ``n`` is extended past its edges before a convolution or a
pooling window slides over it. With ``k`` counting cells outward from the edge (k = 1, 2, …):

==============  =====================================================  ==================
boundary        padded cell on the low side, ``x[−k]``                  ``numpy.pad`` mode
==============  =====================================================  ==================
``zeros``       0                                                       ``constant``
``constant``    ``value`` (Dirichlet: r(m) = c on the boundary)         ``constant``
``neumann``     ``x[0] + k·value`` (outward difference ∂r = value;      ``edge`` (value 0)
                ``value = 0`` replicates the edge)
``reflect``     ``x[k]`` (mirror about the edge, not repeating it)     ``reflect``
``symmetric``   ``x[k − 1]`` (mirror that repeats the edge cell)         ``symmetric``
``circular``    ``x[n − k]`` (cyclic: the signal wraps around)           ``wrap``
==============  =====================================================  ==================

and symmetrically on the high side. ``reflect`` needs ``pad < n``; ``symmetric`` and
``circular`` repeat periodically for any amount, as ``numpy.pad`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from convrnn.functional._checks import check_choice, check_int, check_real, check_tensor, is_tracing, static_sizes

BOUNDARIES = ("zeros", "constant", "neumann", "reflect", "symmetric", "circular")

Padding = int | Sequence[int] | Sequence[tuple[int, int]] | Sequence[Sequence[int]]


def normalize_padding(padding: Padding, dims: int, *, name: str = "padding",
                      where: str = "pad") -> tuple[tuple[int, int], ...]:
    """Turn an int, ``dims`` ints, or ``dims`` ``(low, high)`` pairs into ``dims`` pairs of ints ≥ 0.

    Pairs are listed from the first spatial dimension to the last (unlike ``torch.nn.functional.pad``,
    which lists the last dimension first).
    """
    def bad() -> ValueError:
        return ValueError(
            f"{where}: argument '{name}' expected an int ≥ 0, {dims} ints, or {dims} (low, high) "
            f"pairs (one per spatial dimension, first to last), got {padding!r}"
        )

    check_int("dims", dims, where=where, minimum=1)
    if isinstance(padding, bool):
        raise bad()
    if isinstance(padding, int):
        pairs = [(padding, padding)] * dims
    elif isinstance(padding, Sequence) and not isinstance(padding, str):
        if len(padding) != dims:
            raise bad()
        pairs = []
        for item in padding:
            if isinstance(item, int) and not isinstance(item, bool):
                pairs.append((item, item))
            elif (isinstance(item, Sequence) and len(item) == 2
                  and all(isinstance(v, int) and not isinstance(v, bool) for v in item)):
                pairs.append((item[0], item[1]))
            else:
                raise bad()
    else:
        raise bad()
    if any(v < 0 for pair in pairs for v in pair):
        raise bad()
    return tuple(pairs)


def _edge_index(n: int, low: int, high: int, boundary: str, device: torch.device) -> Tensor:
    """Source index along one dimension for every cell of the padded signal, length ``low + n + high``."""
    i = torch.arange(-low, n + high, device=device)
    if boundary == "circular":
        return i.remainder(n)
    if boundary == "symmetric":
        i = i.remainder(2 * n)
        return torch.where(i >= n, 2 * n - 1 - i, i)
    if boundary == "reflect":
        if n == 1:
            return torch.zeros_like(i)
        i = i.remainder(2 * n - 2)
        return torch.where(i >= n, 2 * n - 2 - i, i)
    return i.clamp(0, n - 1)  # neumann: replicate the edge, the ramp is added afterwards


def _neumann_ramp(n: int, low: int, high: int, value: float, like: Tensor) -> Tensor:
    """Distance outward from the nearest edge times ``value``: 0 inside, k·value at the k-th padded cell."""
    i = torch.arange(-low, n + high, device=like.device, dtype=like.dtype)
    outward = torch.clamp(-i, min=0) + torch.clamp(i - (n - 1), min=0)
    return outward * value


def check_reflect_padding(pairs: Sequence[tuple[int, int]], sizes: Sequence[int], where: str = "pad") -> None:
    """``"reflect"`` mirrors about the edge cell, so it can pad at most ``n − 1`` cells per side."""
    for axis, ((low, high), n) in enumerate(zip(pairs, sizes, strict=True)):
        if max(low, high) >= n and max(low, high) > 0:
            raise ValueError(
                f"{where}: argument 'padding' with boundary 'reflect' expected padding < input size along spatial "
                f"dimension {axis}, got padding {(low, high)} for size {n} "
                f"(use 'symmetric' or 'circular' for larger amounts)"
            )


def pad(x: Tensor, padding: Padding, boundary: str = "zeros", value: float = 0.0) -> Tensor:
    """Pad every spatial dimension of ``x`` with a boundary condition.

    Args:
        x: ``(N, C, *spatial)`` with one or more spatial dimensions.
        padding: an int (every side), one int per spatial dimension (both sides), or one
            ``(low, high)`` pair per spatial dimension, first spatial dimension first.
        boundary: one of ``"zeros"``, ``"constant"``, ``"neumann"``, ``"reflect"``,
            ``"symmetric"``, ``"circular"`` (see the module docstring for the formulas).
        value: the Dirichlet constant for ``"constant"``, the outward difference for ``"neumann"``.

    Returns:
        ``(N, C, *padded)`` with ``padded[i] = spatial[i] + low_i + high_i``.

    Every boundary is differentiable: gradients of padded cells flow back to the cells they copy.
    """
    check_tensor("x", x, where="pad")
    if x.dim() < 3:
        raise ValueError(
            f"pad: argument 'x' expected shape (N, C, *spatial) with at least one spatial "
            f"dimension, got shape {tuple(x.shape)}"
        )
    check_choice("boundary", boundary, BOUNDARIES, where="pad")
    value = check_real("value", value, where="pad")
    dims = x.dim() - 2
    pairs = normalize_padding(padding, dims)
    sizes = static_sizes(x)
    if boundary == "reflect" and not is_tracing():
        check_reflect_padding(pairs, sizes)
    if all(low == 0 and high == 0 for low, high in pairs):
        return x
    if boundary in ("zeros", "constant"):
        fill = 0.0 if boundary == "zeros" else float(value)
        return F.pad(x, _torch_order(pairs), mode="constant", value=fill)
    if _torch_pad_supports(boundary, pairs, sizes, value):
        mode = {"neumann": "replicate", "reflect": "reflect"}[boundary]
        return F.pad(x, _torch_order(pairs), mode=mode)
    indices = tuple(_edge_index(n, low, high, boundary, x.device)
                    for (low, high), n in zip(pairs, sizes, strict=True))
    if is_tracing():
        # graph exporters get plain differentiable ops
        out = x
        for axis, index in enumerate(indices):
            out = out.index_select(axis + 2, index)
    else:
        out = _MarginPad.apply(x, pairs, indices)
    if boundary == "neumann" and value != 0:
        for axis, ((low, high), n) in enumerate(zip(pairs, sizes, strict=True)):
            shape = [1] * out.dim()
            shape[axis + 2] = n + low + high
            out = out + _neumann_ramp(n, low, high, float(value), out).reshape(shape)
    return out


def _fill_margins(x: Tensor, pairs: Sequence[tuple[int, int]], indices: Sequence[Tensor]) -> Tensor:
    """Zero-pad ``x``, then copy each margin from the cells its boundary names, one dimension at a
    time (so corners copy already padded rows, exactly like padding dimension by dimension)."""
    out = F.pad(x, _torch_order(pairs))
    for axis, ((low, high), index) in enumerate(zip(pairs, indices, strict=True)):
        dim = axis + 2
        if low:
            out.narrow(dim, 0, low).copy_(out.index_select(dim, index[:low] + low))
        if high:
            size = index.numel()
            out.narrow(dim, size - high, high).copy_(out.index_select(dim, index[size - high:] + low))
    return out


def _fold_margins(grad: Tensor, pairs: Sequence[tuple[int, int]], indices: Sequence[Tensor]) -> Tensor:
    """Adjoint of :func:`_fill_margins`: add each margin's gradient onto the cells it copied."""
    for axis in reversed(range(len(pairs))):
        (low, high), index, dim = pairs[axis], indices[axis], axis + 2
        size = index.numel()
        inner = grad.narrow(dim, low, size - low - high).clone()
        if low:
            inner.index_add_(dim, index[:low], grad.narrow(dim, 0, low))
        if high:
            inner.index_add_(dim, index[size - high:], grad.narrow(dim, size - high, high))
        grad = inner
    return grad


class _MarginPad(torch.autograd.Function):
    """Boundary padding whose backward folds the margins back (PyTorch's circular padding backward
    costs ~10× the convolution it feeds); differentiable to any order through :class:`_MarginFold`."""

    @staticmethod
    def forward(ctx, x, pairs, indices):  # type: ignore[override]
        ctx.pairs, ctx.indices = pairs, indices
        return _fill_margins(x, pairs, indices)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return _MarginFold.apply(grad, ctx.pairs, ctx.indices), None, None


class _MarginFold(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad, pairs, indices):  # type: ignore[override]
        ctx.pairs, ctx.indices = pairs, indices
        return _fold_margins(grad, pairs, indices)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return _MarginPad.apply(grad, ctx.pairs, ctx.indices), None, None


def _torch_order(pairs: Sequence[tuple[int, int]]) -> list[int]:
    """``F.pad`` lists (low, high) from the last dimension to the first."""
    flat: list[int] = []
    for low, high in reversed(pairs):
        flat += [low, high]
    return flat


def _torch_pad_supports(boundary: str, pairs: Sequence[tuple[int, int]],
                        sizes: Sequence[int], value: float) -> bool:
    """Whether PyTorch's own padding kernel computes this boundary at full speed, both ways."""
    if len(pairs) > 3:
        return False
    return boundary == "reflect" or (boundary == "neumann" and value == 0)
