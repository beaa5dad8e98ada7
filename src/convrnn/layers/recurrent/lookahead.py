"""Limited look-ahead for the backward direction (seed 002's "real time bi-directional LSTM").

With look-ahead L the backward output at step t has seen only x_t … x_{t+L} (and nothing past
the sequence's own end): it is the backward cell run from the initial state over the window
x_{min(t+L, length−1)}, …, x_{t+1}, x_t. All N·T windows run together as one batch of a scan
of L + 1 steps — O(T·L) work, a Python loop over the L + 1 window steps, never over t. Window
step k reads position t + L − k; positions at or past a sequence's end leave the state as it is,
exactly as the masked scan does, so L ≥ T − 1 reproduces full bidirectional results bit for bit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from convrnn.functional._checks import check_int
from convrnn.layers.recurrent.cells import Cell, State
from convrnn.layers.recurrent.gpu import dispatch as gpu_dispatch
from convrnn.layers.recurrent.options import recurrent_dropout_mask, zoneout_weights
from convrnn.layers.recurrent.scan import check_engine_arguments, runner, scan


def run_lookahead(cell: Cell, x: Tensor, state: State, *, lookahead: int,
                  lengths: Tensor | None = None, recurrent_dropout: float = 0.0,
                  zoneout: float = 0.0, training: bool = False,
                  keep_states: bool = False) -> tuple[Tensor, State, State | None]:
    """Backward direction with look-ahead ``lookahead`` = L ≥ 0.

    x: (T, N, F); state: the state every window starts from, one (N, S_k) per component;
    lengths: (N,) or None. Returns outputs (T, N, O) (zero at padded steps), the final state
    (that of the window at t = 0, which has seen x_0 … x_L) and, with ``keep_states``, every
    window's final state (T, N, S_k), zero at padded steps.
    """
    check_engine_arguments("run_lookahead", cell, x, state)
    check_int("lookahead", lookahead, minimum=0, where="run_lookahead")
    steps, batch = x.shape[:2]
    # Windows past the end change nothing (masked), so exported programs, whose T is symbolic,
    # keep every L + 1 window steps instead of comparing L with T.
    L = lookahead if torch.compiler.is_exporting() else min(lookahead, steps - 1)
    t = torch.arange(steps, device=x.device)
    ends = lengths if lengths is not None else torch.full((batch,), steps, device=x.device)
    real = (t.unsqueeze(1) < ends).unsqueeze(-1)                           # (T, N, 1)
    cell = runner(cell, x, python_loop=(training and recurrent_dropout > 0) or zoneout > 0)
    spec = gpu_dispatch.kernel_spec(cell, x)
    if spec is not None:
        # The GPU kernels: every window in one operator, the windows built in the kernel.
        _, last = gpu_dispatch.run_cell(cell, spec, x, state, lengths, lookahead=L,
                                        recurrent_dropout=recurrent_dropout, zoneout=zoneout, training=training)
        return _window_results(cell, last, steps, batch, real, keep_states)
    xw = cell.project(x)
    padded = F.pad(xw, (0, 0, 0, 0, 0, L))
    windows = torch.stack([padded[L - k:L - k + steps] for k in range(L + 1)]).flatten(1, 2)

    k = torch.arange(L + 1, device=x.device)
    position = (t.unsqueeze(0) + L - k.unsqueeze(1)).unsqueeze(-1)        # (L+1, T, 1)
    mask = (position < ends).flatten(1, 2)                                 # (L+1, T·N)

    # Window row t·N + n starts from sequence n's initial state.
    start = tuple(s.repeat(steps, 1) for s in state)
    feedback_mask = None
    if training and recurrent_dropout > 0:
        feedback_mask = recurrent_dropout_mask(batch, cell.output_size, recurrent_dropout, xw)
        feedback_mask = feedback_mask.repeat(steps, 1)
    keeps = None
    if zoneout > 0:
        keeps = zoneout_weights(zoneout, training, L + 1, steps * batch, cell.state_sizes, xw)
    _, last, _ = scan(cell, windows, start, mask=mask, feedback_mask=feedback_mask, zoneout=keeps)
    return _window_results(cell, last, steps, batch, real, keep_states)


def _window_results(cell: Cell, last: State, steps: int, batch: int, real: Tensor,
                    keep_states: bool) -> tuple[Tensor, State, State | None]:
    """Outputs, final state and kept states from every window's last state (T·N, S_k)."""
    per_step = tuple(s.view(steps, batch, s.shape[-1]) for s in last)   # (not -1: N may be 0)
    outputs = per_step[cell.output_index].masked_fill(~real, 0.0)
    final = tuple(s[0] for s in per_step)
    states = tuple(s.masked_fill(~real, 0.0) for s in per_step) if keep_states else None
    return outputs, final, states
