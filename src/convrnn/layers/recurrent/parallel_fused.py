"""The compiled path of the parallel-in-time layers: gates and recurrence in one pass through time.

``parallel.py`` computes the coefficients a, b (and the output gate o) of h_t = a_t ∘ h_{t−1} + b_t
with one PyTorch op per gate and then runs the recurrence; each op reads and writes a (T, N, H)
tensor, forward and backward, and at a training step those passes cost more than the
recurrence itself. :func:`run_parallel` instead hands the projections P (T, N, G·H) to one C++
function (``_compiled/parallel_cells.cpp``, equations there) that computes the gates, the
recurrence and the output gate in one pass, and whose backward pass returns ∂L/∂P directly.
:func:`project_and_run` also computes P = X Wᵀ + b itself, so that P is private to it: the
backward pass writes ∂L/∂P over P, takes ∂L/∂X, ∂L/∂W, ∂L/∂b from it, and keeps the block for the
next step (``projection_buffers.py``), where a fresh one would be mapped page by page.
Same results as the PyTorch path; it runs where the recurrent core runs (``fused.core_runs``:
CPU, float32/float64, not traced for export, not inside ``fused.disabled()``), else the caller
falls back. :func:`run_parallel` is the operator ``torch.ops.convrnn.parallel_cells``
(``core_ops.py``), so it also runs inside ``torch.compile``'d graphs; :func:`project_and_run`'s
private memory is for eager mode only.
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from torch import Tensor

from convrnn.layers.recurrent import projection_buffers
from convrnn.layers.recurrent.core_ops import rows
from convrnn.layers.recurrent.fused import core_for, core_runs, first_order

KINDS = {"mingru": 0, "minlstm": 1, "qrnn_f": 2, "qrnn_fo": 3, "qrnn_ifo": 4}


class _ProjectedCells(torch.autograd.Function):
    """P = X Wᵀ + b and the cells over it; P is this Function's own, so its memory takes ∂L/∂P.

    P is saved like any tensor (so saved-tensor hooks and checkpointing see it), and the first
    backward pass overwrites it; a second one (``retain_graph=True``) computes it again."""

    @staticmethod
    def forward(ctx: Any, kind: int, inputs: Tensor, weight: Tensor, bias: Tensor | None, h0: Tensor,
                mask: Tensor, layout: tuple[int, int, bool]) -> tuple[Tensor, ...]:
        ctx.set_materialize_grads(False)
        projected, results = _project_and_run(kind, inputs, weight, bias, h0, mask, layout, _stores(kind))
        ctx.kind, ctx.layout, ctx.consumed = kind, layout, False
        ctx.save_for_backward(inputs, weight, bias, results[0], h0, mask, projected)
        return tuple(results)

    @staticmethod
    @first_order
    def backward(ctx: Any, grad_h: Tensor | None, grad_out: Tensor | None = None) -> tuple[Tensor | None, ...]:
        inputs, weight, bias, h, h0, mask, projected = ctx.saved_tensors
        with _consuming:
            first, ctx.consumed = not ctx.consumed, True
        if not first:   # the first backward pass overwrote P: P (and its stored gates) again, to the last bit
            projected, _ = _project_and_run(ctx.kind, inputs, weight, bias, h0, mask, ctx.layout, _stores(ctx.kind))
        steps = _steps(projected, ctx.layout)
        needs = ctx.needs_input_grad
        grads = core_for(projected).parallel_backward(ctx.kind, _rows(grad_h, steps), _rows(grad_out, steps), steps,
                                                      h, h0, mask, steps, bias is not None and needs[3],
                                                      _stores(ctx.kind))
        grad_p = projected      # now ∂L/∂P, (rows, G·H)
        grad_inputs = grad_p.mm(weight) if needs[1] else None
        grad_weight = grad_p.t().mm(inputs) if needs[2] else None
        grad_bias = grads[2] if len(grads) == 3 else None
        projection_buffers.give(projected)
        return None, grad_inputs, grad_weight, grad_bias, grads[1] if needs[4] else None, None, None


_consuming = threading.Lock()   # two threads running backward on one retained graph: one overwrites P


def _project_and_run(kind: int, inputs: Tensor, weight: Tensor, bias: Tensor | None, h0: Tensor, mask: Tensor,
                     layout: tuple[int, int, bool], store_gates: bool = False) -> tuple[Tensor, list[Tensor]]:
    """P = inputs Wᵀ into a block from ``projection_buffers`` (R, G), and the core's forward
    pass over it, which adds b to P's rows as it reads them. Returns P (now X Wᵀ + b, or, with
    ``store_gates``, the activated gates over it) and the core's results."""
    out = projection_buffers.take(inputs.shape[0], weight.shape[0], inputs.dtype)
    projected = torch.mm(inputs, weight.t(), out=out)
    results = core_for(projected).parallel_forward(kind, _steps(projected, layout), h0, mask,
                                                   projected.new_empty(0) if bias is None else bias.contiguous(),
                                                   store_gates)
    return projected, results


