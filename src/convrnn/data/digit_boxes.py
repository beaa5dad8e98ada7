"""Digit canvases for detection: 1–4 real MNIST digits at varied scales on a canvas, each with its tight box.

The sibling of :mod:`convrnn.data.digit_canvas` (which draws whole 28×28 digits for per-pixel
labels): here each digit is first cropped to the rows and columns holding ink (a pixel ≥
``ink_threshold``), then resized (bilinear, antialiased) to a height drawn uniformly from
``heights`` with its aspect ratio kept, and placed at a uniformly drawn position. Its box is the
rectangle it was drawn into, ``(x1, y1, x2, y2) = (left, top, left + w, top + h)`` in pixels (see
:mod:`convrnn.functional.boxes`), so the box is tight around the digit's ink by construction.

A position is redrawn (up to ``attempts`` times) while the new box would cover more than
``max_overlap`` of its own area or of an earlier digit's box; a digit that finds no such place is
left out, so a canvas holds at least one digit and at most ``digits[1]``. Digits are composed by
pixel-wise maximum (the brighter ink wins, as on paper).

Each canvas is drawn from its own generator seeded by ``(seed, split, index)``, so canvas ``i`` is
the same whatever the data set's size and on every machine. Digits come from the MNIST split of
the same name: test canvases hold test-set digits only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrnn.data.arrays import check_split
from convrnn.data.mnist import load_mnist

CANVAS_SIZE = 64
DIGIT_SIZE = 28
DIGIT_CLASSES = tuple(str(digit) for digit in range(10))
DEFAULT_SIZES = {"train": 20_000, "validation": 1_000, "test": 2_000}
DEFAULT_HEIGHTS = (14, 36)
INK_THRESHOLD = 32
PADDING_CLASS = -1
_SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}


class BoxedDigit(NamedTuple):
    """One digit on a canvas: its class, its box ``(x1, y1, x2, y2)`` in pixels, its MNIST index."""

    digit: int
    box: tuple[int, int, int, int]
    source: int


def ink_box(image: np.ndarray, threshold: int = INK_THRESHOLD) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)`` of the rows and columns of ``image (h, w) uint8`` holding a pixel ≥
    ``threshold`` (the whole image if none does)."""
    ink = image >= threshold
    if not ink.any():
        return 0, 0, image.shape[1], image.shape[0]
    rows, columns = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def resize_digit(image: np.ndarray, height: int, threshold: int = INK_THRESHOLD) -> np.ndarray:
    """``image (28, 28) uint8`` cropped to its :func:`ink_box` and resized to ``height`` rows, width
    ``max(1, round(w · height / h))`` (aspect kept), bilinear with antialiasing → ``(height, width) uint8``."""
    x1, y1, x2, y2 = ink_box(image, threshold)
    crop = torch.from_numpy(np.ascontiguousarray(image[y1:y2, x1:x2])).float()
    width = max(1, round((x2 - x1) * height / (y2 - y1)))
    resized = torch.nn.functional.interpolate(crop[None, None], size=(height, width), mode="bilinear",
                                              antialias=True, align_corners=False)[0, 0]
    return resized.round().clamp(0, 255).to(torch.uint8).numpy()


def draw_boxed_canvas(images: np.ndarray, classes: np.ndarray, rng: np.random.Generator, *,
                      size: int = CANVAS_SIZE, digits: tuple[int, int] = (1, 4),
                      heights: tuple[int, int] = DEFAULT_HEIGHTS, max_overlap: float = 0.1,
                      attempts: int = 20, ink_threshold: int = INK_THRESHOLD) -> tuple[np.ndarray, list[BoxedDigit]]:
    """One canvas ``(size, size) uint8`` from ``images (M, 28, 28) uint8`` and ``classes (M,)``, drawn
    with ``rng`` as the module docstring says, and the digits on it."""
    count = int(rng.integers(digits[0], digits[1] + 1))
    canvas = np.zeros((size, size), dtype=np.uint8)
    placed: list[BoxedDigit] = []
    for _ in range(count):
        source = int(rng.integers(len(images)))
        digit = resize_digit(images[source], int(rng.integers(heights[0], heights[1] + 1)), ink_threshold)
        height, width = digit.shape
        width = min(width, size)   # a very wide, short crop could exceed the canvas
        digit = digit[:, :width]
        for _ in range(attempts):
            top = int(rng.integers(0, size - height + 1))
            left = int(rng.integers(0, size - width + 1))
            box = (left, top, left + width, top + height)
            if all(_covered(box, other.box) <= max_overlap for other in placed):
                break
        else:
            continue
        window = canvas[top:top + height, left:left + width]
        np.maximum(window, digit, out=window)
        placed.append(BoxedDigit(int(classes[source]), box, source))
    return canvas, placed


