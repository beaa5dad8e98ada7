"""Fashion-MNIST clothing images (Xiao, Rasul & Vollgraf, 2017), from Debian's
``dataset-fashion-mnist`` package (IDX files).

The published 60k training images are split deterministically into train (the first 50k)
and validation (the last 10k), the convention of the MNIST pickle; the 10k test set is as
published. Both parts of the split hold each class about equally (4,950–5,045 per class in
train, 955–1,050 in validation).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from convrnn.data.arrays import check_split, prepared_arrays, select_split, split_keys
from convrnn.data.idx import read_idx
from convrnn.data.image_dataset import ImageDataset
from convrnn.functional._checks import check_int

VALIDATION_SIZE = 10_000

# Pixel mean and standard deviation of the 50k train split (bytes / 255).
FASHION_MNIST_MEAN = 0.2855
FASHION_MNIST_STD = 0.3528

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")


def _convert(directory: Path) -> dict[str, np.ndarray]:
    def read(name: str) -> np.ndarray:
        return read_idx(directory / f"{name}-ubyte.gz")

    train_images, train_labels = read("train-images-idx3"), read("train-labels-idx1")
    test_images, test_labels = read("t10k-images-idx3"), read("t10k-labels-idx1")
    for images, labels, name in ((train_images, train_labels, "train"),
                                 (test_images, test_labels, "test")):
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(f"fashion-mnist {name}: expected (N, H, W) images and (N,) labels, "
                             f"got {images.shape} and {labels.shape}")
    cut = len(train_images) - VALIDATION_SIZE
    return {
        "train-images": train_images[:cut], "train-labels": train_labels[:cut].astype(np.int64),
        "validation-images": train_images[cut:],
        "validation-labels": train_labels[cut:].astype(np.int64),
        "test-images": test_images, "test-labels": test_labels.astype(np.int64),
    }


def load_fashion_mnist(split: str = "train", *, cache: str | os.PathLike[str] | None = None,
                       download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Raw arrays: ``images (N, 28, 28) uint8``, ``labels (N,) int64``.

    ``split``: ``"train"`` (50,000), ``"validation"`` (10,000), ``"test"`` (10,000) or
    ``"train+validation"`` / ``"train_full"`` (the published 60,000).
    """
    split = check_split(split, where="load_fashion_mnist")
    arrays = prepared_arrays("fashion-mnist", split_keys(), _convert, wanted=split_keys(split),
                             cache=cache, download=download)
    return select_split(arrays, split)


class FashionMNIST(ImageDataset):
    """Fashion-MNIST as an in-memory :class:`ImageDataset`.

    Items: ``image (1, 28, 28) float32`` in [0, 1] (or normalised), ``label () int64`` in
    0–9 naming :data:`FASHION_CLASSES`.

    Args:
        split: ``"train"`` 50k, ``"validation"`` 10k, ``"test"`` 10k, or
            ``"train+validation"`` / ``"train_full"`` 60k.
        normalize: map pixels to ``(x − 0.2855) / 0.3528`` (the train split's mean and std).
        random_shift: augment by random translations of up to this many pixels.
        cache, download: where the data lives; whether to fetch it when missing.
        generator: random source for the augmentation.
    """

    def __init__(self, split: str = "train", *, normalize: bool = False, random_shift: int = 0,
                 cache: str | os.PathLike[str] | None = None, download: bool = True,
                 generator: torch.Generator | None = None) -> None:
        self.split = check_split(split, where="FashionMNIST")   # before any download, as the other arguments
        check_int("random_shift", random_shift, minimum=0, where="FashionMNIST")
        images, labels = load_fashion_mnist(self.split, cache=cache, download=download)
        self._init_from_raw(images, labels, scale=255, classes=FASHION_CLASSES,
                            stats=(FASHION_MNIST_MEAN, FASHION_MNIST_STD),
                            normalize=normalize, random_shift=random_shift, generator=generator)
