"""Glue blocks: the seeds' vec/unvec (``Flatten``/``Unflatten``), residual connections, and
``Parallel`` branches ("wide convolutions": kernels of several sizes side by side)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import BatchNorm1d, BatchNorm2d, BatchNorm3d, Dropout, Flatten, Unflatten

from convrnn.functional._checks import check_choice, check_int, check_module

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Dropout",
    "Flatten",
    "Parallel",
    "Residual",
    "Unflatten",
]

# Flatten/Unflatten, BatchNorm and Dropout are torch's own, re-exported: vec(x) is
# ``Flatten()`` — (N, C, *spatial) → (N, C·∏spatial) — and unvec is ``Unflatten(1, (C, *spatial))``.

MERGES = ("concat", "sum", "mean", "stack")


class Residual(nn.Module):
    """Residual connection: ``y = block(x) + shortcut(x)``; the shortcut is the identity by default,
    or e.g. a strided 1×1 convolution where the block changes shape (He et al., 2015).

    Shapes: ``x: (N, *)`` → the block's output shape, which the shortcut must match.
    """

    def __init__(self, block: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        check_module("block", block, where="Residual")
        if shortcut is not None:
            check_module("shortcut", shortcut, where="Residual")
        self.block = block
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        skip = self.shortcut(x)
        if not torch.jit.is_tracing() and out.shape != skip.shape:
            raise ValueError(
                f"Residual: the block's output shape {tuple(out.shape)} differs from the shortcut's "
                f"{tuple(skip.shape)}; pass a shortcut that maps x to the block's shape"
            )
        return out + skip


class Parallel(nn.Module):
    """Several branches over the same input, merged: the seeds' "wide convolutions".

        merge="concat":  y = [b₁(x); b₂(x); …]  along ``dim`` (channels by default)
        merge="sum"/"mean": y = Σ bᵢ(x) (or its mean);   merge="stack": a new axis at ``dim``

    Shapes: ``x: (N, C, *spatial)`` → for concat, ``(N, Σ C_i, *spatial)`` (branches must agree on
    every other axis — use ``padding="same"`` convolutions).
    """

    def __init__(self, *branches: nn.Module, merge: str = "concat", dim: int = 1) -> None:
        super().__init__()
        if not branches:
            raise ValueError("Parallel: expected at least one branch, got none")
        check_choice("merge", merge, MERGES, where="Parallel")
        for index, branch in enumerate(branches):
            check_module(f"branches[{index}]", branch, where="Parallel")
        check_int("dim", dim, where="Parallel")
        self.branches = nn.ModuleList(branches)
        self.merge, self.dim = merge, dim

    def forward(self, x: Tensor) -> Tensor:
        outs = [branch(x) for branch in self.branches]
        if self.merge == "concat":
            return torch.cat(outs, dim=self.dim)
        if self.merge == "stack":
            return torch.stack(outs, dim=self.dim)
        total = torch.stack(outs, dim=0).sum(0)
        return total / len(outs) if self.merge == "mean" else total

    def extra_repr(self) -> str:
        return f"merge={self.merge!r}, dim={self.dim}"
