"""Digit canvases for segmentation: 1–4 real MNIST digits on a 64×64 canvas, with a label per pixel.

Each canvas is drawn from its own generator, seeded by ``(seed, split, index)``, so canvas ``i``
is the same whatever the data set's size, and the same on every machine. Digits come from the
MNIST split of the same name (test canvases hold test-set digits only; train canvases never see
them). A digit is placed whole (its 28×28 box inside the canvas) at a uniformly drawn position;
a position where more than ``max_overlap`` of its stroke pixels would land on strokes already
drawn is redrawn (up to ``attempts`` times; then the least overlapping draw is kept), so digits
may touch and overlap a little, as handwriting does, but rarely hide one another.

Composition and labels (``t`` = ``threshold``, 128 of 255 by default)::

    canvas[p] = max_j d_j[p]                              (the brighter ink wins, as on paper)
    label[p]  = class of argmax_j {d_j[p] : d_j[p] ≥ t}   (ties → the digit placed last)
              = 10 (background) where no digit has d_j[p] ≥ t

so a pixel is labelled with the digit whose stroke is visible there, and ``label ≠ 10`` exactly
where ``canvas ≥ t``: whether a pixel is stroke can be read off the input, which digit it belongs
to must be recognised.
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
BACKGROUND = 10
NUM_CLASSES = 11
SEGMENT_CLASSES = (*(str(digit) for digit in range(10)), "background")
STROKE_THRESHOLD = 128
DEFAULT_SIZES = {"train": 20_000, "validation": 1_000, "test": 2_000}
_SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}


class Placement(NamedTuple):
    """One digit on a canvas: its class, the top-left corner of its 28×28 box, its MNIST index."""

    digit: int
    top: int
    left: int
    source: int


def compose(digits: Sequence[np.ndarray], classes: Sequence[int], corners: Sequence[tuple[int, int]], *,
            size: int = CANVAS_SIZE, threshold: int = STROKE_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``digits`` (each ``(h, w)`` uint8) with top-left ``corners`` on a ``size × size`` canvas.

    Returns ``canvas (size, size) uint8`` (pixel-wise maximum of the digits) and
    ``labels (size, size) uint8`` by the rule in the module docstring.
    """
    if not len(digits) == len(classes) == len(corners):
        raise ValueError(f"compose: arguments 'digits', 'classes' and 'corners' expected equal lengths, "
                         f"got {len(digits)}, {len(classes)} and {len(corners)}")
    if not 0 < threshold <= 255:
        raise ValueError(f"compose: argument 'threshold' expected a byte value in 1…255, got {threshold!r}")
    canvas = np.zeros((size, size), dtype=np.uint8)
    labels = np.full((size, size), BACKGROUND, dtype=np.uint8)
    winner = np.full((size, size), -1, dtype=np.int16)  # intensity of the stroke that owns each pixel
    for digit, label, (top, left) in zip(digits, classes, corners, strict=True):
        height, width = digit.shape
        if not (0 <= top <= size - height and 0 <= left <= size - width):
            raise ValueError(f"compose: argument 'corners' expected the {height}×{width} digit inside the "
                             f"{size}×{size} canvas, got top-left {(top, left)}")
        if not 0 <= label < 10:
            raise ValueError(f"compose: argument 'classes' expected digits 0–9, got {label!r}")
        window = (slice(top, top + height), slice(left, left + width))
        np.maximum(canvas[window], digit, out=canvas[window])
        owns = (digit >= threshold) & (digit >= winner[window])
        labels[window][owns] = label
        winner[window][owns] = digit[owns]
    return canvas, labels


def draw_canvas(images: np.ndarray, classes: np.ndarray, rng: np.random.Generator, *,
                size: int = CANVAS_SIZE, digits: tuple[int, int] = (1, 4),
                threshold: int = STROKE_THRESHOLD, max_overlap: float = 0.1,
                attempts: int = 20) -> tuple[np.ndarray, np.ndarray, list[Placement]]:
    """One canvas from ``images (M, 28, 28) uint8`` and their ``classes (M,)``, drawn with ``rng``.

    The number of digits is uniform in ``digits[0] … digits[1]``; each digit is a uniformly drawn
    image placed as the module docstring says. Returns ``canvas``, ``labels`` (see
    :func:`compose`) and the placements.
    """
    count = int(rng.integers(digits[0], digits[1] + 1))
    strokes = np.zeros((size, size), dtype=bool)
    placements: list[Placement] = []
    room = size - DIGIT_SIZE + 1
    for _ in range(count):
        source = int(rng.integers(len(images)))
        stroke = images[source] >= threshold
        ink = max(int(stroke.sum()), 1)
        best: tuple[float, int, int] | None = None
        for _ in range(attempts):
            top, left = (int(v) for v in rng.integers(0, room, size=2))
            covered = strokes[top:top + DIGIT_SIZE, left:left + DIGIT_SIZE] & stroke
            share = covered.sum() / ink
            if best is None or share < best[0]:
                best = (share, top, left)
            if share <= max_overlap:
                break
        assert best is not None
        _, top, left = best
        strokes[top:top + DIGIT_SIZE, left:left + DIGIT_SIZE] |= stroke
        placements.append(Placement(int(classes[source]), top, left, source))
    canvas, labels = compose([images[p.source] for p in placements], [p.digit for p in placements],
                             [(p.top, p.left) for p in placements], size=size, threshold=threshold)
    return canvas, labels, placements


