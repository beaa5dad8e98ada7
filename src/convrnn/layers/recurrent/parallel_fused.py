"""The compiled path of the parallel-in-time layers: gates and recurrence in one pass through time.

``parallel.py`` computes the coefficients a, b (and the output gate o) of h_t = a_t ∘ h_{t−1} + b_t
with one PyTorch op per gate and then runs the recurrence; each op reads and writes a (T, N, H)
tensor, forward and backward, and at a training step those passes cost more than the
recurrence itself. :func:`run_parallel` instead hands the projections P (T, N, G·H) to one C++
function (``_compiled/parallel_cells.cpp``, equations there) that computes the gates, the
recurrence and the output gate in one pass, and whose backward pass returns ∂L/∂P directly.
Same results as the PyTorch path; it runs where the recurrent core runs (``fused.core_for``:
CPU, float32/float64, not tracing, not inside ``fused.disabled()``), else the caller falls back.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from convrnn.layers.recurrent.fused import core_for

KINDS = {"mingru": 0, "minlstm": 1, "qrnn_f": 2, "qrnn_fo": 3, "qrnn_ifo": 4}


class _ParallelCells(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, kind: int, projected: Tensor, h0: Tensor, mask: Tensor) -> tuple[Tensor, ...]:
        results = core_for(projected).parallel_forward(kind, projected, h0, mask)
        ctx.kind = kind
        ctx.save_for_backward(projected, results[0], h0, mask)
        return tuple(results)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_h: Tensor, grad_out: Tensor | None = None) -> tuple[Tensor | None, ...]:
        projected, h, h0, mask = ctx.saved_tensors
        grad_out = projected.new_empty(0) if grad_out is None else _rows(grad_out)
        grad_p, grad_h0 = core_for(projected).parallel_backward(ctx.kind, _rows(grad_h), grad_out, projected, h,
                                                                h0, mask)
        return None, grad_p, grad_h0, None


def _rows(tensor: Tensor) -> Tensor:
    """``tensor`` (T, N, ·) itself where its rows are contiguous and it overlaps nowhere (time-
    or batch-major memory, which the core reads through its strides), else a contiguous copy."""
    rows = tensor.shape[-1] == 1 or tensor.stride(-1) == 1
    if rows and (tensor.is_contiguous() or tensor.transpose(0, 1).is_contiguous()):
        return tensor
    return tensor.contiguous()


def run_parallel(kind: str, projected: Tensor, h0: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor] | None:
    """Every state and every output of a parallel layer's direction, or None where the compiled
    core does not run (the caller then computes them in PyTorch).

    kind: a key of ``KINDS``; projected: (T, N, G·H) the gates' input terms (the core checks G
    against the kind), time-major or a transposed batch-major (N, T, G·H) tensor (read in place;
    the results then come batch-major too); h0: (N, H) the state before step 0; mask: (T, N)
    bool, False at padded steps, or None. Returns h (T, N, H), the carried state of every step
    (frozen at padded steps), and the outputs (T, N, H), zero at padded steps.
    """
    if core_for(projected) is None:
        return None
    h0 = h0.contiguous()
    flags = projected.new_empty(0, dtype=torch.bool) if mask is None else mask.contiguous()
    results = _ParallelCells.apply(KINDS[kind], _rows(projected), h0, flags)
    h = results[0]
    if len(results) == 2:
        return h, results[1]
    # clone keeps h's layout (batch- or time-major); masked_fill would choose the mask's
    return h, h if mask is None else h.clone().masked_fill_(~mask.unsqueeze(-1), 0.0)
