"""Pictures of detections: boxes and their captions drawn into an image's pixels, with no plotting library.

An image is enlarged by an integer ``scale`` (nearest neighbour, so every input pixel stays a
visible square), each box is drawn as a one-pixel outline in its class's colour (the palette of
:mod:`convrnn.inspect.segmentation`), and its caption (``"7 0.98"``: class and score) is written
in a 3×5 pixel font just above the box (inside it where the box touches the top edge).

Letters: H × W pixels of the input, s the scale, D boxes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

from convrnn.inspect.segmentation import PALETTE

# 3 columns × 5 rows per character, row-major bits (1 = ink); others draw as the '?' glyph
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", " ": "000000000000000",
    "-": "000000111000000", ":": "000010000010000", "?": "111001011000010",
}
FONT = {char: np.array([int(bit) for bit in bits], dtype=bool).reshape(5, 3) for char, bits in _GLYPHS.items()}


def text_mask(text: str) -> np.ndarray:
    """``text`` in the 3×5 font, one blank column between characters → ``(5, 4·len − 1) bool``."""
    if not text:
        return np.zeros((5, 0), dtype=bool)
    columns = []
    for char in text:
        columns.extend([FONT.get(char, FONT["?"]), np.zeros((5, 1), dtype=bool)])
    return np.concatenate(columns[:-1], axis=1)


def draw_detections(image: Tensor | np.ndarray, boxes: Tensor | np.ndarray, classes: Sequence[int],
                    captions: Sequence[str], *, scale: int = 4) -> np.ndarray:
    """``image (H, W)`` grey in [0, 1] (float) or 0–255 (uint8), enlarged ``scale`` times, with
    ``boxes (D, 4)`` (x1, y1, x2, y2 in the input's pixels) outlined in the colour of ``classes``
    and captioned → ``(s·H, s·W, 3) uint8``."""
    pixels = image.detach().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    if pixels.ndim != 2:
        raise ValueError(f"draw_detections: argument 'image' expected an (H, W) grey image, got shape {pixels.shape}")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"draw_detections: argument 'scale' expected an int ≥ 1, got {scale!r}")
    boxes = boxes.detach().cpu().numpy() if isinstance(boxes, Tensor) else np.asarray(boxes, dtype=np.float64)
    boxes = boxes.reshape(-1, 4)
    if not len(boxes) == len(classes) == len(captions):
        raise ValueError(f"draw_detections: arguments 'boxes', 'classes' and 'captions' expected equal lengths, "
                         f"got {len(boxes)}, {len(classes)} and {len(captions)}")
    if pixels.dtype != np.uint8:
        pixels = (np.clip(pixels, 0.0, 1.0) * 255).round().astype(np.uint8)
    grey = np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)
    canvas = np.repeat(grey[..., None], 3, axis=2)
    height, width = canvas.shape[:2]
    for box, label, caption in zip(boxes, classes, captions, strict=True):
        colour = PALETTE[int(label) % (len(PALETTE) - 1)]
        x1, y1, x2, y2 = (round(float(v) * scale) for v in box)
        x1, x2 = np.clip([x1, x2 - 1], 0, width - 1)
        y1, y2 = np.clip([y1, y2 - 1], 0, height - 1)
        canvas[y1, x1:x2 + 1] = canvas[y2, x1:x2 + 1] = colour
        canvas[y1:y2 + 1, x1] = canvas[y1:y2 + 1, x2] = colour
        mask = text_mask(caption)[:, : max(width - x1, 0)]
        top = y1 - 6 if y1 >= 6 else y1 + 2       # above the box, or inside where it touches the top
        rows = mask[: max(height - top, 0)]
        canvas[top:top + rows.shape[0], x1:x1 + rows.shape[1]][rows] = colour
    return canvas


__all__ = ["FONT", "draw_detections", "text_mask"]
