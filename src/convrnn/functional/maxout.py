"""Maxout (Goodfellow et al., 2013): the maximum over groups of ``k`` pieces along one axis — seed 002's
"max filter → maxout", a max-pool over channels instead of over positions.

    y[…, g, …] = max_{0 ≤ j < k} x[…, g·k + j, …]          (g = 0 … C/k − 1)

Channel grouping: the ``k`` pieces of output unit ``g`` are the *contiguous* channels
``g·k … g·k + k − 1`` (the input axis reshaped to ``(C/k, k)``, as pylearn2's maxout layers do); a
layer that computes the pieces orders its outputs to match (:class:`convrnn.layers.Maxout`).

Gradient: ``∂y_g/∂x_{g·k+j} = 1`` for the piece that is the maximum, 0 for the others ("the
gradient passes through the maximum location, 0 otherwise"). Ties: when several pieces equal the
maximum the whole gradient goes to the first of them (lowest ``j``), as ``torch.max(dim)`` and
max pooling route it — not split evenly as ``torch.amax`` does.
"""

from __future__ import annotations

from torch import Tensor

from convrnn.functional._checks import is_tracing


def maxout(x: Tensor, pieces: int, dim: int = 1) -> Tensor:
    """Maximum over each group of ``pieces`` contiguous entries of axis ``dim``.

    Args:
        x: ``(*before, C, *after)`` with ``C = x.shape[dim]`` divisible by ``pieces`` — features
            ``(N, C)`` or convolutional maps ``(N, C, *spatial)`` with any number of spatial axes.
        pieces: ``k ≥ 1``, the linear pieces per output unit (``k = 1`` returns ``x``).
        dim: the axis that holds the pieces (default 1, the channels of ``(N, C, …)``).

    Returns:
        ``(*before, C / k, *after)``: ``y[…, g, …] = max_j x[…, g·k + j, …]``.
    """
    if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 1:
        raise ValueError(f"maxout: argument 'pieces' expected an int ≥ 1, got {pieces!r}")
    if not isinstance(x, Tensor):
        raise TypeError(f"maxout: argument 'x' expected a Tensor, got {type(x).__name__}")
    if isinstance(dim, bool) or not isinstance(dim, int) or not -x.dim() <= dim < x.dim():
        raise ValueError(f"maxout: argument 'dim' expected an int in [{-x.dim()}, {x.dim() - 1}] for x of shape "
                         f"{tuple(x.shape)}, got {dim!r}")
    dim = dim % x.dim()
    size = x.shape[dim]
    if not is_tracing() and size % pieces:
        raise ValueError(f"maxout: argument 'x' expected axis {dim} divisible by pieces={pieces}, got shape "
                         f"{tuple(x.shape)}")
    if pieces == 1:
        return x
    grouped = x.unflatten(dim, (size // pieces, pieces))
    return grouped.max(dim=dim + 1).values
