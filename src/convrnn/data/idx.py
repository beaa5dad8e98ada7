"""Read the IDX files of MNIST and Fashion-MNIST (LeCun's format), gzipped or not.

Layout: two zero bytes, one type byte, one byte giving the number of dimensions d, then d
big-endian uint32 sizes, then the values in row-major (C) order, big-endian.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array stored in the IDX file at ``path`` (``.gz`` is decompressed).

    Shape ``(size_1, …, size_d)`` as the header states; multi-byte types are returned in the
    machine's native byte order. Raises ``ValueError`` for a bad header or a wrong length.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as file:
        data = file.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path.name}: not an IDX file (expected the magic 0x0000, "
                         f"got {data[:2].hex() or 'an empty file'})")
    type_code, dims = data[2], data[3]
    if type_code not in _TYPES:
        raise ValueError(f"{path.name}: unknown IDX type byte 0x{type_code:02X}; expected one of "
                         f"{[f'0x{code:02X}' for code in _TYPES]}")
    header = 4 + 4 * dims
    shape = tuple(int(size) for size in np.frombuffer(data, ">u4", count=dims, offset=4))
    dtype = _TYPES[type_code]
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{path.name}: header says shape {shape} ({expected} bytes in all), "
                         f"but the file has {len(data)} bytes")
    values = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))
