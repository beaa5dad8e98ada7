"""Read one image for prediction: ``.npy`` arrays, binary PGM/PPM, and 8-bit PNG — no imaging library.

Every reader returns ``(C, H, W)`` float32 in [0, 1] (``.npy`` values are kept as they are when they
are floats already in [0, 1], divided by 255 when they are integers).
"""

from __future__ import annotations

import math
import os
import re
import struct
import tokenize
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from convrnn.data.cache import write_bytes_atomic

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type → samples per pixel (no palette)


def read_image(path: str | os.PathLike[str]) -> Tensor:
    """``(C, H, W)`` float32 in [0, 1] from a ``.npy``, ``.pgm``/``.ppm`` or ``.png`` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: '{path}'")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _to_chw(read_npy(path), path)
    data = path.read_bytes()
    if data.startswith(PNG_SIGNATURE):
        decode, what = _decode_png, "PNG"
    elif data[:2] in (b"P5", b"P6"):
        decode, what = _decode_pnm, "PGM/PPM"
    else:
        raise ValueError(f"'{path}': expected a .npy, binary PGM/PPM or PNG image, got an unknown format")
    try:
        image = decode(data, path)
    except (struct.error, zlib.error, ValueError, IndexError, OverflowError) as error:
        if str(error).startswith(f"'{path}'"):
            raise
        raise ValueError(f"'{path}': a truncated or corrupt {what} file ({error})") from None
    return _to_chw(image, path)


def read_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """The array of a ``.npy`` file, never unpickling; ``ValueError`` naming the file if it is empty,
    truncated, holds objects or is not a ``.npy`` file at all."""
    with open(path, "rb") as file:
        magic = file.read(6)
    if not magic:
        raise ValueError(f"'{path}': an empty .npy file (no header, no data)")
    if magic != b"\x93NUMPY":
        raise ValueError(f"'{path}': not a .npy array file (it does not start with the .npy magic \\x93NUMPY)")
    try:
        with open(path, "rb") as file:   # the header first: its shape must fit the file before anything is allocated
            start, size = file.read(12), os.fstat(file.fileno()).st_size
            if len(start) < 10 or start[6:8] not in (b"\x01\x00", b"\x02\x00", b"\x03\x00"):
                raise ValueError(f"a truncated header or an unknown .npy version {tuple(start[6:8])}")
            length = (struct.unpack("<H", start[8:10])[0] if start[6] == 1
                      else struct.unpack("<I", start[8:12].ljust(4, b"\0"))[0])
            if length > 65536 or length > size:   # numpy would allocate the length before finding it false
                raise ValueError(f"its header claims {length} bytes, the file holds {size}")
            file.seek(0)
            version = np.lib.format.read_magic(file)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(file, max_header_size=10_000)
            needed = math.prod(shape) * dtype.itemsize
            holds = os.fstat(file.fileno()).st_size - file.tell()
        if not dtype.hasobject and needed != holds:
            raise ValueError(f"its header promises shape {shape} of {dtype} ({needed} bytes), the file holds "
                             f"{holds}")
        return np.load(path, allow_pickle=False)
    except EOFError:
        raise ValueError(f"'{path}': an empty .npy file (no header, no data)") from None
    except (ValueError, OSError, SyntaxError, TypeError, tokenize.TokenError, OverflowError) as error:
        if isinstance(error, FileNotFoundError | IsADirectoryError | PermissionError):
            raise
        detail = "it holds Python objects (pickled), which are never loaded" if "pickle" in str(error) else error
        raise ValueError(f"'{path}': not a valid .npy array file: {' '.join(str(detail).split())}") from None


def _to_chw(array: np.ndarray, path: Path) -> Tensor:
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3 and array.shape[-1] in (1, 2, 3, 4) and array.shape[0] not in (1, 3):
        array = np.moveaxis(array, -1, 0)
    if array.ndim != 3:
        raise ValueError(f"'{path}': expected an image of shape (H, W), (C, H, W) or (H, W, C), got {array.shape}")
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / 255.0
    array = array.astype(np.float32)
    if array.size and (array.min() < 0 or array.max() > 1):
        raise ValueError(f"'{path}': expected pixel values in [0, 1] (floats) or 0–255 (integers), "
                         f"got range [{array.min():.3g}, {array.max():.3g}]")
    return torch.from_numpy(np.ascontiguousarray(array))


MAX_PIXELS = 1 << 28  # the largest image read (16384 × 16384): a header cannot make convrnn allocate more


def _check_size(width: int, height: int, path: Path) -> None:
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise ValueError(f"'{path}': a {width}×{height} image; expected 1 to {MAX_PIXELS} pixels")


_PNM_HEADER = re.compile(rb"P[56](?:\s|#[^\n]*\n)+(\d{1,9})(?:\s|#[^\n]*\n)+(\d{1,9})(?:\s|#[^\n]*\n)+(\d{1,5})\s")


def _decode_pnm(data: bytes, path: Path) -> np.ndarray:
    # the header: width, height and maximum as decimal numbers, separated by whitespace or # comments
    header = _PNM_HEADER.match(data)
    if header is None:
        raise ValueError(f"'{path}': a truncated or corrupt PGM/PPM header (expected width, height and maximum)")
    tokens = [header.group(k) for k in (1, 2, 3)]
    position = header.end() - 1   # the single whitespace byte before the pixels
    width, height, maximum = (int(t) for t in tokens)
    if not 0 < maximum < 65536:
        raise ValueError(f"'{path}': the maximum grey value must lie in 1..65535, got {maximum}")
    _check_size(width, height, path)
    channels = 1 if data[:2] == b"P5" else 3
    dtype = np.uint8 if maximum < 256 else np.dtype(">u2")
    pixels = np.frombuffer(data, dtype=dtype, count=width * height * channels, offset=position + 1)
    image = pixels.reshape(height, width, channels).astype(np.float32) / maximum
    return np.moveaxis(image, -1, 0)


def _decode_png(data: bytes, path: Path) -> np.ndarray:
    """8-bit grey/RGB/alpha, non-interlaced PNG: IHDR, concatenated IDAT, the five row filters."""
    position, idat, header = 8, bytearray(), None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        position += 12 + length
    if header is None:
        raise ValueError(f"'{path}': PNG without an IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in _PNG_CHANNELS or interlace:
        raise ValueError(f"'{path}': only 8-bit, non-interlaced grey/RGB(A) PNGs are supported, "
                         f"got bit depth {depth}, colour type {colour}, interlace {interlace}")
    channels = _PNG_CHANNELS[colour]
    stride = width * channels
    _check_size(width, height, path)
    expected = height * (stride + 1)
    pixels = zlib.decompressobj().decompress(bytes(idat), expected + 1)   # never more: a bomb stops here
    if len(pixels) != expected:
        raise ValueError(f"'{path}': its pixel data holds {'more than ' if len(pixels) > expected else ''}"
                         f"{min(len(pixels), expected)} bytes, not the {expected} a {width}×{height} image needs")
    raw = np.frombuffer(pixels, dtype=np.uint8).reshape(height, stride + 1)
    rows = np.zeros((height, stride), dtype=np.int32)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + previous) & 0xFF
        else:
            row = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                left = row[x - channels] if x >= channels else 0
                up = previous[x]
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up) // 2
                else:
                    upper_left = previous[x - channels] if x >= channels else 0
                    p = left + up - upper_left
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                    predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upper_left)
                row[x] = (line[x] + predictor) & 0xFF
        rows[y] = row
        previous = row
    image = rows.reshape(height, width, channels).astype(np.uint8)
    if channels in (2, 4):
        image = image[..., :-1]  # drop alpha
    return np.moveaxis(image, -1, 0)


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write ``(H, W)`` or ``(H, W, 3)`` uint8 pixels as a PNG (filter 0), atomically."""
    image = np.asarray(image, dtype=np.uint8)
    colour = 0 if image.ndim == 2 else 2
    height, width = image.shape[:2]
    rows = image.reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    payload = (PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
               + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    write_bytes_atomic(path, payload)
