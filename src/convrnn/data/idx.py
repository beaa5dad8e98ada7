"""Read the IDX files of MNIST and Fashion-MNIST (LeCun's format), gzipped or not.

Layout: two zero bytes, one type byte, one byte giving the number of dimensions d, then d
big-endian uint32 sizes, then the values in row-major (C) order, big-endian.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAX_BYTES = 1 << 33  # the most values one file may promise (8 GiB; Fashion-MNIST's largest holds 47 MB)
_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array stored in the IDX file at ``path`` (``.gz`` is decompressed).

    Shape ``(size_1, …, size_d)`` as the header states; multi-byte types are returned in the
    machine's native byte order. Raises ``ValueError`` for a bad header or a wrong length.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as file:
            start = file.read(4)
            if len(start) < 4 or start[0] != 0 or start[1] != 0:
                raise ValueError(f"{path.name}: not an IDX file (expected the magic 0x0000, "
                                 f"got {start[:2].hex() or 'an empty file'})")
            type_code, dims = start[2], start[3]
            if type_code not in _TYPES:
                raise ValueError(f"{path.name}: unknown IDX type byte 0x{type_code:02X}; expected one of "
                                 f"{[f'0x{code:02X}' for code in _TYPES]}")
            sizes = file.read(4 * dims)
            if len(sizes) != 4 * dims:
                raise ValueError(f"{path.name}: a truncated IDX header ({dims} dimensions promised)")
            shape = tuple(int(size) for size in np.frombuffer(sizes, ">u4"))
            dtype = _TYPES[type_code]
            header = 4 + 4 * dims
            expected = header + math.prod(shape) * dtype.itemsize
            # read one byte more than promised (never more), so a gzip bomb or a huge header costs nothing
            body = _read_at_most(file, expected - header + 1) if expected - header < MAX_BYTES else b""
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(f"{path.name}: a truncated or corrupt gzip stream ({error})") from None
    if header + len(body) != expected:
        raise ValueError(f"{path.name}: header says shape {shape} ({expected} bytes in all), "
                         f"but the file has {'more than ' if expected - header >= MAX_BYTES else ''}"
                         f"{header + len(body)} bytes")
    values = np.frombuffer(body, dtype).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def _read_at_most(file: BinaryIO, count: int) -> bytes:
    """Up to ``count`` bytes, read in blocks: ``file.read(count)`` would allocate ``count`` bytes up front,
    whatever the file holds."""
    blocks, left = [], count
    while left > 0 and (block := file.read(min(left, 1 << 20))):
        blocks.append(block)
        left -= len(block)
    return b"".join(blocks)
