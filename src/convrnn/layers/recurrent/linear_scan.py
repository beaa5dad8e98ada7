"""The linear recurrence h_t = a_t ∘ h_{t−1} + b_t over all steps, in O(√T) sequential steps.

Chunked scan (exact: no logarithms, no divisions, so stable for every a_t, including 0):
cut the T steps into K chunks of C ≈ √T steps;
1. inside every chunk at once, run the recurrence from a zero state (C steps, all K chunks in
   one batch) and take the running products P of a_t (``cumprod``);
2. carry the state across chunk boundaries (K steps on (N, H) tensors):
   s_k = local_{k, C−1} + P_{k, C−1} ∘ s_{k−1}, s_{−1} = h_0;
3. h_{k, j} = local_{k, j} + P_{k, j} ∘ s_{k−1}, one elementwise pass.

The backward pass is the same recurrence run backwards in time (a custom autograd Function,
so no graph of 2√T small steps is kept): with g_t = ∂L/∂h_t + a_{t+1} ∘ g_{t+1},
∂L/∂b_t = g_t, ∂L/∂a_t = g_t ∘ h_{t−1}, ∂L/∂h_0 = a_0 ∘ g_0.

On a CPU with the compiled core (``fused.core_runs``) both directions are instead one pass
through time in C++ (the operator ``torch.ops.convrnn.linear_scan``), vectorised over the other
dimensions: each input read once, which beats any parallel-in-time scheme there. On CUDA tensors
with Triton installed both directions are one Triton kernel each (``gpu/scan/kernel.py``:
chunks of steps by an associative scan, the state carried between chunks; the operator
``torch.ops.convrnn_gpu.linear_scan``); the chunked scan below (O(√T) kernel launches, not T)
serves GPUs without Triton. Exported (``torch.export``, ONNX), the
recurrence is a ``scan`` over time (``export_scan.py``), so the exported program keeps T dynamic.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from convrnn.functional._checks import check_tensor
from convrnn.layers.recurrent import export_scan
from convrnn.layers.recurrent.fused import core_runs, first_order
from convrnn.layers.recurrent.gpu import dispatch as gpu_dispatch


def _scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """Forward chunked scan without autograd. a, b: (T, *rest); h0: (*rest) → h: (T, *rest)."""
    steps = a.shape[0]
    size = max(1, math.isqrt(steps - 1) + 1) if steps > 1 else 1       # C = ⌈√T⌉
    chunks = -(-steps // size)
    extra = chunks * size - steps
    if extra:
        # Trailing steps with a = 1, b = 0 leave the state as it is; they are cut off below.
        pad = (0, 0) * (a.dim() - 1) + (0, extra)
        a, b = F.pad(a, pad, value=1.0), F.pad(b, pad, value=0.0)
    a = a.reshape(chunks, size, *a.shape[1:])
    b = b.reshape(chunks, size, *b.shape[1:])
    # Written without out= and in-place writes, so that torch.compile captures it whole.
    local = [b[:, 0]]
    for j in range(1, size):
        local.append(torch.addcmul(b[:, j], a[:, j], local[-1]))
    local_all = torch.stack(local, 1)
    decay = a.cumprod(1)
    starts = [h0]
    for k in range(chunks - 1):
        starts.append(torch.addcmul(local_all[k, -1], decay[k, -1], starts[-1]))
    h = torch.addcmul(local_all, decay, torch.stack(starts).unsqueeze(1))
    return h.flatten(0, 1)[:steps]


class _LinearRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
        h = _scan(a, b, h0)
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    @first_order
    def backward(ctx: Any, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a, h, h0 = ctx.saved_tensors
        # g_t = grad_t + a_{t+1} g_{t+1}: the forward scan on reversed time with a shifted by one.
        following = torch.cat([a[1:], torch.zeros_like(a[:1])]).flip(0)
        g = _scan(following, grad_h.flip(0), torch.zeros_like(h0)).flip(0)
        previous = torch.cat([h0.unsqueeze(0), h[:-1]])
        return g * previous, g, a[0] * g[0]


def linear_recurrence(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """All states of h_t = a_t ∘ h_{t−1} + b_t (elementwise), t = 0 … T−1.

    Args:
        a: (T, *S) decay coefficients; b: (T, *S) inputs; h0: (*S) the state before step 0
            (zeros if None).

    Returns:
        h: (T, *S), h_t for every t; h[-1] is the final state.
    """
    where = "linear_recurrence"
    check_tensor("a", a, floating=True, where=where)
    check_tensor("b", b, floating=True, where=where)
    if a.shape != b.shape or a.dim() < 1 or a.shape[0] == 0:
        raise ValueError(f"{where}: arguments 'a' and 'b' expected the same shape (T, *S) with T ≥ 1, "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")
    if h0 is None:
        h0 = a.new_zeros(a.shape[1:])
    elif h0.shape != a.shape[1:]:
        raise ValueError(f"{where}: argument 'h0' expected shape {tuple(a.shape[1:])} (that of one "
                         f"step of a), got {tuple(h0.shape)}")
    a, b, h0 = a.contiguous(), b.contiguous(), h0.contiguous()
    if torch.compiler.is_exporting():
        return export_scan.linear_recurrence(a, b, h0)
    if gpu_dispatch.scan_refusal(a) is None:
        return gpu_dispatch.linear_scan(a, b, h0)
    if core_runs(a):
        return torch.ops.convrnn.linear_scan(a, b, h0)
    return _LinearRecurrence.apply(a, b, h0)
