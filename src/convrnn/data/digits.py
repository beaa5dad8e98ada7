"""scikit-learn's 8×8 handwritten digits (UCI optical recognition set), read from the CSV in
the scikit-learn wheel — scikit-learn itself is never imported or needed.

1,797 images with pixel counts 0–16, one row each: 64 pixels then the label. Split
deterministically by position: train the first 1,257 (70 %), validation the next 180
(10 %), test the last 360 (20 %); the rows cycle through the digits, so every split holds each
class about equally (122–130 per class in train).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from convrnn.data.arrays import check_split, prepared_arrays, select_split, split_keys
from convrnn.data.image_dataset import ImageDataset
from convrnn.data.mnist import DIGIT_CLASSES
from convrnn.functional._checks import check_int

TRAIN_SIZE, VALIDATION_SIZE = 1257, 180
MAX_PIXEL = 16  # each pixel counts the "on" cells of a 4×4 block of the 32×32 original

# Pixel mean and standard deviation of the train split (counts / 16).
DIGITS_MEAN = 0.3058
DIGITS_STD = 0.3754


def read_digits_csv(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``images (N, 8, 8) uint8`` in 0–16 and ``labels (N,) int64`` from ``digits.csv.gz``."""
    path = Path(path)
    with gzip.open(path, "rt") as file:
        table = np.loadtxt(file, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape[1] != 65:
        raise ValueError(f"{path.name}: expected 65 columns (64 pixels + label), "
                         f"got {table.shape[1]}")
    return table[:, :64].reshape(-1, 8, 8).astype(np.uint8), table[:, 64]


def _convert(directory: Path) -> dict[str, np.ndarray]:
    images, labels = read_digits_csv(directory / "data" / "digits.csv.gz")
    bounds = {"train": (0, TRAIN_SIZE), "validation": (TRAIN_SIZE, TRAIN_SIZE + VALIDATION_SIZE),
              "test": (TRAIN_SIZE + VALIDATION_SIZE, len(images))}
    arrays: dict[str, np.ndarray] = {}
    for split, (start, stop) in bounds.items():
        arrays[f"{split}-images"] = images[start:stop]
        arrays[f"{split}-labels"] = labels[start:stop]
    return arrays


def load_digits(split: str = "train", *, cache: str | os.PathLike[str] | None = None,
                download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Raw arrays: ``images (N, 8, 8) uint8`` in 0–16, ``labels (N,) int64``.

    ``split``: ``"train"`` (1,257), ``"validation"`` (180), ``"test"`` (360) or
    ``"train+validation"`` / ``"train_full"`` (1,437).
    """
    split = check_split(split, where="load_digits")
    arrays = prepared_arrays("digits", split_keys(), _convert, wanted=split_keys(split),
                             cache=cache, download=download)
    return select_split(arrays, split)


class Digits(ImageDataset):
    """scikit-learn's digits as an in-memory :class:`ImageDataset` — small enough for smoke tests.

    Items: ``image (1, 8, 8) float32`` = counts / 16 in [0, 1] (or normalised),
    ``label () int64`` in 0–9.

    Args:
        split: ``"train"`` 1,257, ``"validation"`` 180, ``"test"`` 360, or
            ``"train+validation"`` / ``"train_full"`` 1,437.
        normalize: map pixels to ``(x − 0.3058) / 0.3754`` (the train split's mean and std).
        random_shift: augment by random translations of up to this many pixels.
        cache, download: where the data lives; whether to fetch it when missing.
        generator: random source for the augmentation.
    """

    def __init__(self, split: str = "train", *, normalize: bool = False, random_shift: int = 0,
                 cache: str | os.PathLike[str] | None = None, download: bool = True,
                 generator: torch.Generator | None = None) -> None:
        self.split = check_split(split, where="Digits")   # before any download, as the other arguments
        check_int("random_shift", random_shift, minimum=0, where="Digits")
        images, labels = load_digits(self.split, cache=cache, download=download)
        self._init_from_raw(images, labels, scale=MAX_PIXEL, classes=DIGIT_CLASSES, stats=(DIGITS_MEAN, DIGITS_STD),
                            normalize=normalize, random_shift=random_shift, generator=generator)
