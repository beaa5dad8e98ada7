"""Digit canvases: every labelled pixel is a stroke of the digit its placement names, overlaps go to
the brighter stroke, canvases are reproducible per seed, test canvases draw test digits only."""

import numpy as np
import pytest
import torch

import convrnn.data.digit_canvas as digit_canvas
from convrnn.data.digit_canvas import BACKGROUND, DigitCanvases, compose


def fake_digits(count: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` 28×28 "digits": a random bright blob of strokes in the central 20×20, class i mod 10."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for i in range(count):
        ink = rng.random((20, 20)) < 0.3
        images[i, 4:24, 4:24] = np.where(ink, rng.integers(1, 256, (20, 20)), 0)
    return images, np.arange(count) % 10


def reference_labels(digits, classes, corners, size, threshold):
    """The rule, pixel by pixel: the brightest digit with intensity ≥ threshold, ties to the later one."""
    labels = np.full((size, size), BACKGROUND)
    canvas = np.zeros((size, size), dtype=int)
    for y in range(size):
        for x in range(size):
            best = -1
            for digit, label, (top, left) in zip(digits, classes, corners, strict=True):
                if top <= y < top + digit.shape[0] and left <= x < left + digit.shape[1]:
                    value = int(digit[y - top, x - left])
                    canvas[y, x] = max(canvas[y, x], value)
                    if value >= threshold and value >= best:
                        best, labels[y, x] = value, label
    return canvas, labels


def test_compose_labels_each_pixel_by_the_stated_rule():
    images, _ = fake_digits(3, seed=1)
    corners = [(0, 0), (5, 9), (20, 20)]  # the first two overlap
    canvas, labels = compose(list(images), [3, 7, 1], corners, size=48, threshold=100)
    want_canvas, want_labels = reference_labels(images, [3, 7, 1], corners, 48, 100)
    np.testing.assert_array_equal(canvas, want_canvas)
    np.testing.assert_array_equal(labels, want_labels)
    assert {3, 7, 1, BACKGROUND} == set(np.unique(labels).tolist())


def test_overlap_goes_to_the_brighter_stroke_and_a_tie_to_the_digit_placed_last():
    a = np.zeros((2, 2), dtype=np.uint8)
    b = np.zeros((2, 2), dtype=np.uint8)
    a[0, 0], b[0, 0] = 200, 150   # a brighter
    a[0, 1], b[0, 1] = 150, 150   # tie
    a[1, 0], b[1, 0] = 90, 200    # a below threshold
    a[1, 1], b[1, 1] = 90, 100    # both below threshold
    canvas, labels = compose([a, b], [4, 6], [(0, 0), (0, 0)], size=2, threshold=128)
    np.testing.assert_array_equal(labels, [[4, 6], [6, BACKGROUND]])
    np.testing.assert_array_equal(canvas, [[200, 150], [200, 100]])


def test_canvases_hold_the_digits_their_placements_name():
    images, classes = fake_digits()
    data = DigitCanvases("train", 30, seed=5, images=images, classes=classes, threshold=128)
    counts = set()
    for index in range(len(data)):
        image, labels = data[index]
        assert image.shape == (1, 64, 64) and labels.shape == (64, 64) and labels.dtype == torch.int64
        placements = data.placements[index]
        counts.add(len(placements))
        canvas = data.canvases[index, 0].numpy()
        labels = labels.numpy()
        for p in placements:
            assert p.digit == classes[p.source]
            window = canvas[p.top:p.top + 28, p.left:p.left + 28]
            assert (window >= images[p.source]).all()  # the digit is drawn where it was placed
        owner = np.full((64, 64), BACKGROUND)
        for y, x in zip(*np.nonzero(labels != BACKGROUND), strict=True):
            holders = [p for p in placements if p.top <= y < p.top + 28 and p.left <= x < p.left + 28
                       and images[p.source][y - p.top, x - p.left] == canvas[y, x] >= 128]
            assert holders, (index, y, x)
            owner[y, x] = holders[-1].digit
        np.testing.assert_array_equal(labels, owner)
        # stroke or not is the input's own threshold; which digit must be recognised
        np.testing.assert_array_equal(labels != BACKGROUND, canvas >= 128)
    assert counts == {1, 2, 3, 4}


def test_the_same_seed_gives_the_same_canvases_whatever_the_size():
    images, classes = fake_digits()
    small = DigitCanvases("validation", 4, seed=3, images=images, classes=classes)
    large = DigitCanvases("validation", 9, seed=3, images=images, classes=classes)
    other = DigitCanvases("validation", 4, seed=4, images=images, classes=classes)
    test = DigitCanvases("test", 4, seed=3, images=images, classes=classes)
    assert torch.equal(small.canvases, large.canvases[:4]) and torch.equal(small.labels, large.labels[:4])
    assert small.placements == large.placements[:4]
    assert not torch.equal(small.canvases, other.canvases)
    assert not torch.equal(small.canvases, test.canvases)  # each split draws its own canvases


def test_batches_are_float_pixels_and_int64_labels():
    images, classes = fake_digits()
    data = DigitCanvases("train", 5, images=images, classes=classes)
    x, y = data[[0, 2, 4]]
    assert x.shape == (3, 1, 64, 64) and x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1
    assert y.shape == (3, 64, 64) and y.dtype == torch.int64
    assert torch.equal(x, data.canvases[[0, 2, 4]].float() / 255)


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_each_split_draws_digits_from_the_mnist_split_of_its_name(split, monkeypatch):
    asked = []

    def fake_load(name, **options):
        asked.append(name)
        return fake_digits()

    monkeypatch.setattr(digit_canvas, "load_mnist", fake_load)
    DigitCanvases(split, 2)
    assert asked == [split]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"split": "dev"}, "argument 'split'"),
        ({"size": 0}, "argument 'size' expected an int ≥ 1, got 0"),
        ({"digits": (0, 2)}, "argument 'digits' expected (least, most)"),
        ({"threshold": 0}, "argument 'threshold' expected an int in 1…255, got 0"),
        ({"max_overlap": 1.5}, "argument 'max_overlap'"),
        ({"canvas_size": 20}, "argument 'canvas_size' expected an int ≥ 28, got 20"),
        ({"images": np.zeros((3, 28, 28), dtype=np.float32), "classes": np.zeros(3)},
         "argument 'images' expected (M, 28, 28) uint8"),
    ],
)
def test_bad_arguments_are_named(options, message):
    images, classes = fake_digits()
    options = {"split": "train", "size": 2, "images": images, "classes": classes} | options
    split = options.pop("split")
    with pytest.raises((ValueError, TypeError)) as error:
        DigitCanvases(split, **options)
    assert message in str(error.value)


def test_compose_refuses_a_digit_outside_the_canvas():
    with pytest.raises(ValueError, match="argument 'corners' expected the 28×28 digit inside"):
        compose([np.zeros((28, 28), dtype=np.uint8)], [1], [(40, 0)], size=64)
