"""MNIST from a tiny fake pickle: splits, pixel scale, normalisation and the .npy cache."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest
import torch

from convrnn.data import mnist as mnist_module
from convrnn.data.mnist import MNIST, MNIST_MEAN, MNIST_STD, load_mnist

SIZES = {"train": 6, "validation": 3, "test": 4}


@pytest.fixture
def cache(tmp_path, planted):
    rng = np.random.default_rng(0)
    splits, raw = [], {}
    for name, n in SIZES.items():
        pixels = rng.integers(0, 256, (n, 784), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.int64)
        raw[name] = (pixels, labels)
        splits.append(((pixels / 256).astype(np.float32), labels))  # the pickle's convention
    planted(tmp_path, "mnist", {"mnist.pkl.gz": gzip.compress(pickle.dumps(tuple(splits), 2))})
    return tmp_path, raw


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_each_split_recovers_the_original_bytes_and_labels(cache, split):
    root, raw = cache
    images, labels = load_mnist(split, cache=root)
    assert images.dtype == np.uint8 and images.shape == (SIZES[split], 28, 28)
    np.testing.assert_array_equal(images.reshape(-1, 784), raw[split][0])
    np.testing.assert_array_equal(labels, raw[split][1])


def test_dataset_serves_images_in_unit_range_and_train_full_is_train_plus_validation(cache):
    root, raw = cache
    dataset = MNIST("train", cache=root)
    image, label = dataset[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    torch.testing.assert_close(image.flatten(), torch.from_numpy(raw["train"][0][0]) / 255.0)
    assert label.dtype == torch.int64 and int(label) == raw["train"][1][0]
    full = MNIST("train_full", cache=root)
    assert len(full) == SIZES["train"] + SIZES["validation"] and full.split == "train+validation"
    torch.testing.assert_close(full.images[SIZES["train"]:], MNIST("validation", cache=root).images)


def test_normalize_uses_the_documented_statistics(cache):
    root, _ = cache
    plain, normalized = MNIST("test", cache=root), MNIST("test", cache=root, normalize=True)
    torch.testing.assert_close(normalized.images, (plain.images - MNIST_MEAN) / MNIST_STD)


def test_second_load_reads_the_converted_arrays_only(cache, monkeypatch):
    root, raw = cache
    load_mnist("test", cache=root)
    assert (root / "mnist" / "arrays" / "test-images.npy").is_file()

    def fail(directory):
        raise AssertionError("converted again")

    monkeypatch.setattr(mnist_module, "_convert", fail)
    images, _ = load_mnist("test", cache=root)
    np.testing.assert_array_equal(images.reshape(-1, 784), raw["test"][0])


def test_missing_data_without_download_and_unknown_split_are_clear_errors(tmp_path, cache):
    with pytest.raises(FileNotFoundError, match="run `convrnn data fetch mnist`"):
        MNIST("train", cache=tmp_path / "empty", download=False)
    with pytest.raises(ValueError, match=r"'split' expected one of.*got 'training'"):
        MNIST("training", cache=cache[0])
