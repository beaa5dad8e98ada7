"""Digit strings: digits land where the labels say, strings repeat per seed, batches pad correctly."""

import itertools

import numpy as np
import pytest
import torch

from convrnn.data.digit_strings import DigitStrings, collate_digit_strings, resample_matrix


def fake_source(count=50, seed=0):
    """Random 28×28 'digits' whose label is their index mod 10 (each image is unique)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8), np.arange(count) % 10


def resized(image, size):
    matrix = resample_matrix(size)
    return matrix @ (image.astype(np.float32) / 255) @ matrix.T


def test_resampling_averages_areas():
    image = np.random.default_rng(1).random((28, 28))
    np.testing.assert_allclose(resample_matrix(28) @ image @ resample_matrix(28).T, image, atol=1e-6)
    halves = image.reshape(14, 2, 14, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(resample_matrix(14) @ image @ resample_matrix(14).T, halves, atol=1e-6)
    for size in (19, 22, 31):
        np.testing.assert_allclose(resample_matrix(size).sum(axis=1), 1, atol=1e-6)
        # area averaging keeps the mean brightness
        assert (resample_matrix(size) @ image @ resample_matrix(size).T).mean() == pytest.approx(image.mean(), rel=1e-4)


def test_each_digit_is_drawn_in_its_box_and_the_labels_read_left_to_right():
    images, labels = fake_source()
    strings = DigitStrings("train", 40, seed=3, gap=(0, 5), source=(images, labels))
    for index in range(len(strings)):
        canvas = strings.render(index)
        boxes = strings.boxes(index)
        sources = strings.digit_index[strings.offsets[index]:strings.offsets[index + 1]]
        assert strings.labels(index) == [int(labels[k]) for k in sources]
        assert canvas.shape == (32, strings.widths[index])
        xs = [x for x, _, _ in boxes]
        assert xs == sorted(xs)
        for (x, y, size), source in zip(boxes, sources, strict=True):
            assert y >= 0 and y + size <= 32 and x >= 0 and x + size <= canvas.shape[1]
            np.testing.assert_allclose(canvas[y:y + size, x:x + size], resized(images[source], size), atol=1e-6)
        covered = np.zeros_like(canvas, dtype=bool)
        for x, y, size in boxes:
            covered[y:y + size, x:x + size] = True
        assert (canvas[~covered] == 0).all()


def test_overlapping_digits_take_the_brighter_pixel():
    images, labels = fake_source()
    strings = DigitStrings("test", 30, seed=5, gap=(-8, -4), source=(images, labels))
    for index in range(len(strings)):
        expected = np.zeros((32, strings.widths[index]), dtype=np.float32)
        sources = strings.digit_index[strings.offsets[index]:strings.offsets[index + 1]]
        for (x, y, size), source in zip(strings.boxes(index), sources, strict=True):
            layer = np.zeros_like(expected)
            layer[y:y + size, x:x + size] = resized(images[source], size)
            expected = np.maximum(expected, layer)
        np.testing.assert_allclose(strings.render(index), expected, atol=1e-6)


def test_strings_are_reproducible_per_seed_and_differ_between_seeds_and_splits():
    source = fake_source()
    first, again = (DigitStrings("train", 20, seed=7, source=source) for _ in range(2))
    other_seed = DigitStrings("train", 20, seed=8, source=source)
    other_split = DigitStrings("validation", 20, seed=7, source=source)
    for index in range(20):
        image, target = first[index]
        image_again, target_again = again[index]
        assert torch.equal(image, image_again) and torch.equal(target, target_again)
    assert [first.labels(i) for i in range(20)] != [other_seed.labels(i) for i in range(20)]
    assert [first.labels(i) for i in range(20)] != [other_split.labels(i) for i in range(20)]


def test_counts_scales_gaps_and_margins_stay_in_their_ranges():
    strings = DigitStrings("train", 500, seed=1, digits=(2, 5), scale=(0.8, 1.1), gap=(-3, 4), margin=(1, 6),
                           source=fake_source())
    counts = np.diff(strings.offsets)
    assert counts.min() == 2 and counts.max() == 5
    assert strings.sizes.min() >= 22 and strings.sizes.max() <= 31
    for index in range(500):
        boxes = strings.boxes(index)
        assert 1 <= boxes[0][0] <= 6
        gaps = [b[0] - (a[0] + a[2]) for a, b in itertools.pairwise(boxes)]
        assert all(-3 <= g <= 4 for g in gaps)
        assert 1 <= strings.widths[index] - (boxes[-1][0] + boxes[-1][2]) <= 6


def test_collate_pads_to_the_widest_canvas_and_the_longest_string():
    strings = DigitStrings("train", 6, seed=2, source=fake_source())
    examples = [strings[i] for i in range(6)]
    batch = collate_digit_strings(examples)
    widest, longest = max(strings.widths), max(len(t) for _, t in examples)
    assert batch["images"].shape == (6, 1, 32, widest)
    assert batch["targets"].shape == (6, longest)
    for row, (image, target) in enumerate(examples):
        width = image.shape[-1]
        assert batch["widths"][row] == width and batch["target_lengths"][row] == len(target)
        assert torch.equal(batch["images"][row, :, :, :width], image)
        assert (batch["images"][row, :, :, width:] == 0).all()
        assert batch["targets"][row, :len(target)].tolist() == target.tolist()
        assert (batch["targets"][row, len(target):] == -1).all()


@pytest.mark.parametrize(("options", "message"), [
    ({"split": "train_full"}, "argument 'split' expected one of ['train', 'validation', 'test']"),
    ({"count": 0}, "argument 'count' expected an int ≥ 1, got 0"),
    ({"seed": -1}, "argument 'seed' expected an int ≥ 0, got -1"),
    ({"scale": (0.8, 1.3)}, "argument 'scale' expected digits of 1 to height=32 pixels"),
    ({"digits": (0, 3)}, "argument 'digits' expected at least 1 digit per string"),
    ({"digits": (5, 3)}, "argument 'digits' expected a (low, high) pair of ints with low ≤ high"),
    ({"gap": (-20, 0)}, "argument 'gap' expected a low end above −11"),
    ({"source": (np.zeros((3, 20, 20)), np.zeros(3))}, "argument 'source' expected images (M, 28, 28)"),
])
def test_bad_arguments_are_named(options, message):
    arguments = {"split": "train", "count": 5, "source": fake_source(), **options}
    with pytest.raises(ValueError) as error:
        DigitStrings(arguments.pop("split"), arguments.pop("count"), **arguments)
    assert message in str(error.value)


def mnist_is_cached():
    try:
        from convrnn.data.mnist import load_mnist

        load_mnist("test", download=False)
    except Exception:
        return False
    return True


@pytest.mark.skipif(not mnist_is_cached(), reason="MNIST is not in the convrnn cache")
def test_test_strings_use_only_mnist_test_digits():
    from convrnn.data.mnist import load_mnist

    images, labels = load_mnist("test", download=False)
    strings = DigitStrings("test", 200, seed=0, download=False)
    assert np.array_equal(strings.source_images, images) and np.array_equal(strings.source_labels, labels)
    for index in range(0, 200, 17):
        sources = strings.digit_index[strings.offsets[index]:strings.offsets[index + 1]]
        assert strings.labels(index) == labels[sources].tolist()
