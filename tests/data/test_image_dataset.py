"""ImageDataset: items, whole-split tensors, batched augmentation and DataLoader use."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from convrnn.data.image_dataset import ImageDataset


def _dataset(n: int = 10, **options) -> ImageDataset:
    images = torch.rand(n, 1, 5, 5, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(n) % 3
    return ImageDataset(images, labels, classes=("a", "b", "c"), **options)


def test_items_and_tensors_have_documented_shapes_and_dtypes():
    dataset = _dataset()
    image, label = dataset[3]
    assert image.shape == (1, 5, 5) and image.dtype == torch.float32
    assert label.shape == () and label.dtype == torch.int64 and int(label) == 0
    images, labels = dataset.tensors
    assert images.shape == (10, 1, 5, 5) and labels.shape == (10,)
    assert torch.equal(images[3], image)
    for same in (np.int64(3), torch.tensor(3), np.array(3)):
        assert torch.equal(dataset[same][0], image)
    assert len(dataset) == 10 and dataset.num_classes == 3 and dataset.image_shape == (1, 5, 5)


def test_normalisation_uses_the_given_mean_and_std_and_shifts_fill_with_background():
    raw = _dataset()
    normalized = _dataset(mean=0.5, std=0.25, random_shift=4,
                          generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(normalized.images, (raw.images - 0.5) / 0.25)
    # A shift never makes up pixels: every output value is an input value or the background.
    image, _ = normalized[0]
    allowed = torch.cat([normalized.images[0].flatten(), torch.tensor([-2.0])])
    assert torch.isin(image.flatten(), allowed).all()


def test_batches_visit_every_item_once_and_drop_last_drops_the_remainder():
    dataset = _dataset(10)
    seen = torch.cat([labels for _, labels in dataset.batches(4)])
    assert torch.equal(seen, dataset.labels)
    shuffled = list(dataset.batches(4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert [len(labels) for _, labels in shuffled] == [4, 4, 2]
    all_images = torch.cat([images for images, _ in shuffled])
    assert sorted(all_images.sum((1, 2, 3)).tolist()) == sorted(
        dataset.images.sum((1, 2, 3)).tolist())
    assert [len(labels) for _, labels in dataset.batches(4, drop_last=True)] == [4, 4]


def test_a_list_of_indices_gives_a_batch_and_a_batch_sampler_needs_no_collation():
    dataset = _dataset(10)
    images, labels = dataset[[4, 1, 7]]
    assert torch.equal(images, dataset.images[[4, 1, 7]]) and labels.tolist() == [1, 1, 1]
    loader = DataLoader(dataset, sampler=BatchSampler(SequentialSampler(dataset), 4, False),
                        batch_size=None)
    assert [tuple(images.shape) for images, _ in loader] == [(4, 1, 5, 5), (4, 1, 5, 5),
                                                              (2, 1, 5, 5)]


def test_dataloader_batches_through_getitems():
    dataset = _dataset(10, random_shift=1)
    loader = DataLoader(dataset, batch_size=4, shuffle=False)
    images, labels = next(iter(loader))
    assert images.shape == (4, 1, 5, 5) and torch.equal(labels, dataset.labels[:4])


def test_bad_construction_arguments_are_clear_errors():
    images = torch.rand(4, 1, 2, 2)
    with pytest.raises(ValueError, match="one label per image, got 4 images and 3 labels"):
        ImageDataset(images, torch.zeros(3, dtype=torch.int64), classes="ab")
    with pytest.raises(ValueError, match=r"'random_shift' expected an int ≥ 0, got 1\.5"):
        ImageDataset(images, torch.zeros(4, dtype=torch.int64), classes="ab", random_shift=1.5)
    with pytest.raises(ValueError, match="'batch_size' expected an int ≥ 1, got 0"):
        next(_dataset().batches(0))
