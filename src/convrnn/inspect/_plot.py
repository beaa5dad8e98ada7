"""Shared drawing helpers: matplotlib loaded only when a plot is asked for, figures and arrays to PNG.

Arrays become PNGs without matplotlib (a PNG is zlib-compressed rows behind three chunks), so
filters and feature maps show even where the ``viz`` extra is not installed; line plots need it.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from convrnn.data.cache import write_bytes_atomic

VIZ_HINT = "pip install 'convrnn[viz]'"


class _Figures:
    """The three pyplot calls the plots use, made on free-standing ``Figure`` objects: no backend is chosen and no
    global figure list kept, so a user's own pyplot (a notebook's inline backend, an open window) is untouched."""

    def __init__(self, figure_class: Any, rectangle: Any) -> None:
        self._figure_class, self.Rectangle = figure_class, rectangle

    def subplots(self, nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None,
                 **options: Any) -> tuple[Any, Any]:
        figure = self._figure_class(figsize=figsize)
        return figure, figure.subplots(nrows, ncols, **options)

    @staticmethod
    def close(figure: Any) -> None:
        figure.clear()


def require_matplotlib() -> Any:
    """``subplots``/``close``/``Rectangle`` on free-standing matplotlib figures (see :class:`_Figures`), or an
    ImportError that names the extra."""
    try:
        import matplotlib  # noqa: F401 - first, so that a blocked or missing matplotlib fails here
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError:
        raise ImportError(f"convrnn.inspect: plots need matplotlib, which is not installed; "
                          f"install it with {VIZ_HINT}") from None
    return _Figures(Figure, Rectangle)


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def figure_png(figure: Any) -> bytes:
    """The PNG bytes of a matplotlib figure, which is then closed."""
    plt = require_matplotlib()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def diverging(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Map values to RGB bytes, blue (−s) → white (0) → red (+s) with s = max |v| unless given.

    values: (H, W) → (H, W, 3) uint8. Zero stays white, so the sign of a weight is its colour.
    """
    s = float(np.abs(values).max()) if scale is None else scale
    t = np.clip(values / s, -1.0, 1.0) if s > 0 else np.zeros_like(values, dtype=float)
    red = np.where(t < 0, 1.0 + t, 1.0)
    blue = np.where(t > 0, 1.0 - t, 1.0)
    green = 1.0 - np.abs(t)
    return (np.stack([red, green, blue], axis=-1) * 255).round().astype(np.uint8)


def grayscale(values: np.ndarray) -> np.ndarray:
    """Map values linearly from [min, max] to grey bytes: (H, W) → (H, W, 3) uint8."""
    low, high = float(values.min()), float(values.max())
    t = (values - low) / (high - low) if high > low else np.zeros_like(values, dtype=float)
    return np.repeat((t * 255).round().astype(np.uint8)[..., None], 3, axis=-1)


def array_png(rgb: np.ndarray, zoom: int = 1) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 image, each pixel drawn as a zoom×zoom block."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"array_png: argument 'rgb' expected an (H, W, 3) uint8 array, "
                         f"got shape {rgb.shape} dtype {rgb.dtype}")
    if zoom > 1:
        rgb = rgb.repeat(zoom, axis=0).repeat(zoom, axis=1)
    height, width, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory and ``os.replace``."""
    path = Path(path)
    write_bytes_atomic(path, data.encode() if isinstance(data, str) else data)
    return path