def _covered(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """The larger of the shares of a's and of b's area that their intersection covers."""
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / smaller


class DigitBoxes(Dataset[tuple[Tensor, Tensor]]):
    """``size`` detection canvases of one split, generated once and held in memory.

    Items: ``image (1, S, S) float32`` in [0, 1] (bytes / 255) and ``targets (K, 5) float32``, one
    row ``(class, x1, y1, x2, y2)`` per digit, then rows of ``(-1, 0, 0, 0, 0)`` up to K =
    ``digits[1]`` (padding, so canvases batch). ``dataset[[i, j, …]]`` gives a batch
    ``(images (B, 1, S, S), targets (B, K, 5))``; :attr:`digits_on` lists each canvas's digits.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"`` — also the MNIST split the digits come from.
        size: number of canvases (default: 20,000 / 1,000 / 2,000 by split).
        seed: canvas ``i`` of a split depends only on ``(seed, split, i)``.
        canvas_size: S ≥ ``heights[1]``. digits: the least and most digits drawn per canvas (1 ≤ a ≤ b).
        heights: the least and most height of a digit in pixels (1 ≤ a ≤ b ≤ S).
        max_overlap: the largest share of a box another box may cover. attempts: positions tried per digit.
        ink_threshold: a digit's pixel ≥ this byte value is ink (its box holds all of them).
        images, classes: draw from these ``(M, 28, 28) uint8`` / ``(M,)`` instead of MNIST (tests).
        cache, download: where the MNIST data lives; whether to fetch it when missing.
    """

    def __init__(self, split: str = "train", size: int | None = None, *, seed: int = 0,
                 canvas_size: int = CANVAS_SIZE, digits: tuple[int, int] = (1, 4),
                 heights: tuple[int, int] = DEFAULT_HEIGHTS, max_overlap: float = 0.1, attempts: int = 20,
                 ink_threshold: int = INK_THRESHOLD, images: np.ndarray | None = None,
                 classes: np.ndarray | None = None, cache: str | os.PathLike[str] | None = None,
                 download: bool = True) -> None:
        try:
            split = check_split(split)
        except ValueError:
            split = str(split)
        if split not in _SPLIT_CODES:
            raise ValueError(f"DigitBoxes: argument 'split' expected one of {list(_SPLIT_CODES)}, got {split!r}")
        size = DEFAULT_SIZES[split] if size is None else size
        _check_int("size", size, 1)
        _check_int("seed", seed, 0)
        _check_int("canvas_size", canvas_size, 1)
        _check_int("attempts", attempts, 1)
        _check_pair("digits", digits, 1, None)
        _check_pair("heights", heights, 1, canvas_size)
        if isinstance(ink_threshold, bool) or not isinstance(ink_threshold, int) or not 1 <= ink_threshold <= 255:
            raise ValueError(f"DigitBoxes: argument 'ink_threshold' expected an int in 1…255, got {ink_threshold!r}")
        if isinstance(max_overlap, bool) or not isinstance(max_overlap, (int, float)) or not 0 <= max_overlap <= 1:
            raise ValueError(f"DigitBoxes: argument 'max_overlap' expected a share in [0, 1], got {max_overlap!r}")
        if (images is None) != (classes is None):
            raise ValueError("DigitBoxes: arguments 'images' and 'classes' expected both or neither")
        if images is None:
            images, classes = load_mnist(split, cache=cache, download=download)
        images, classes = np.asarray(images), np.asarray(classes)
        if images.ndim != 3 or images.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE) or images.dtype != np.uint8:
            raise ValueError(f"DigitBoxes: argument 'images' expected (M, 28, 28) uint8, "
                             f"got {images.shape} {images.dtype}")
        if classes.shape != (len(images),) or not np.isin(classes, np.arange(10)).all():
            raise ValueError(f"DigitBoxes: argument 'classes' expected ({len(images)},) digits 0–9, "
                             f"got shape {classes.shape}")
        self.split, self.seed, self.classes = split, seed, DIGIT_CLASSES
        most = digits[1]
        canvases = np.empty((size, canvas_size, canvas_size), dtype=np.uint8)
        targets = np.zeros((size, most, 5), dtype=np.float32)
        targets[..., 0] = PADDING_CLASS
        self.digits_on: list[list[BoxedDigit]] = []
        for index in range(size):
            rng = np.random.default_rng((seed, _SPLIT_CODES[split], index))
            canvases[index], placed = draw_boxed_canvas(
                images, classes, rng, size=canvas_size, digits=tuple(digits), heights=tuple(heights),
                max_overlap=float(max_overlap), attempts=attempts, ink_threshold=ink_threshold)
            for row, boxed in enumerate(placed):
                targets[index, row] = (boxed.digit, *boxed.box)
            self.digits_on.append(placed)
        self.canvases = torch.from_numpy(canvases).unsqueeze(1)  # (N, 1, S, S) uint8
        self.targets = torch.from_numpy(targets)                 # (N, K, 5) float32

    @property
    def num_classes(self) -> int:
        return len(DIGIT_CLASSES)

    def __len__(self) -> int:
        return self.canvases.shape[0]

    def batch(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        """``images (B, 1, S, S) float32`` in [0, 1] and ``targets (B, K, 5) float32`` at ``indices (B,)``."""
        return self.canvases[indices].float().div_(255), self.targets[indices].clone()

    def __getitem__(self, index: int | Sequence[int] | Tensor) -> tuple[Tensor, Tensor]:
        if isinstance(index, (int, np.integer)) or getattr(index, "ndim", None) == 0:
            images, targets = self.batch(torch.as_tensor([int(index)]))
            return images[0], targets[0]
        return self.batch(torch.as_tensor(index))

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
        images, targets = self.batch(torch.as_tensor(indices))
        return list(zip(images.unbind(0), targets.unbind(0), strict=True))

    def __repr__(self) -> str:
        size = self.canvases.shape[-1]
        return f"DigitBoxes({self.split!r}, {len(self)} canvases of {size}×{size}, seed={self.seed})"


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"DigitBoxes: argument '{name}' expected an int ≥ {minimum}, got {value!r}")


def _check_pair(name: str, value: object, least: int, most: int | None) -> None:
    if (not isinstance(value, Sequence) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            or not least <= value[0] <= value[1] or (most is not None and value[1] > most)):
        bound = f" ≤ {most}" if most is not None else ""
        raise ValueError(f"DigitBoxes: argument '{name}' expected (least, most) with {least} ≤ least ≤ most{bound}, "
                         f"got {value!r}")


__all__ = ["DIGIT_CLASSES", "PADDING_CLASS", "BoxedDigit", "DigitBoxes", "draw_boxed_canvas", "ink_box",
           "resize_digit"]
