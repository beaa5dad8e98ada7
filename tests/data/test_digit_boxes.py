"""Detection canvases: each box is the tight box of its digit's ink, boxes barely overlap, digits
come at the asked heights, canvases are reproducible per (seed, split, index), and each split
draws the MNIST digits of its own name."""

import numpy as np
import pytest
import torch

import convrnn.data.digit_boxes as digit_boxes
from convrnn.data.digit_boxes import DigitBoxes, ink_box, resize_digit


def fake_digits(count: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` 28×28 "digits": a bright random blob inside a random sub-rectangle, class i mod 10."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for i in range(count):
        top, left = rng.integers(0, 8, 2)
        height, width = rng.integers(10, 20, 2)
        blob = np.where(rng.random((height, width)) < 0.5, rng.integers(40, 256, (height, width)), 0)
        blob[[0, -1], :] = blob[:, [0, -1]].max()   # ink on every edge row … (so the blob's box is the rectangle)
        blob[:, [0, -1]] = 255                       # … and column
        images[i, top:top + height, left:left + width] = blob
    return images, np.arange(count) % 10


def test_ink_box_holds_every_ink_pixel_and_no_empty_edge():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[5, 9], image[20, 3], image[11, 17] = 40, 200, 31   # 31 is below the ink threshold 32
    assert ink_box(image) == (3, 5, 10, 21)
    assert ink_box(np.zeros((28, 28), dtype=np.uint8)) == (0, 0, 28, 28)


def test_a_resized_digit_has_the_asked_height_its_aspect_and_ink_on_every_edge():
    images, _ = fake_digits(5)
    for image in images:
        x1, y1, x2, y2 = ink_box(image)
        for height in (8, 14, 36):
            digit = resize_digit(image, height)
            assert digit.shape == (height, max(1, round((x2 - x1) * height / (y2 - y1))))
            assert digit[0].any() and digit[-1].any() and digit[:, 0].any() and digit[:, -1].any()


def test_each_box_is_the_tight_box_of_its_digit_on_a_canvas_of_one_digit():
    images, classes = fake_digits()
    data = DigitBoxes("train", 40, seed=2, digits=(1, 1), images=images, classes=classes)
    for index in range(len(data)):
        (digit,) = data.digits_on[index]
        canvas = data.canvases[index, 0].numpy()
        assert digit.box == ink_box(canvas, threshold=1)   # nothing drawn outside, ink on each edge
        assert digit.digit == classes[digit.source]


def test_canvases_hold_the_digits_their_targets_name_at_the_asked_heights():
    images, classes = fake_digits()
    data = DigitBoxes("train", 60, seed=5, heights=(10, 30), max_overlap=0.1, images=images, classes=classes)
    counts = set()
    for index in range(len(data)):
        image, targets = data[index]
        assert image.shape == (1, 64, 64) and targets.shape == (4, 5) and targets.dtype == torch.float32
        on = data.digits_on[index]
        counts.add(len(on))
        expected = [[d.digit, *d.box] for d in on] + [[-1, 0, 0, 0, 0]] * (4 - len(on))
        assert targets.tolist() == expected
        canvas = data.canvases[index, 0].numpy()
        outside = np.ones_like(canvas, dtype=bool)
        for d in on:
            x1, y1, x2, y2 = d.box
            assert 10 <= y2 - y1 <= 30 and 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
            outside[y1:y2, x1:x2] = False
            for other in on:
                if other is not d:   # the intersection covers at most 10 % of either box
                    w = max(0, min(x2, other.box[2]) - max(x1, other.box[0]))
                    h = max(0, min(y2, other.box[3]) - max(y1, other.box[1]))
                    assert w * h <= 0.1 * (x2 - x1) * (y2 - y1) + 1e-9
        assert not canvas[outside].any()   # no ink outside the boxes
    assert counts == {1, 2, 3, 4}


def test_the_same_seed_gives_the_same_canvases_whatever_the_size():
    images, classes = fake_digits()
    small = DigitBoxes("validation", 4, seed=3, images=images, classes=classes)
    large = DigitBoxes("validation", 9, seed=3, images=images, classes=classes)
    other = DigitBoxes("validation", 4, seed=4, images=images, classes=classes)
    test = DigitBoxes("test", 4, seed=3, images=images, classes=classes)
    assert torch.equal(small.canvases, large.canvases[:4]) and torch.equal(small.targets, large.targets[:4])
    assert small.digits_on == large.digits_on[:4]
    assert not torch.equal(small.canvases, other.canvases)
    assert not torch.equal(small.canvases, test.canvases)


def test_batches_are_float_pixels_and_padded_targets():
    images, classes = fake_digits()
    data = DigitBoxes("train", 5, images=images, classes=classes, digits=(2, 3))
    x, y = data[[0, 2, 4]]
    assert x.shape == (3, 1, 64, 64) and x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1
    assert y.shape == (3, 3, 5) and torch.equal(x, data.canvases[[0, 2, 4]].float() / 255)
    y[0, 0, 0] = 99   # a batch is a copy
    assert data.targets[0, 0, 0] != 99


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_each_split_draws_digits_from_the_mnist_split_of_its_name(split, monkeypatch):
    asked = []

    def fake_load(name, **options):
        asked.append(name)
        return fake_digits()

    monkeypatch.setattr(digit_boxes, "load_mnist", fake_load)
    DigitBoxes(split, 2)
    assert asked == [split]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"split": "dev"}, "argument 'split'"),
        ({"size": 0}, "argument 'size' expected an int ≥ 1, got 0"),
        ({"digits": (0, 2)}, "argument 'digits' expected (least, most)"),
        ({"heights": (10, 80)}, "argument 'heights' expected (least, most) with 1 ≤ least ≤ most ≤ 64, got (10, 80)"),
        ({"ink_threshold": 0}, "argument 'ink_threshold' expected an int in 1…255, got 0"),
        ({"max_overlap": 1.5}, "argument 'max_overlap' expected a share in [0, 1], got 1.5"),
        ({"images": np.zeros((3, 28, 28), dtype=np.float32), "classes": np.zeros(3)},
         "argument 'images' expected (M, 28, 28) uint8"),
        ({"classes": np.full(40, 11)}, "argument 'classes' expected (40,) digits 0–9"),
    ],
)
def test_bad_arguments_are_named(options, message):
    images, classes = fake_digits()
    options = {"split": "train", "size": 2, "images": images, "classes": classes} | options
    split = options.pop("split")
    with pytest.raises(ValueError) as error:
        DigitBoxes(split, **options)
    assert message in str(error.value) and str(error.value).startswith("DigitBoxes: ")
