"""Sliding windows over a signal that arrives in chunks: what convolution, pooling and the STFT stream on.

Offline, a window layer pads the whole signal, ``[low pad | x_0 … x_{n−1} | high pad]``, and reads
window o at padded cells o·s … o·s + K − 1 (K = d·(k − 1) + 1 cells spanned, s the stride). Chunk by
chunk, the same cells arrive in order: the low pad is made once the signal's first cells are in
(zeros and ``constant`` need none; ``neumann`` needs x_0, ``reflect`` x_0 … x_low, ``symmetric``
x_0 … x_{low−1}), every window is handed out as soon as its last cell is in, and the high pad is
made at the end from the signal's last cells. So every window holds exactly the cells it holds
offline, and the outputs are the offline outputs (:class:`PaddedWindows`). ``circular`` pads the
start with the signal's end: it cannot stream.

Pooling with ``boundary=None`` (PyTorch's semantics: padded cells take no part, ``avg`` may count
them) is streamed without making the padding (:class:`VirtualWindows`): each batch of windows is
pooled as a smaller offline problem whose padding and ``ceil_mode`` reproduce offline's windows.

Tensors are time-last, ``(*, L)``; states are dicts of tensors (see ``stage.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from convrnn.functional.boundary import pad
from convrnn.functional.shapes import pool_output_size
from convrnn.stream.stage import NotCausalError, State


def _cells_needed(boundary: str, low: int, where: str) -> int:
    """How many of the signal's first (or last) cells a pad of ``low`` cells is made from."""
    if low == 0 or boundary in ("zeros", "constant"):
        return 0
    if boundary == "neumann":
        return 1
    if boundary == "reflect":
        return low + 1
    if boundary == "symmetric":
        return low
    raise NotCausalError(f"{where}: boundary {boundary!r} pads the start of the signal with its end, so "
                         f"no output is final before the stream ends; use boundary 'zeros' (or 'reflect', "
                         f"'symmetric', 'neumann', 'constant') to stream")


def _pad_edges(cells: Tensor, low: int, high: int, boundary: str, value: float) -> Tensor:
    """``cells (*, L)`` padded by ``boundary`` as :func:`convrnn.functional.pad` pads a whole signal."""
    flat = cells.reshape(-1, 1, cells.shape[-1])
    padded = pad(flat, ((low, high),), boundary, value)
    return padded.reshape(*cells.shape[:-1], padded.shape[-1])


def _constant(like: Tensor, count: int, value: float) -> Tensor:
    return like.new_full((*like.shape[:-1], count), value)


class PaddedWindows:
    """The padded signal handed out window by window (see the module docstring).

    Args:
        span: K, cells one window spans. stride: s. low, high: padding cells before and after.
        boundary, value: how the padding is made (:func:`convrnn.functional.pad`).
        where: the layer's name, for messages.
        key: prefix of the state's names.

    ``push`` returns the cells of every window now complete (``(count − 1)·s + K`` cells, None if no
    window is), ``finish`` every cell left with the high padding (the op decides which windows fit).
    """

    def __init__(self, span: int, stride: int, low: int, high: int, boundary: str = "zeros", value: float = 0.0,
                 *, where: str = "", key: str = "") -> None:
        self.span, self.stride, self.low, self.high = span, stride, low, high
        # ``value`` is the constant (or the neumann slope); "zeros" pads with 0 whatever the layer's value
        self.boundary, self.where, self.key = boundary, where, key
        self.value = 0.0 if boundary == "zeros" else float(value)
        self.left_need = _cells_needed(boundary, low, where)
        self.right_need = _cells_needed(boundary, high, where)
        names = []
        if self.left_need:
            names += ["pending", "started"]
        if not (span == 1 and stride == 1 and low == 0 and high == 0):
            names.append("buffer")
        if self.right_need:
            names.append("tail")
        if stride > span:
            names.append("skip")
        self.names = tuple(key + name for name in names)

    @property
    def data_dependent(self) -> bool:
        """Whether the low padding waits for the signal (control flow on the state's values)."""
        return bool(self.left_need) or self.stride > self.span

    def init(self, x: Tensor) -> State:
        """The state for chunks like ``x (*, 0)``."""
        k, empty = self.key, x[..., :0]
        state: State = {}
        if self.left_need:
            state[k + "pending"] = empty
            state[k + "started"] = torch.zeros((), dtype=torch.long, device=x.device)
        if k + "buffer" in self.names:
            state[k + "buffer"] = empty if self.left_need else _constant(x, self.low, self.value)
        if self.right_need:
            state[k + "tail"] = empty
        if self.stride > self.span:
            state[k + "skip"] = torch.zeros((), dtype=torch.long, device=x.device)
        return state

    def push(self, x: Tensor, state: State) -> tuple[Tensor | None, State]:
        """Take the chunk ``x (*, c)``; return the cells of the windows it completes and the new state."""
        k, state = self.key, dict(state)
        if self.right_need:
            state[k + "tail"] = torch.cat([state[k + "tail"], x], dim=-1)[..., -self.right_need:]
        if self.left_need and not int(state[k + "started"]):
            pending = torch.cat([state[k + "pending"], x], dim=-1)
            if pending.shape[-1] < self.left_need:
                state[k + "pending"] = pending
                return None, state
            left = _pad_edges(pending[..., :self.left_need], self.low, 0, self.boundary, self.value)
            buffer = torch.cat([left[..., :self.low], pending], dim=-1)
            state[k + "pending"] = pending[..., :0]
            state[k + "started"] = torch.ones_like(state[k + "started"])
        elif k + "buffer" in state:
            buffer = torch.cat([state[k + "buffer"], x], dim=-1)
        else:
            buffer = x
        return self._take(buffer, state)

    def finish(self, state: State) -> Tensor | None:
        """Every cell not yet handed out, the high padding included; None if the stream held nothing."""
        k = self.key
        if self.left_need and not int(state[k + "started"]):
            signal = state[k + "pending"]
            if signal.shape[-1] == 0:
                return None
            rest = _pad_edges(signal, self.low, self.high, self.boundary, self.value)   # offline's own errors
        else:
            rest = state.get(k + "buffer")
            if rest is None:
                return None
            if self.high:
                if self.right_need:
                    right = _pad_edges(state[k + "tail"], 0, self.high, self.boundary, self.value)[..., -self.high:]
                else:
                    right = _constant(rest, self.high, self.value)
                rest = torch.cat([rest, right], dim=-1)
        rest, _ = self._skip(rest, dict(state))
        return rest

    def _skip(self, buffer: Tensor, state: State) -> tuple[Tensor, State]:
        """Drop cells that fall between windows (stride > span)."""
        key = self.key + "skip"
        if key in state:
            dropped = min(int(state[key]), buffer.shape[-1])
            buffer = buffer[..., dropped:]
            state[key] = state[key] - dropped
        return buffer, state

    def _take(self, buffer: Tensor, state: State) -> tuple[Tensor | None, State]:
        buffer, state = self._skip(buffer, state)
        cells, span, stride = buffer.shape[-1], self.span, self.stride
        count = (cells - span) // stride + 1 if cells >= span else 0
        ready = buffer[..., :(count - 1) * stride + span] if count else None
        consumed = count * stride
        if self.key + "skip" in state and consumed > cells:
            state[self.key + "skip"] = state[self.key + "skip"] + (consumed - cells)
        if self.key + "buffer" in state:
            state[self.key + "buffer"] = buffer[..., min(consumed, cells):]
        return ready, state


