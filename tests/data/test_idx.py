"""The IDX reader against files written byte by byte from the format's description."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from convrnn.data.idx import read_idx


def _idx_bytes(type_byte: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, type_byte, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


def test_reads_gzipped_unsigned_bytes_as_images(tmp_path):
    values = list(range(24))
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(0x08, (2, 3, 4), bytes(values))))
    array = read_idx(path)
    assert array.dtype == np.uint8 and array.shape == (2, 3, 4)
    assert array[1, 2, 3] == 23 and array[0, 1, 0] == 4  # row-major order


def test_reads_big_endian_integers_and_floats_into_native_order(tmp_path):
    path = tmp_path / "labels-idx1"
    path.write_bytes(_idx_bytes(0x0C, (3,), struct.pack(">3i", -1, 2, 70000)))
    labels = read_idx(path)
    assert labels.tolist() == [-1, 2, 70000] and labels.dtype.isnative
    path.write_bytes(_idx_bytes(0x0D, (2,), struct.pack(">2f", 1.5, -0.25)))
    assert read_idx(path).tolist() == [1.5, -0.25]


def test_bad_magic_unknown_type_and_wrong_length_are_clear_errors(tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(b"\x1f\x8b\x08\x01")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)
    path.write_bytes(_idx_bytes(0x07, (1,), b"\x00"))
    with pytest.raises(ValueError, match="unknown IDX type byte 0x07"):
        read_idx(path)
    path.write_bytes(_idx_bytes(0x08, (2, 2), b"\x00\x01\x02"))
    with pytest.raises(ValueError, match=r"shape \(2, 2\) \(16 bytes in all\), but the file has 15 bytes"):
        read_idx(path)
