"""Pictures of per-pixel labels: a fixed 11-colour palette (digits 0–9, background) and a grid of
input / truth / prediction, one row per example, with a legend of the classes.

Letters: B examples, H × W pixels, K = 11 classes (10 = background).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import Tensor

from convrnn.inspect._plot import figure_png, require_matplotlib, write_atomic

# Digits take matplotlib's "tab10" colours (distinct, colour-blind-aware); the background is
# near-black, so a prediction reads like the ink on the input.
PALETTE = np.array([
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (20, 20, 20),
], dtype=np.uint8)
CLASS_NAMES = (*(str(digit) for digit in range(10)), "background")


def _numpy(x: Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def colorize(labels: Tensor | np.ndarray) -> np.ndarray:
    """RGB bytes for a label map: ``labels (H, W)`` integers in 0–10 → ``(H, W, 3) uint8`` by :data:`PALETTE`."""
    values = _numpy(labels)
    if values.ndim != 2 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"colorize: argument 'labels' expected an (H, W) integer array, "
                         f"got shape {values.shape} dtype {values.dtype}")
    if values.size and (values.min() < 0 or values.max() >= len(PALETTE)):
        raise ValueError(f"colorize: argument 'labels' expected classes in [0, {len(PALETTE)}), "
                         f"got values in [{values.min()}, {values.max()}]")
    return PALETTE[values]


def plot_segmentations(images: Tensor | np.ndarray, truth: Tensor | np.ndarray,
                       predicted: Tensor | np.ndarray, *, titles: Sequence[str] | None = None) -> bytes:
    """PNG bytes of a B × 3 grid: input (grey), true labels, predicted labels (both by :data:`PALETTE`).

    ``images: (B, H, W)`` or ``(B, 1, H, W)`` in [0, 1]; ``truth, predicted: (B, H, W)`` in 0–10;
    ``titles``: an optional caption per row (e.g. its IoU).
    """
    plt = require_matplotlib()
    pixels = _numpy(images)
    if pixels.ndim == 4 and pixels.shape[1] == 1:
        pixels = pixels[:, 0]
    truth, predicted = _numpy(truth), _numpy(predicted)
    if pixels.ndim != 3 or pixels.shape[0] == 0:
        raise ValueError(f"plot_segmentations: argument 'images' expected (B, H, W) or (B, 1, H, W) with B ≥ 1, "
                         f"got shape {_numpy(images).shape}")
    for name, labels in (("truth", truth), ("predicted", predicted)):
        if labels.shape != pixels.shape:
            raise ValueError(f"plot_segmentations: argument '{name}' expected shape {pixels.shape} "
                             f"(one label per input pixel), got {labels.shape}")
    if titles is not None and len(titles) != len(pixels):
        raise ValueError(f"plot_segmentations: argument 'titles' expected {len(pixels)} captions, got {len(titles)}")
    rows = len(pixels)
    figure, axes = plt.subplots(rows, 3, figsize=(6.6, 2.2 * rows + 0.6), squeeze=False)
    for row in range(rows):
        panels = (pixels[row], colorize(truth[row]), colorize(predicted[row]))
        for column, (panel, name) in enumerate(zip(panels, ("input", "truth", "prediction"), strict=True)):
            axis = axes[row, column]
            if column == 0:
                axis.imshow(panel, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                axis.imshow(panel, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(name)
        if titles is not None:
            axes[row, 0].set_ylabel(titles[row], fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=PALETTE[k] / 255) for k in range(len(PALETTE))]
    figure.legend(handles, CLASS_NAMES, loc="lower center", ncol=6, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.6 / (2.2 * rows + 0.6), 1, 1))
    return figure_png(figure)


def write_segmentations(path: str | os.PathLike[str], images: Tensor | np.ndarray, truth: Tensor | np.ndarray,
                        predicted: Tensor | np.ndarray, *, titles: Sequence[str] | None = None) -> Path:
    """Write :func:`plot_segmentations` to ``path`` atomically and return the path."""
    return write_atomic(path, plot_segmentations(images, truth, predicted, titles=titles))


__all__ = ["CLASS_NAMES", "PALETTE", "colorize", "plot_segmentations", "write_segmentations"]
