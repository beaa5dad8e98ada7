"""Detections drawn into pixels: the image enlarged by nearest neighbour, each box's outline in its
class's colour on the enlarged box's edge pixels, its caption in the 3×5 font above it."""

import numpy as np
import pytest
import torch

from convrnn.inspect.boxes import FONT, draw_detections, text_mask
from convrnn.inspect.segmentation import PALETTE


def test_text_mask_puts_the_glyphs_side_by_side_with_a_gap():
    mask = text_mask("7 .1")
    assert mask.shape == (5, 4 * 4 - 1)
    np.testing.assert_array_equal(mask[:, :3], FONT["7"])
    np.testing.assert_array_equal(mask[:, 12:], FONT["1"])
    assert not mask[:, 3].any() and text_mask("").shape == (5, 0)
    np.testing.assert_array_equal(text_mask("x"), FONT["?"])   # a character the font lacks


def test_boxes_are_outlined_in_their_class_colour_on_the_enlarged_image():
    image = torch.zeros(16, 16)
    image[5:9, 6:10] = 1.0
    drawn = draw_detections(image, torch.tensor([[6.0, 5.0, 10.0, 9.0]]), [3], ["3 0.9"], scale=2)
    assert drawn.shape == (32, 32, 3) and drawn.dtype == np.uint8
    colour = PALETTE[3]
    for y, x in [(10, 12), (10, 19), (17, 12), (17, 19), (10, 15), (13, 12)]:   # corners and edges, ×2
        np.testing.assert_array_equal(drawn[y, x], colour)
    assert (drawn[12, 14] == 255).all()   # the ink inside stays white
    caption = (drawn[4:9, 12:12 + text_mask("3 0.9").shape[1]] == colour).all(-1)
    np.testing.assert_array_equal(caption, text_mask("3 0.9"))   # the caption sits above the box
    assert (drawn[20:, :] == 0).all() and (drawn[9:, 22:] == 0).all()   # nothing beyond box and caption


def test_a_box_at_the_top_edge_gets_its_caption_inside_and_boxes_leaving_the_image_are_clipped():
    drawn = draw_detections(np.zeros((8, 8), dtype=np.uint8), np.array([[0.0, 0.0, 20.0, 20.0]]), [0], ["1"])
    colour = PALETTE[0]
    assert (drawn[0, :] == colour).all() and (drawn[:, -1] == colour).all()
    np.testing.assert_array_equal((drawn[2:7, 0:3] == colour).all(-1) | (drawn[2:7, 0:3] == 0).all(-1), True)
    assert (drawn[2:7, 1] == colour).all()   # the stem of the "1"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="draw_detections: argument 'image' expected an"):
        draw_detections(np.zeros((1, 8, 8)), np.zeros((0, 4)), [], [])
    with pytest.raises(ValueError, match="draw_detections: argument 'scale' expected an int ≥ 1, got 0"):
        draw_detections(np.zeros((8, 8)), np.zeros((0, 4)), [], [], scale=0)
    with pytest.raises(ValueError, match="arguments 'boxes', 'classes' and 'captions' expected equal lengths"):
        draw_detections(np.zeros((8, 8)), np.zeros((2, 4)), [1], ["1"])
