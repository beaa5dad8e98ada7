"""Reused memory for the parallel layers' input projections (``parallel_fused.py``).

A parallel layer's projection P = X Wᵀ + b is (T·N, G·H): 49 MB at (16, 1000, 64, 256) with
three gates. glibc hands large blocks back to the OS on free (over 32 MiB always, smaller ones
when the top of its heap is trimmed), so a fresh P is mapped again page by page at its first
write, about 1 µs per 4 KiB page here, which measured 15–17 ms of a 25 ms product. The backward
pass writes ∂L/∂P into P's own memory, and afterwards this pool keeps that block for the next
forward pass of the same size. Inference returns its block at once.

Only blocks of at least ``MIN_BYTES`` are kept (smaller ones glibc reuses itself), at most
``MAX_BYTES`` in all (the oldest go first), and only CPU tensors. A block is handed out as a
new tensor on its storage, with a version counter of its own, so that writing it never trips
autograd's check of a graph that still holds the block's previous tensor (a graph kept by
``retain_graph=True``; parallel_fused.py never reads that tensor again), and so that a block
made under ``torch.inference_mode`` serves a later training step as an ordinary tensor. The
pool holds memory that training used at its peak anyway; :func:`release_buffers` gives it back.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict

import torch
from torch import Tensor

MIN_BYTES = 8 << 20
MAX_BYTES = 512 << 20

_lock = threading.Lock()
_held: OrderedDict[int, tuple[tuple[int, torch.dtype], torch.UntypedStorage]] = OrderedDict()
_held_bytes = 0
_handles = itertools.count()


def take(rows: int, cols: int, dtype: torch.dtype) -> Tensor:
    """A (rows, cols) contiguous CPU tensor of ``dtype``, uninitialised: on a kept block of that
    size if there is one, else a new one."""
    global _held_bytes
    key = (rows * cols, dtype)
    with _lock:
        for handle, (held_key, storage) in _held.items():
            if held_key == key:
                del _held[handle]
                _held_bytes -= storage.nbytes()
                return torch.empty(0, dtype=dtype).set_(storage, 0, (rows, cols), (cols, 1))
    return torch.empty(rows, cols, dtype=dtype)


def give(tensor: Tensor) -> None:
    """Keeps ``tensor``'s block for a later :func:`take`. The caller must hold no other reference
    to its memory that it will read again (a tensor the caller no longer uses)."""
    global _held_bytes
    storage = tensor.untyped_storage()
    size = storage.nbytes()
    if (tensor.device.type != "cpu" or not tensor.is_contiguous()
            or tensor.storage_offset() != 0 or size != tensor.numel() * tensor.element_size()
            or size < MIN_BYTES or size > MAX_BYTES):
        return
    with _lock:
        _held[next(_handles)] = ((tensor.numel(), tensor.dtype), storage)
        _held_bytes += size
        while _held_bytes > MAX_BYTES:
            _, (_, oldest) = _held.popitem(last=False)
            _held_bytes -= oldest.nbytes()


def held_bytes() -> int:
    """Bytes the pool keeps now."""
    return _held_bytes


def release_buffers() -> None:
    """Gives every kept block back (to the allocator, and so to the OS)."""
    global _held_bytes
    with _lock:
        _held.clear()
        _held_bytes = 0
