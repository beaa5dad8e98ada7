"""Strings of handwritten digits: 1–8 real MNIST digits side by side on a canvas of fixed height.

Each string draws, from one random generator seeded by ``(seed, split)``: its digit count L, and
per digit an MNIST image, a scale s (the 28×28 image is resampled to round(28·s) pixels square by
area averaging), a vertical offset (anywhere the digit fits), and the gap to the previous digit
(negative gaps let the 28×28 boxes overlap; their empty borders keep the ink mostly apart, and
overlapping pixels take the maximum). A left and a right margin frame the string, so the canvas
width W is a sum of the drawn sizes:

    x_0 = margin_left,   x_k = x_{k−1} + size_{k−1} + gap_k,   W = x_{L−1} + size_{L−1} + margin_right

The layouts of all strings are drawn at construction (cheap); canvases are rendered when an item is
read, so a data set of 100,000 strings costs a few megabytes. The same ``(seed, split)`` always
gives the same strings. Train strings use the 50k MNIST train digits, validation strings the 10k
validation digits and test strings only the 10k MNIST test digits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrnn.data.arrays import check_split

__all__ = ["DigitStrings", "collate_digit_strings", "resample_matrix"]

SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}
DIGIT_SIZE = 28


@lru_cache(maxsize=64)
def resample_matrix(size_out: int, size_in: int = DIGIT_SIZE) -> np.ndarray:
    """Area-averaging resampling ``(size_out, size_in)``: output pixel i averages input span
    ``[i·r, (i+1)·r)`` with r = size_in / size_out, so ``R @ image @ R.T`` resizes a square image."""
    if size_out < 1 or size_in < 1:
        raise ValueError(f"resample_matrix: expected sizes ≥ 1, got {size_out} and {size_in}")
    ratio = size_in / size_out
    low = np.arange(size_out)[:, None] * ratio
    cells = np.arange(size_in)[None, :]
    overlap = np.clip(np.minimum(low + ratio, cells + 1) - np.maximum(low, cells), 0, None)
    matrix = (overlap / ratio).astype(np.float32)
    matrix.setflags(write=False)
    return matrix


def _check_range(name: str, value: Sequence[float], *, integer: bool) -> tuple:
    kind = int if integer else (int, float)
    if (not isinstance(value, Sequence) or len(value) != 2
            or not all(isinstance(v, kind) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            or value[0] > value[1]):
        raise ValueError(f"DigitStrings: argument '{name}' expected a (low, high) pair of "
                         f"{'ints' if integer else 'finite numbers'} with low ≤ high, got {value!r}")
    return tuple(value)


class DigitStrings(Dataset[tuple[Tensor, Tensor]]):
    """``count`` strings of MNIST digits of one split, generated deterministically from ``seed``.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``: which MNIST digits the strings use.
        count: number of strings.
        seed: with ``split``, fixes every string.
        height: the canvas height H (every digit must fit: round(28 · scale high) ≤ H).
        digits: (low, high) digits per string, uniform.
        scale: (low, high) of the uniform digit scale s.
        gap: (low, high) pixels between neighbouring 28·s boxes, uniform integers.
        margin: (low, high) pixels left of the first and right of the last digit.
        source: ``(images (M, 28, 28) uint8, labels (M,))`` to draw from instead of MNIST (tests).
        cache, download: where MNIST lives; whether to fetch it when missing.

    Items: ``(image (1, H, W_i) float32 in [0, 1] (ink bright, as in MNIST), labels (L_i,) int64)``.
    Attributes: ``widths (count,)`` the canvas widths W_i; :meth:`labels`, :meth:`boxes`.
    """

    def __init__(self, split: str = "train", count: int = 10_000, *, seed: int = 0, height: int = 32,
                 digits: tuple[int, int] = (1, 8), scale: tuple[float, float] = (0.8, 1.1),
                 gap: tuple[int, int] = (-6, 4), margin: tuple[int, int] = (0, 6),
                 source: tuple[np.ndarray, np.ndarray] | None = None,
                 cache: str | os.PathLike[str] | None = None, download: bool = True) -> None:
        self.split = check_split(split, where="DigitStrings")
        if self.split not in SPLIT_CODES:
            raise ValueError(f"DigitStrings: argument 'split' expected one of {list(SPLIT_CODES)}, got {split!r}")
        for name, value, least in (("count", count, 1), ("height", height, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"DigitStrings: argument '{name}' expected an int ≥ {least}, got {value!r}")
        digits = _check_range("digits", digits, integer=True)
        scale = _check_range("scale", scale, integer=False)
        gap = _check_range("gap", gap, integer=True)
        margin = _check_range("margin", margin, integer=True)
        if digits[0] < 1:
            raise ValueError(f"DigitStrings: argument 'digits' expected at least 1 digit per string, got {digits}")
        smallest, largest = round(DIGIT_SIZE * scale[0]), round(DIGIT_SIZE * scale[1])
        if smallest < 1 or largest > height:
            raise ValueError(f"DigitStrings: argument 'scale' expected digits of 1 to height={height} pixels, "
                             f"got {scale} → {smallest} to {largest} pixels")
        if gap[0] <= -smallest // 2:
            raise ValueError(f"DigitStrings: argument 'gap' expected a low end above −{smallest // 2} (half the "
                             f"smallest digit), so digits stay in order; got {gap}")
        if margin[0] < 0:
            raise ValueError(f"DigitStrings: argument 'margin' expected pixels ≥ 0, got {margin}")
        if source is None:
            from convrnn.data.mnist import load_mnist

            source = load_mnist(self.split, cache=cache, download=download)
        images, source_labels = source
        images, source_labels = np.asarray(images), np.asarray(source_labels)
        if images.ndim != 3 or images.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE) or len(images) != len(source_labels):
            raise ValueError(f"DigitStrings: argument 'source' expected images (M, 28, 28) and labels (M,), "
                             f"got {images.shape} and {source_labels.shape}")
        self.source_images, self.source_labels = images, source_labels.astype(np.int64)
        self.count, self.seed, self.height = count, seed, height
        self.options = {"digits": digits, "scale": scale, "gap": gap, "margin": margin}

        rng = np.random.default_rng([seed, SPLIT_CODES[self.split]])
        counts = rng.integers(digits[0], digits[1] + 1, size=count)
        total = int(counts.sum())
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.digit_index = rng.integers(0, len(images), size=total)
        self.sizes = np.rint(DIGIT_SIZE * rng.uniform(scale[0], scale[1], size=total)).astype(np.int64)
        self.ys = np.floor(rng.uniform(0, 1, size=total) * (height - self.sizes + 1)).astype(np.int64)
        gaps = rng.integers(gap[0], gap[1] + 1, size=total)
        margins = rng.integers(margin[0], margin[1] + 1, size=(count, 2))
        string_of = np.repeat(np.arange(count), counts)
        first = np.zeros(total, dtype=bool)
        first[self.offsets[:-1]] = True
        step = np.where(first, margins[string_of, 0], np.roll(self.sizes, 1) + gaps)
        running = np.cumsum(step)
        self.xs = running - (running - step)[self.offsets[:-1]][string_of]
        last = self.offsets[1:] - 1
        self.widths = self.xs[last] + self.sizes[last] + margins[:, 1]

    def __len__(self) -> int:
        return self.count

    def _digits(self, index: int) -> range:
        if not -self.count <= index < self.count:
            raise IndexError(f"DigitStrings: index {index} out of range for {self.count} strings")
        index %= self.count
        return range(int(self.offsets[index]), int(self.offsets[index + 1]))

    def labels(self, index: int) -> list[int]:
        """The digits of string ``index``, left to right."""
        return self.source_labels[self.digit_index[self._digits(index)]].tolist()

    def boxes(self, index: int) -> list[tuple[int, int, int]]:
        """``(x, y, size)`` of every digit's box on the canvas of string ``index``, left to right."""
        return [(int(self.xs[k]), int(self.ys[k]), int(self.sizes[k])) for k in self._digits(index)]

    def render(self, index: int) -> np.ndarray:
        """The canvas of string ``index``: ``(H, W)`` float32 in [0, 1]."""
        parts = self._digits(index)
        canvas = np.zeros((self.height, int(self.widths[index % self.count])), dtype=np.float32)
        for k in parts:
            size, x, y = int(self.sizes[k]), int(self.xs[k]), int(self.ys[k])
            matrix = resample_matrix(size)
            digit = matrix @ (self.source_images[self.digit_index[k]].astype(np.float32) / 255) @ matrix.T
            region = canvas[y:y + size, x:x + size]
            np.maximum(region, digit, out=region)
        return canvas

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        index = int(index)
        return (torch.from_numpy(self.render(index)).unsqueeze(0),
                torch.tensor(self.labels(index), dtype=torch.int64))

    def __repr__(self) -> str:
        return (f"DigitStrings(split={self.split!r}, count={self.count}, seed={self.seed}, height={self.height}, "
                + ", ".join(f"{k}={v}" for k, v in self.options.items()) + ")")


def collate_digit_strings(examples: Sequence[tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
    """Pad a batch of ``(image (1, H, W_i), labels (L_i,))`` to the widest canvas and longest string.

    Returns ``{"images": (B, 1, H, max W_i) zero-padded on the right, "widths": (B,),
    "targets": (B, max L_i) padded with −1, "target_lengths": (B,)}``.
    """
    if not examples:
        raise ValueError("collate_digit_strings: expected a non-empty batch of (image, labels) pairs")
    heights = {tuple(image.shape[:2]) for image, _ in examples}
    if len(heights) != 1:
        raise ValueError(f"collate_digit_strings: expected images (C, H, W) of one C and H, got {sorted(heights)}")
    widths = torch.tensor([image.shape[-1] for image, _ in examples])
    lengths = torch.tensor([len(labels) for _, labels in examples])
    channels, height = heights.pop()
    images = torch.zeros(len(examples), channels, height, int(widths.max()))
    targets = torch.full((len(examples), max(int(lengths.max()), 1)), -1, dtype=torch.int64)
    for row, (image, labels) in enumerate(examples):
        images[row, :, :, :image.shape[-1]] = image
        targets[row, :len(labels)] = labels
    return {"images": images, "widths": widths, "targets": targets, "target_lengths": lengths}