class DigitCanvases(Dataset[tuple[Tensor, Tensor]]):
    """``size`` canvases of one split, generated once and held in memory.

    Items: ``image (1, S, S) float32`` in [0, 1] (bytes / 255) and ``labels (S, S) int64`` in
    0–10 (10 = background), S = ``canvas_size``. ``dataset[[i, j, …]]`` gives a batch
    ``(images (B, 1, S, S), labels (B, S, S))``. :attr:`placements` lists each canvas's digits.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"`` — also the MNIST split the digits come from.
        size: number of canvases (default: 20,000 / 1,000 / 2,000 by split).
        seed: canvas ``i`` of a split depends only on ``(seed, split, i)``.
        canvas_size: S ≥ 28. digits: the least and most digits per canvas (1 ≤ a ≤ b).
        threshold: stroke threshold on the digit's byte intensity. max_overlap, attempts: placement.
        images, classes: draw from these ``(M, 28, 28) uint8`` / ``(M,)`` instead of MNIST (tests).
        cache, download: where the MNIST data lives; whether to fetch it when missing.
    """

    def __init__(self, split: str = "train", size: int | None = None, *, seed: int = 0,
                 canvas_size: int = CANVAS_SIZE, digits: tuple[int, int] = (1, 4),
                 threshold: int = STROKE_THRESHOLD, max_overlap: float = 0.1, attempts: int = 20,
                 images: np.ndarray | None = None, classes: np.ndarray | None = None,
                 cache: str | os.PathLike[str] | None = None, download: bool = True) -> None:
        split = check_split(split, where="DigitCanvases")
        if split not in _SPLIT_CODES:
            raise ValueError(f"DigitCanvases: argument 'split' expected one of {list(_SPLIT_CODES)}, got {split!r}")
        size = DEFAULT_SIZES[split] if size is None else size
        _check_int("size", size, 1)
        _check_int("seed", seed, 0)
        _check_int("canvas_size", canvas_size, DIGIT_SIZE)
        _check_int("attempts", attempts, 1)
        if (not isinstance(digits, Sequence) or len(digits) != 2
                or not all(isinstance(d, int) and not isinstance(d, bool) for d in digits)
                or not 1 <= digits[0] <= digits[1]):
            raise ValueError(f"DigitCanvases: argument 'digits' expected (least, most) with "
                             f"1 ≤ least ≤ most, got {digits!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 255:
            raise ValueError(f"DigitCanvases: argument 'threshold' expected an int in 1…255, got {threshold!r}")
        if not 0.0 <= max_overlap <= 1.0:
            raise ValueError(f"DigitCanvases: argument 'max_overlap' expected a share in [0, 1], "
                             f"got {max_overlap!r}")
        if (images is None) != (classes is None):
            raise ValueError("DigitCanvases: arguments 'images' and 'classes' expected both or neither")
        if images is None:
            images, classes = load_mnist(split, cache=cache, download=download)
        images, classes = np.asarray(images), np.asarray(classes)
        if images.ndim != 3 or images.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE) or images.dtype != np.uint8:
            raise ValueError(f"DigitCanvases: argument 'images' expected (M, 28, 28) uint8, "
                             f"got {images.shape} {images.dtype}")
        self.split, self.seed, self.threshold = split, seed, threshold
        self.classes = SEGMENT_CLASSES
        canvases = np.empty((size, canvas_size, canvas_size), dtype=np.uint8)
        labels = np.empty((size, canvas_size, canvas_size), dtype=np.uint8)
        self.placements: list[list[Placement]] = []
        for index in range(size):
            rng = np.random.default_rng((seed, _SPLIT_CODES[split], index))
            canvases[index], labels[index], placed = draw_canvas(
                images, classes, rng, size=canvas_size, digits=tuple(digits), threshold=threshold,
                max_overlap=max_overlap, attempts=attempts)
            self.placements.append(placed)
        self.canvases = torch.from_numpy(canvases).unsqueeze(1)  # (N, 1, S, S) uint8
        self.labels = torch.from_numpy(labels)                   # (N, S, S) uint8

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES

    def __len__(self) -> int:
        return self.canvases.shape[0]

    def batch(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        """``images (B, 1, S, S) float32`` in [0, 1] and ``labels (B, S, S) int64`` at ``indices (B,)``."""
        return self.canvases[indices].float().div_(255), self.labels[indices].long()

    def __getitem__(self, index: int | Sequence[int] | Tensor) -> tuple[Tensor, Tensor]:
        if isinstance(index, (int, np.integer)) or getattr(index, "ndim", None) == 0:
            images, labels = self.batch(torch.as_tensor([int(index)]))
            return images[0], labels[0]
        return self.batch(torch.as_tensor(index))

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
        images, labels = self.batch(torch.as_tensor(indices))
        return list(zip(images.unbind(0), labels.unbind(0), strict=True))

    def __repr__(self) -> str:
        size = self.canvases.shape[-1]
        return f"DigitCanvases({self.split!r}, {len(self)} canvases of {size}×{size}, seed={self.seed})"


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"DigitCanvases: argument '{name}' expected an int ≥ {minimum}, got {value!r}")


__all__ = ["BACKGROUND", "NUM_CLASSES", "SEGMENT_CLASSES", "DigitCanvases", "Placement", "compose",
           "draw_canvas"]
