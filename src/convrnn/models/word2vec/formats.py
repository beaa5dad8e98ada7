"""The word2vec file formats of word2vec.c and gensim (``KeyedVectors.save_word2vec_format``).

Both start with a header line ``V E`` (word count, vector size). Then, per word:

- text: one line ``word x_1 … x_E`` (space-separated decimals);
- binary: the word's UTF-8 bytes, one space, E little-endian float32 (4E bytes), then a newline
  (written by word2vec.c; gensim 4 writes none — both are read).

Words may not contain whitespace. Files are written atomically (a temporary file, then a rename).
A malformed file raises ``ValueError`` naming the file and the line (text) or entry (binary).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from convrnn.data.cache import atomic_path
from convrnn.models.word2vec.queries import WordVectors


def save_word2vec_format(path: str | os.PathLike[str], words: Sequence[str], vectors: Tensor, *,
                         binary: bool = False) -> Path:
    """Write ``words`` and ``vectors`` (V, E) in the text or binary word2vec format."""
    path = Path(path)
    matrix = np.ascontiguousarray(torch.as_tensor(vectors).detach().cpu().numpy(), dtype="<f4")
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise ValueError(f"save_word2vec_format: argument 'vectors' expected shape ({len(words)}, E), "
                         f"got {matrix.shape}")
    for word in words:
        if not word or any(ch.isspace() for ch in word):
            raise ValueError(f"save_word2vec_format: word {word!r} is empty or contains whitespace, which the "
                             f"format cannot hold")
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(f"{matrix.shape[0]} {matrix.shape[1]}\n".encode())
        for word, row in zip(words, matrix, strict=True):
            if binary:
                handle.write(word.encode("utf-8") + b" " + row.tobytes() + b"\n")
            else:
                handle.write((word + " " + " ".join(f"{x:.6g}" for x in row.tolist()) + "\n").encode("utf-8"))
    return path


def load_word2vec_format(path: str | os.PathLike[str], *, binary: bool = False,
                         limit: int | None = None) -> WordVectors:
    """Read a word2vec text or binary file (optionally only its first ``limit`` words)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_word2vec_format: no such file '{path}'")
    data = path.read_bytes()
    end = data.find(b"\n")
    header = data[: end if end >= 0 else len(data)].decode("utf-8", errors="replace").split()
    try:
        count, size = int(header[0]), int(header[1])
        if len(header) != 2 or count < 0 or size < 1:
            raise ValueError
    except (ValueError, IndexError):
        raise ValueError(f"{path.name}, line 1: expected the header 'WORDS DIMENSIONS' (two integers), "
                         f"got {' '.join(header)!r}") from None
    if limit is not None:
        count = min(count, limit)
    reader = _read_binary if binary else _read_text
    words, vectors = reader(path.name, data, end + 1, count, size)
    return WordVectors(words, torch.from_numpy(vectors))


def _read_text(name: str, data: bytes, position: int, count: int, size: int) -> tuple[list[str], np.ndarray]:
    lines = data[position:].decode("utf-8", errors="replace").split("\n")
    words: list[str] = []
    rows: list[np.ndarray] = []   # not a (count, size) matrix up front: the header's count is not trusted
    for number, line in enumerate(lines, start=2):
        if len(words) == count:
            break
        fields = line.rstrip().split(" ")
        if fields == [""]:
            continue
        if len(fields) != size + 1:
            raise ValueError(f"{name}, line {number}: expected a word and {size} numbers, got {len(fields) - 1} "
                             f"numbers after {fields[0]!r}")
        try:
            values = np.array([float(x) for x in fields[1:]], dtype=np.float64)
        except ValueError:
            raise ValueError(f"{name}, line {number}: expected {size} numbers after {fields[0]!r}, got a value "
                             f"that is not a number") from None
        _check_finite(name, f"line {number}", fields[0], values)
        rows.append(values.astype(np.float32))
        words.append(fields[0])
    if len(words) < count:
        raise ValueError(f"{name}: the header announces {count} words, the file holds {len(words)}")
    return words, np.stack(rows) if rows else np.empty((0, size), dtype=np.float32)


def _read_binary(name: str, data: bytes, position: int, count: int, size: int) -> tuple[list[str], np.ndarray]:
    words: list[str] = []
    rows: list[np.ndarray] = []   # not a (count, size) matrix up front: the header's count is not trusted
    width = 4 * size
    for entry in range(1, count + 1):
        while position < len(data) and data[position:position + 1] == b"\n":
            position += 1  # word2vec.c ends each vector with a newline
        space = data.find(b" ", position)
        if space < 0 or space - position > 1000 or space + 1 + width > len(data):
            raise ValueError(f"{name}, entry {entry} (byte {position}): expected a word, a space and {size} "
                             f"float32 values, found {'the end of the file' if space < 0 else 'a truncated entry'}")
        words.append(data[position:space].decode("utf-8", errors="replace"))
        rows.append(np.frombuffer(data, dtype="<f4", count=size, offset=space + 1).astype(np.float32))
        _check_finite(name, f"entry {entry} (byte {position})", words[-1], rows[-1])
        position = space + 1 + width
    return words, np.stack(rows) if rows else np.empty((0, size), dtype=np.float32)


def _check_finite(name: str, where: str, word: str, values: np.ndarray) -> None:
    # NaN, ±inf, or (text) a number beyond float32's range, which would become inf: refused, not loaded.
    bad = values[~(np.abs(values) <= np.finfo(np.float32).max)]   # NaN compares False
    if bad.size:
        raise ValueError(f"{name}, {where}: expected finite float32 numbers after {word!r}, got {float(bad[0])!r}")


__all__ = ["load_word2vec_format", "save_word2vec_format"]
