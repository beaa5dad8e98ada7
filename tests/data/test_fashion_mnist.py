"""Fashion-MNIST from tiny fake IDX files: the deterministic validation split and the tensors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from convrnn.data import fashion_mnist
from convrnn.data.fashion_mnist import FASHION_CLASSES, FashionMNIST


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def cache(tmp_path, planted, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "VALIDATION_SIZE", 3)
    rng = np.random.default_rng(0)
    raw = {"train": (rng.integers(0, 256, (8, 28, 28)), rng.integers(0, 10, 8)),
           "t10k": (rng.integers(0, 256, (5, 28, 28)), rng.integers(0, 10, 5))}
    files = {}
    for name, (images, labels) in raw.items():
        files[f"{name}-images-idx3-ubyte.gz"] = _idx(images)
        files[f"{name}-labels-idx1-ubyte.gz"] = _idx(labels)
    planted(tmp_path, "fashion-mnist", files)
    return tmp_path, raw


def test_validation_is_the_last_part_of_the_published_training_set(cache):
    root, raw = cache
    train, validation = FashionMNIST("train", cache=root), FashionMNIST("validation", cache=root)
    full = FashionMNIST("train+validation", cache=root)
    assert (len(train), len(validation), len(full)) == (5, 3, 8)
    torch.testing.assert_close(full.images[:, 0] * 255, torch.from_numpy(raw["train"][0]).float())
    assert torch.equal(validation.labels, torch.from_numpy(raw["train"][1][5:]))


def test_test_split_dtypes_and_classes(cache):
    root, raw = cache
    test = FashionMNIST("test", cache=root, normalize=True)
    image, label = test[4]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert label.dtype == torch.int64 and int(label) == raw["t10k"][1][4]
    assert test.classes == FASHION_CLASSES and len(FASHION_CLASSES) == 10
