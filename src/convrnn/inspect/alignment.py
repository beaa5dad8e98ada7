"""Attention alignments as heat maps: which source position each output token looked at."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import Tensor

from convrnn.inspect._plot import figure_png, require_matplotlib, write_atomic


def plot_alignment(weights: Tensor | np.ndarray, source: Sequence[str], target: Sequence[str], *,
                   title: str | None = None) -> bytes:
    """PNG of an attention matrix: row t = output token ``target[t]``, column j = source token
    ``source[j]``, cell shade = α_{t,j} on a fixed 0 … 1 scale (white 0, black 1).

    weights: (T, S) with T = ``len(target)``, S = ``len(source)``; each row normally sums to 1.
    """
    matrix = np.asarray(weights.detach().cpu() if isinstance(weights, Tensor) else weights, dtype=float)
    if matrix.ndim != 2 or matrix.shape != (len(target), len(source)):
        raise ValueError(f"plot_alignment: argument 'weights' expected shape (len(target)={len(target)}, "
                         f"len(source)={len(source)}), got {matrix.shape}")
    if matrix.size and (not np.isfinite(matrix).all() or matrix.min() < 0 or matrix.max() > 1 + 1e-6):
        raise ValueError("plot_alignment: argument 'weights' expected attention weights in [0, 1], "
                         f"got values in [{np.nanmin(matrix):.3g}, {np.nanmax(matrix):.3g}]")
    plt = require_matplotlib()
    figure, axes = plt.subplots(figsize=(0.45 * len(source) + 1.6, 0.4 * len(target) + 1.2))
    image = axes.imshow(matrix, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source)), [str(s) for s in source])
    axes.set_yticks(range(len(target)), [str(t) for t in target])
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    axes.xaxis.set_ticks_position("top")
    axes.xaxis.set_label_position("top")
    if title:
        axes.set_title(title, pad=24)
    figure.colorbar(image, ax=axes, fraction=0.05, label="attention weight")
    return figure_png(figure)


def save_alignment(path: str | os.PathLike[str], weights: Tensor | np.ndarray, source: Sequence[str],
                   target: Sequence[str], *, title: str | None = None) -> Path:
    """Write :func:`plot_alignment`'s PNG to ``path`` atomically and return the path."""
    return write_atomic(path, plot_alignment(weights, source, target, title=title))


__all__ = ["plot_alignment", "save_alignment"]
