"""The naive reference of the cell kernels: the Python engine itself, on exactly what a kernel gets.

Nothing here restates a cell's equations: :func:`reference` runs ``Cell.step`` through the
engine's own ``scan`` (masking by length, recurrent dropout, zoneout), reversing each sequence
within its length as ``run_direction`` does and building look-ahead windows as ``run_lookahead``
does, and returns what the kernels return, in their layout. Zoneout's training draws are given as
tensors (:func:`zoneout_keeps` draws the kernels' own Philox numbers), so both sides use the same.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from convrnn.layers.recurrent.cells import Cell, State
from convrnn.layers.recurrent.fused import disabled
from convrnn.layers.recurrent.scan import reversal_index, reverse_within_lengths, scan


def zoneout_keeps(seed: int, probability: float, steps: int, rows: int, sizes: tuple[int, ...],
                  like: Tensor) -> tuple[Tensor, ...]:
    """The keep weights (steps, rows, S_k) per state component that the forward kernel draws in
    training with ``seed`` (``pointwise.keep_draw``)."""
    from convrnn.layers.recurrent.gpu.cells.forward import keeps_kernel
    from convrnn.layers.recurrent.gpu.cells.launch import BLOCK_N, block

    width = max(sizes)
    keeps = []
    for component, size in enumerate(sizes):
        out = torch.empty(steps, rows, size, dtype=like.dtype, device=like.device)
        keeps_kernel[(-(-rows // BLOCK_N), steps)](out, seed, probability, rows, size, component, width,
                                                    BLOCK_N=BLOCK_N, BLOCK_S=block(size))
        keeps.append(out)
    return tuple(keeps)


def reference(cell: Cell, xw: Tensor, state: State, lengths: Tensor | None, drop: Tensor | None,
              keeps: tuple[float | Tensor, ...] | None, reverse: bool, lookahead: int) -> tuple[Tensor, ...]:
    """What the cell kernels compute, by the engine: (every state per component, final state per
    component), laid out as ``launch.forward`` returns them (see there)."""
    with disabled():
        if lookahead >= 0:
            return _windows(cell, xw, state, lengths, drop, keeps, lookahead)
        steps = xw.shape[0]
        mask = index = None
        if lengths is not None:
            mask = torch.arange(steps, device=xw.device).unsqueeze(1) < lengths
            index = reversal_index(lengths, steps)
        if reverse:
            xw = reverse_within_lengths(xw, index)
        _, final, history = scan(cell, xw, state, mask=mask, feedback_mask=drop, zoneout=keeps, keep_states=True)
        every = [torch.stack(component) for component in zip(*history, strict=True)]
        if mask is not None:
            every = [s.masked_fill(~mask.unsqueeze(-1), 0.0) for s in every]
        if reverse:
            every = [reverse_within_lengths(s, index) for s in every]
        return (*every, *final)


def _windows(cell: Cell, xw: Tensor, state: State, lengths: Tensor | None, drop: Tensor | None,
             keeps: tuple[float | Tensor, ...] | None, lookahead: int) -> tuple[Tensor, ...]:
    """Look-ahead windows as ``run_lookahead`` builds them: every window step's state, frozen where
    masked ((L + 1, T·N, S_k)), and each window's last state."""
    steps, batch = xw.shape[:2]
    L = lookahead
    padded = F.pad(xw, (0, 0, 0, 0, 0, L))
    windows = torch.stack([padded[L - k:L - k + steps] for k in range(L + 1)]).flatten(1, 2)
    t = torch.arange(steps, device=xw.device)
    k = torch.arange(L + 1, device=xw.device)
    position = (t.unsqueeze(0) + L - k.unsqueeze(1)).unsqueeze(-1)
    ends = lengths if lengths is not None else torch.full((batch,), steps, device=xw.device)
    mask = (position < ends).flatten(1, 2)
    start = tuple(s.repeat(steps, 1) for s in state)
    feedback = drop.repeat(steps, 1) if drop is not None else None
    _, final, history = scan(cell, windows, start, mask=mask, feedback_mask=feedback, zoneout=keeps,
                             keep_states=True)
    every = [torch.stack(component) for component in zip(*history, strict=True)]
    return (*every, *final)