def _stores(kind: int) -> bool:
    """Whether the forward pass leaves the activated gates in P for the backward pass: every
    kind but MinLSTM's (see parallel_cells.cpp)."""
    return kind != KINDS["minlstm"]


def _steps(projected: Tensor, layout: tuple[int, int, bool]) -> Tensor:
    """(R, G) rows in (t, n) order, or (n, t) order where batch-major, as (T, N, G)."""
    steps, batch, batch_major = layout
    if batch_major:
        return projected.view(batch, steps, -1).transpose(0, 1)
    return projected.view(steps, batch, -1)


def _rows(tensor: Tensor | None, like: Tensor) -> Tensor:
    """A gradient (T, N, ·) as the core reads it (``core_ops.rows``); None (no loss reads it) an
    empty tensor (zeros)."""
    return like.new_empty(0) if tensor is None else rows(tensor, like)


def run_parallel(kind: str, projected: Tensor, h0: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor] | None:
    """Every state and every output of a parallel layer's direction, or None where the compiled
    core does not run (the caller then computes them in PyTorch).

    kind: a key of ``KINDS``; projected: (T, N, G·H) the gates' input terms (the core checks G
    against the kind), time-major or a transposed batch-major (N, T, G·H) tensor (read in place;
    the results then come batch-major too); h0: (N, H) the state before step 0; mask: (T, N)
    bool, False at padded steps, or None. Returns h (T, N, H), the carried state of every step
    (frozen at padded steps), and the outputs (T, N, H), zero at padded steps.
    """
    if not core_runs(projected):
        return None
    h0 = h0.contiguous()
    flags = projected.new_empty(0, dtype=torch.bool) if mask is None else mask.contiguous()
    h, out = torch.ops.convrnn.parallel_cells(KINDS[kind], _rows(projected, projected), h0, flags)
    return _with_outputs((h, out) if out.numel() else (h,), mask)


def _with_outputs(results: tuple[Tensor, ...] | list[Tensor], mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """(h, outputs) of the core's results: its outputs where it has them (an output gate), else
    h, zeroed at padded steps."""
    h = results[0]
    if len(results) == 2:
        return h, results[1]
    # clone keeps h's layout (batch- or time-major); masked_fill would choose the mask's
    return h, h if mask is None else h.clone().masked_fill_(~mask.unsqueeze(-1), 0.0)


def project_and_run(kind: str, inputs: Tensor, weight: Tensor, bias: Tensor | None, h0: Tensor,
                    mask: Tensor | None, steps: int, batch_major: bool) -> tuple[Tensor, Tensor] | None:
    """:func:`run_parallel` of the projection P = inputs Wᵀ + b, computed here (see the module
    docstring), or None where the compiled core does not run.

    inputs: (T·N, K) the projection's inputs, rows in (t, n) order, or (n, t) order where
    ``batch_major``; weight: (G·H, K); bias: (G·H,) or None; h0, mask: as :func:`run_parallel`;
    steps: T. Returns h and the outputs, (T, N, H) each, batch-major memory where the inputs are.
    """
    if core_for(inputs) is None:
        return None
    layout = (steps, inputs.shape[0] // steps, batch_major)
    h0 = h0.contiguous()
    flags = inputs.new_empty(0, dtype=torch.bool) if mask is None else mask.contiguous()
    grads = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (inputs, weight, bias, h0))
    if grads:
        results = _ProjectedCells.apply(KINDS[kind], inputs, weight, bias, h0, flags, layout)
    else:
        projected, results = _project_and_run(KINDS[kind], inputs, weight, bias, h0, flags, layout)
        projection_buffers.give(projected)
    return _with_outputs(results, mask)
