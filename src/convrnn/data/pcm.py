"""Audio for a stream, chunk by chunk: a WAV file or raw PCM on standard input (``arecord … | convrnn
listen RUN -``), as float32 samples in [−1, 1).

Raw PCM is 16-bit little-endian mono at the model's sample rate (``arecord -f S16_LE -c 1 -r RATE -t raw``);
a WAV file says its own format and must be 16-bit at that rate (several channels are averaged).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from convrnn.data.speech import read_wav


def pcm_chunks(source: str | os.PathLike[str] | BinaryIO, chunk: int, *, sample_rate: int,
               where: str = "pcm_chunks") -> Iterator[np.ndarray]:
    """Samples ``(≤ chunk,)`` float32, one array per ``chunk`` samples (the last may be shorter).

    ``source``: a WAV file's path, ``"-"`` for raw PCM on standard input, or a binary file object of raw
    PCM. Raw PCM is read as it arrives, so a live recording streams with ``chunk`` samples of delay."""
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"{where}: argument 'chunk' expected a positive number of samples, got {chunk!r}")
    if isinstance(source, (str, os.PathLike)) and str(source) != "-":
        if os.path.isdir(source):
            raise ValueError(f"{where}: argument 'source' expected a WAV file, got '{source}', which is a directory")
        if not os.path.isfile(source):
            raise FileNotFoundError(f"{where}: no such WAV file: '{source}'")
        samples, rate = read_wav(source)
        if rate != sample_rate:
            raise ValueError(f"{where}: '{source}' is sampled at {rate} Hz, expected {sample_rate} Hz (the model's)")
        return (samples[start:start + chunk] for start in range(0, len(samples), chunk))
    return _raw(sys.stdin.buffer if isinstance(source, (str, os.PathLike)) else source, chunk)


def _raw(stream: BinaryIO, chunk: int) -> Iterator[np.ndarray]:
    carry = b""
    while True:
        data = stream.read(2 * chunk - len(carry))
        if not data:
            break
        data = carry + data
        whole = len(data) - len(data) % 2
        carry = data[whole:]
        if whole:
            yield np.frombuffer(data[:whole], dtype="<i2").astype(np.float32) / 32768.0


__all__ = ["pcm_chunks"]