class VirtualWindows:
    """Windows over a signal whose padding takes no part (pooling with ``boundary=None``).

    The state keeps the signal's cells from the next window's start on, that start ``a`` (negative
    while it lies in the low padding) and how many cells came in. Each batch of complete windows is
    ``op(cells, low, high, ceil_mode)``, offline pooling of the kept cells with ``max(0, −a)`` padding
    cells before them; at the end, with the high padding and ``ceil_mode`` as offline. That smaller
    problem's windows hold the same cells and padding as offline's, so they pool to the same values.
    """

    def __init__(self, kernel: int, stride: int, dilation: int, low: int, high: int, ceil_mode: bool,
                 op: Callable[[Tensor, int, int, bool], Tensor], *, key: str = "") -> None:
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.span = dilation * (kernel - 1) + 1
        self.low, self.high, self.ceil_mode, self.op, self.key = low, high, ceil_mode, op, key
        self.names = tuple(key + name for name in ("buffer", "start", "received"))

    def init(self, x: Tensor) -> State:
        k = self.key
        return {k + "buffer": x[..., :0],
                k + "start": torch.full((), -self.low, dtype=torch.long, device=x.device),
                k + "received": torch.zeros((), dtype=torch.long, device=x.device)}

    def push(self, x: Tensor, state: State) -> tuple[Tensor | None, State]:
        k = self.key
        start, received, chunk = int(state[k + "start"]), int(state[k + "received"]), x.shape[-1]
        first = max(start, 0)
        dropped = min(max(first - received, 0), chunk)
        buffer = torch.cat([state[k + "buffer"], x[..., dropped:]], dim=-1)
        low = max(0, -start)
        count = (low + buffer.shape[-1] - self.span) // self.stride + 1 if low + buffer.shape[-1] >= self.span else 0
        out = None
        if count:
            out = self.op(buffer[..., :(count - 1) * self.stride + self.span - low], low, 0, False)
            start += count * self.stride
            buffer = buffer[..., min(max(start, 0) - first, buffer.shape[-1]):]
        state = {k + "buffer": buffer, k + "start": torch.full_like(state[k + "start"], start),
                 k + "received": state[k + "received"] + chunk}
        return out, state

    def finish(self, state: State) -> Tensor | None:
        k = self.key
        if int(state[k + "received"]) == 0:
            return None
        buffer, low = state[k + "buffer"], max(0, -int(state[k + "start"]))
        received, emitted = int(state[k + "received"]), (int(state[k + "start"]) + self.low) // self.stride
        count = pool_output_size(received, self.kernel, self.stride, (self.low, self.high), self.dilation,
                                 self.ceil_mode) - emitted
        if count <= 0:
            return None
        if low or buffer.shape[-1] >= self.span:
            return self.op(buffer, low, self.high, self.ceil_mode)[..., :count]
        # a ceil_mode window that overhangs the end, with fewer cells than its span: pooled behind m windows
        # of placeholder cells (which no kept window reads), as offline pools it behind the earlier cells
        m = -(-self.span // self.stride)
        placeholder = buffer.new_zeros(*buffer.shape[:-1], m * self.stride)
        return self.op(torch.cat([placeholder, buffer], dim=-1), 0, self.high, self.ceil_mode)[..., m:m + count]


__all__ = ["PaddedWindows", "VirtualWindows"]
