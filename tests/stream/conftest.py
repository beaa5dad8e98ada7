"""Helpers for the streaming tests: cut a signal into chunks, stream it, join the outputs."""

from collections.abc import Sequence

import pytest
import torch
from hypothesis import strategies as st

import convrnn


def cut(length: int, sizes: Sequence[int]) -> list[tuple[int, int]]:
    """``(start, size)`` of chunks of the given sizes (cycled) covering ``length`` steps; zero-step
    chunks included where a size is 0."""
    pieces, at, index = [], 0, 0
    while at < length:
        size = min(sizes[index % len(sizes)], length - at)
        pieces.append((at, size))
        at, index = at + size, index + 1
    return pieces


def run_stream(model, x: torch.Tensor, sizes: Sequence[int], axis: int, **options) -> tuple[object, torch.Tensor]:
    """``(stream, its outputs joined)``: ``x`` pushed in chunks of ``sizes`` along ``axis``, then flushed."""
    stream = convrnn.stream(model, **options)
    outputs = [stream.push(x.narrow(axis, start, size)) for start, size in cut(x.shape[axis], sizes)]
    outputs.append(stream.flush())
    return stream, torch.cat(outputs, dim=stream.time_axis)


chunkings = st.lists(st.integers(0, 9), min_size=1, max_size=5).filter(any)


@pytest.fixture
def streamed():
    return run_stream
