"""The first-order linear recurrence h_t = a_t ∘ h_{t−1} + b_t as one Triton kernel.

Each program owns ``BLOCK_S`` columns (of the flattened state) and walks time in chunks of
``BLOCK_T`` steps: inside a chunk, ``tl.associative_scan`` with the combine
(a₁, b₁) ∘ (a₂, b₂) = (a₁a₂, b₁a₂ + b₂) gives every step's (Π a, local h) at once; the carried
state h enters as h_t = (Π a)·h + local. Exact like the engine's chunked scan (no logarithms, no
divisions: stable for every a, 0 included); each input read once, each state written once.

``REVERSE`` walks time backwards (t = T − 1 − k), and ``SHIFT`` reads a at t + 1 (0 past the end):
with both, the kernel computes the backward pass's g_t = ∂L/∂h_t + a_{t+1} ∘ g_{t+1}.
Steps past T in the last chunk are the identity (a = 1, b = 0), so the chunk's last row carries.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def combine(a1, b1, a2, b2):
    return a1 * a2, b1 * a2 + b2


@triton.jit
def scan_kernel(A, B, H0, OUT, steps, width, REVERSE: tl.constexpr, SHIFT: tl.constexpr,
                BLOCK_T: tl.constexpr, BLOCK_S: tl.constexpr):
    """A, B, OUT (T, width); H0 (width,) the state before the first processed step, in the
    compute dtype (float32, or float64)."""
    ACC = H0.dtype.element_ty
    cols = tl.program_id(0) * BLOCK_S + tl.arange(0, BLOCK_S)
    valid_cols = cols < width
    h = tl.load(H0 + cols, mask=valid_cols, other=0.0).to(ACC)
    rows = tl.arange(0, BLOCK_T)
    for start in range(0, steps, BLOCK_T):
        k = start + rows
        real = k < steps
        if REVERSE:
            t = steps - 1 - k
        else:
            t = k
        if SHIFT:
            ta = t + 1
            a_ok = real & (ta < steps)
        else:
            ta = t
            a_ok = real
        mask = real[:, None] & valid_cols[None, :]
        a = tl.load(A + ta.to(tl.int64)[:, None] * width + cols[None, :], mask=a_ok[:, None] & valid_cols[None, :],
                    other=0.0).to(ACC)
        a = tl.where(real[:, None], a, 1.0)
        b = tl.load(B + t.to(tl.int64)[:, None] * width + cols[None, :], mask=mask, other=0.0).to(ACC)
        decay, local = tl.associative_scan((a, b), 0, combine)
        states = decay * h[None, :] + local
        tl.store(OUT + t.to(tl.int64)[:, None] * width + cols[None, :], states.to(OUT.dtype.element_ty), mask=mask)
        h = tl.sum(tl.where((rows == BLOCK_T - 1)[:, None], states, 0.0), axis=0)
