"""Segmentation pictures: the palette colours each class, the grid has one row per example and
three panels, and bad input names the argument."""

import io

import numpy as np
import pytest
import torch

from convrnn.inspect.segmentation import PALETTE, colorize, plot_segmentations, write_segmentations


def test_palette_gives_eleven_distinct_colours_and_colorize_uses_it():
    assert PALETTE.shape == (11, 3) and PALETTE.dtype == np.uint8
    assert len({tuple(colour) for colour in PALETTE.tolist()}) == 11
    labels = np.array([[0, 10], [3, 9]])
    rgb = colorize(torch.from_numpy(labels))
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    for y in range(2):
        for x in range(2):
            assert tuple(rgb[y, x]) == tuple(PALETTE[labels[y, x]])


def test_grid_png_has_a_row_per_example(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    rng = np.random.default_rng(0)
    images = rng.random((3, 1, 16, 16))
    truth = rng.integers(0, 11, (3, 16, 16))
    png = plot_segmentations(images, truth, truth[::-1].copy(), titles=["a", "b", "c"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    one_row = plot_segmentations(images[:1], truth[:1], truth[:1])
    tall, short = plt.imread(io.BytesIO(png)), plt.imread(io.BytesIO(one_row))
    assert tall.shape[1] == pytest.approx(short.shape[1], rel=0.1)   # three panels wide either way
    assert tall.shape[0] > 2.2 * short.shape[0] * 0.8                # and a row per example
    path = write_segmentations(tmp_path / "grid.png", images, truth, truth)
    assert path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: colorize(np.array([[0, 11]])), "argument 'labels' expected classes in [0, 11)"),
        (lambda: colorize(np.zeros((2, 2, 2), dtype=int)), "argument 'labels' expected an (H, W) integer array"),
        (lambda: plot_segmentations(np.zeros((2, 4, 4)), np.zeros((2, 4, 5), dtype=int), np.zeros((2, 4, 4), dtype=int)),
         "argument 'truth' expected shape (2, 4, 4)"),
        (lambda: plot_segmentations(np.zeros((1, 4, 4)), np.zeros((1, 4, 4), dtype=int), np.zeros((1, 4, 4), dtype=int),
                                    titles=["a", "b"]), "argument 'titles' expected 1 captions, got 2"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)
