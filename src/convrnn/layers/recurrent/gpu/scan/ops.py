"""The linear recurrence's Triton kernel as PyTorch operators: ``torch.ops.convrnn_gpu.linear_scan``
and ``linear_scan_backward`` (registered on first import, as ``cells/ops.py``).

    linear_scan(a, b, h0) → h          a, b, h: (T, *S); h0: (*S); h_t = a_t ∘ h_{t−1} + b_t
    linear_scan_backward(grad_h, a, h, h0) → (∂a, ∂b, ∂h0)
        g_t = ∂L/∂h_t + a_{t+1} ∘ g_{t+1} (the kernel run backwards, a shifted by one);
        ∂b_t = g_t, ∂a_t = g_t ∘ h_{t−1}, ∂h0 = a_0 ∘ g_0

Computed in float32 (float64 for float64 inputs), results in the inputs' dtype. First derivatives
only, as the core's operators (``core_ops.DERIVATIVES_ONLY``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from convrnn.layers.recurrent.core_ops import DERIVATIVES_ONLY

BLOCK_T = 16
BLOCK_S = 32


def _run(a: Tensor, b: Tensor, h0: Tensor, reverse: bool, shift: bool, dtype: torch.dtype) -> Tensor:
    from convrnn.layers.recurrent.gpu.scan.kernel import scan_kernel

    steps = a.shape[0]
    width = a[0].numel()
    compute = torch.float64 if a.dtype == torch.float64 else torch.float32
    out = torch.empty(a.shape, dtype=dtype, device=a.device)
    start = h0.reshape(width).to(compute).contiguous()
    if width:
        scan_kernel[(-(-width // BLOCK_S),)](a.contiguous(), b.contiguous(), start, out, steps, width,
                                             REVERSE=reverse, SHIFT=shift, BLOCK_T=BLOCK_T, BLOCK_S=BLOCK_S)
    return out


@torch.library.custom_op("convrnn_gpu::linear_scan", mutates_args=())
def linear_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """Every h_t of h_t = a_t ∘ h_{t−1} + b_t: see the module docstring."""
    return _run(a, b, h0, reverse=False, shift=False, dtype=b.dtype)


@linear_scan.register_fake
def _linear_scan_fake(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    return b.new_empty(b.shape)


@torch.library.custom_op("convrnn_gpu::linear_scan_backward", mutates_args=())
def linear_scan_backward(grad_h: Tensor, a: Tensor, h: Tensor, h0: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(∂L/∂a, ∂L/∂b, ∂L/∂h0) from ∂L/∂h: see the module docstring."""
    g = _run(a, grad_h, torch.zeros_like(h0), reverse=True, shift=True, dtype=grad_h.dtype)
    previous = torch.cat([h0.unsqueeze(0).to(h.dtype), h[:-1]])
    return (g * previous).to(a.dtype), g.clone(), (a[0] * g[0]).to(h0.dtype)


@linear_scan_backward.register_fake
def _linear_scan_backward_fake(grad_h: Tensor, a: Tensor, h: Tensor, h0: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return a.new_empty(a.shape), grad_h.new_empty(grad_h.shape), h0.new_empty(h0.shape)


def _setup(ctx: Any, inputs: tuple[Tensor, Tensor, Tensor], output: Tensor) -> None:
    a, b, h0 = inputs
    ctx.b_dtype = b.dtype
    ctx.save_for_backward(a, output, h0)


def _gradient(ctx: Any, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    if torch.is_grad_enabled():
        raise RuntimeError(DERIVATIVES_ONLY)
    a, h, h0 = ctx.saved_tensors
    grad_a, grad_b, grad_h0 = torch.ops.convrnn_gpu.linear_scan_backward(grad_h.contiguous(), a, h, h0)
    return grad_a, grad_b.to(ctx.b_dtype), grad_h0


linear_scan.register_autograd(_gradient, setup_context=_setup)
