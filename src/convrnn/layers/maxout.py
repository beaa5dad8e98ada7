"""Maxout layers (Goodfellow et al., 2013) over :func:`convrnn.functional.maxout`: a fully connected
maxout unit with ``k`` linear pieces, and the channel-group maxout for convolutional features."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convrnn.functional.maxout import maxout

__all__ = ["ChannelMaxout", "Maxout"]


class Maxout(nn.Module):
    """Fully connected maxout layer: each output unit is the maximum of ``k`` affine functions of
    the input,

        h_i(x) = max_{0 ≤ j < k} z_{ij},    z_{ij} = x · W_{:, i·k + j} + b_{i·k + j}

    computed as one ``nn.Linear(in_features, out_features·k)`` (child ``linear``) followed by
    :func:`convrnn.functional.maxout` over its contiguous groups of ``k`` outputs: row ``i·k + j``
    of ``linear.weight`` is piece ``j`` of unit ``i``.

    Shapes: ``x: (N, *, in_features)`` → ``(N, *, out_features)``; ``linear.weight:
    (out_features·k, in_features)``, ``linear.bias: (out_features·k,)``.
    Parameters: ``k·out_features·(in_features + 1)`` with bias.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int, bias: bool = True) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features), ("pieces", pieces)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Maxout: argument '{name}' expected an int ≥ 1, got {value!r}")
        self.in_features, self.out_features, self.pieces = in_features, out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if not torch.jit.is_tracing() and (x.dim() < 1 or x.shape[-1] != self.in_features):
            raise ValueError(f"Maxout: argument 'x' expected shape (N, *, {self.in_features}), got "
                             f"{tuple(x.shape)}")
        return maxout(self.linear(x), self.pieces, dim=-1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}"


class ChannelMaxout(nn.Module):
    """Maxout over groups of ``k`` contiguous channels, no parameters: after a convolution with
    ``k·C`` filters it makes a convolutional maxout layer with ``C`` maps,

        y[n, g, *p] = max_{0 ≤ j < k} x[n, g·k + j, *p]

    e.g. ``nn.Sequential(Conv2d(C_in, k·C, 3), ChannelMaxout(k))``. Any number of spatial axes.

    Shapes: ``x: (N, C·k, *spatial)`` → ``(N, C, *spatial)`` (``dim`` picks another channel axis).
    """

    def __init__(self, pieces: int, dim: int = 1) -> None:
        super().__init__()
        if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 1:
            raise ValueError(f"ChannelMaxout: argument 'pieces' expected an int ≥ 1, got {pieces!r}")
        self.pieces, self.dim = pieces, dim

    def forward(self, x: Tensor) -> Tensor:
        return maxout(x, self.pieces, dim=self.dim)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}" + (f", dim={self.dim}" if self.dim != 1 else "")
