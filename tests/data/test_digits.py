"""scikit-learn digits from a fake CSV in the wheel's format: parsing, splits, scale."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from convrnn.data.digits import Digits, load_digits, read_digits_csv


@pytest.fixture
def cache(tmp_path, planted):
    rng = np.random.default_rng(0)
    table = np.concatenate([rng.integers(0, 17, (1797, 64)), np.arange(1797)[:, None] % 10], 1)
    text = "\n".join(",".join(str(v) for v in row) for row in table) + "\n"
    planted(tmp_path, "digits", {"data/digits.csv.gz": gzip.compress(text.encode())})
    return tmp_path, table


def test_splits_are_contiguous_blocks_of_the_documented_sizes(cache):
    root, table = cache
    sizes = {split: len(load_digits(split, cache=root)[1])
             for split in ("train", "validation", "test", "train_full")}
    assert sizes == {"train": 1257, "validation": 180, "test": 360, "train_full": 1437}
    images, labels = load_digits("test", cache=root)
    np.testing.assert_array_equal(images.reshape(-1, 64), table[1437:, :64])
    np.testing.assert_array_equal(labels, table[1437:, 64])


def test_dataset_scales_counts_to_the_unit_range(cache):
    root, table = cache
    dataset = Digits("train", cache=root)
    image, label = dataset[7]
    assert image.shape == (1, 8, 8) and label.dtype == torch.int64 and int(label) == 7
    torch.testing.assert_close(image.flatten(), torch.from_numpy(table[7, :64]).float() / 16)


def test_a_csv_with_the_wrong_width_is_refused(tmp_path):
    path = tmp_path / "digits.csv.gz"
    path.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(ValueError, match=r"expected 65 columns .* got 3"):
        read_digits_csv(path)
