"""The naive reference of the linear-scan kernel: one step at a time, h_t = a_t ∘ h_{t−1} + b_t,
in the inputs' dtype, differentiable by autograd."""

from __future__ import annotations

import torch
from torch import Tensor


def linear_recurrence(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """a, b: (T, *S); h0: (*S) → every h_t (T, *S)."""
    h, states = h0, []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0), strict=True):
        h = a_t * h + b_t
        states.append(h)
    return torch.stack(states)
