"""The engine's loop over time as one ``scan``: what ``torch.export`` and ONNX export see.

A Python loop over T steps is unrolled by the exporters at the example's length (the exported
program then refuses any other T), and the compiled core is an operator no exported program
can run without convrnn. So while ``torch.export`` traces (``torch.compiler.is_exporting()``;
``torch.onnx.export(..., dynamo=True)`` goes through it), every recurrent loop runs as
``torch._higher_order_ops.scan``, which the exporters keep as one loop: an ONNX ``Scan`` whose
size does not depend on T, with T (and N) dynamic. Its step is the cell's own
:meth:`~convrnn.layers.recurrent.cells.Cell.step` — the equations stay in ``cells.py``, the
single source of truth — so the exported numbers are the engine's.

Masking as in ``scan.py``: s_t = m_t ? step(x_t, s_{t−1}) : s_{t−1}, outputs zero at padded steps.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch._higher_order_ops.scan import scan as _scan

from convrnn.layers.recurrent.cells import Cell, State


def run_cell(cell: Cell, xw: Tensor, state: State, mask: Tensor | None = None, *,
             feedback_mask: Tensor | None = None,
             zoneout: Sequence[float | Tensor] | None = None) -> tuple[Tensor, State, State]:
    """``cell`` over projected inputs as one scan.

    xw: (T, N, G) the projections W x_t + b; state: one (N, S_k) tensor per component; mask:
    (T, N) bool, False at padded steps, or None; feedback_mask: (N, S_out) recurrent dropout;
    zoneout: one keep weight per component, a float or a (T, N, S_k) tensor of draws.
    Returns outputs (T, N, O), zero at padded steps, the final state, and every step's state
    (T, N, S_k) per component (frozen, not zeroed, at padded steps).
    """
    index = cell.output_index
    keeps = list(zoneout) if zoneout is not None else None
    drawn = [k for k in keeps if isinstance(k, Tensor)] if keeps is not None else []
    steps: list[Tensor] = [xw]
    if mask is not None:
        steps.append(mask.unsqueeze(-1))
    steps.extend(drawn)

    def step(carry: tuple[Tensor, ...], inputs: list[Tensor]) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        xw_t = inputs[0]
        feedback = carry[index] if feedback_mask is None else carry[index] * feedback_mask
        new = cell.step(xw_t, carry, feedback)
        if keeps is not None:
            draws = iter(inputs[2 if mask is not None else 1:])
            weights = [next(draws) if isinstance(k, Tensor) else k for k in keeps]
            new = tuple(old * k + new_k * (1 - k) for old, new_k, k in zip(carry, new, weights, strict=True))
        if mask is not None:
            new = tuple(torch.where(inputs[1], new_k, old) for new_k, old in zip(new, carry, strict=True))
        # the per-step outputs must not alias the carry
        return tuple(new), tuple(s.clone() for s in new)

    final, every = _scan(_fresh(step), tuple(state), steps)
    outputs = every[index]
    if mask is not None:
        outputs = outputs.masked_fill(~mask.unsqueeze(-1), 0.0)
    return outputs, tuple(final), tuple(every)


def linear_recurrence(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """Every h_t = a_t ∘ h_{t−1} + b_t as one scan. a, b: (T, *S); h0: (*S). Returns h (T, *S)."""

    def step(h: Tensor, inputs: list[Tensor]) -> tuple[Tensor, Tensor]:
        new = inputs[0] * h + inputs[1]
        return new, new.clone()

    _, h = _scan(_fresh(step), h0, [a, b])
    return h


def _fresh(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with a code object of its own. The exporters trace a scan's body with dynamo,
    which keys its cache by code object: an entry left by an earlier export (another model, a
    look-ahead's fixed-length scan) would add a guard that specialises this export's symbolic
    length (seen: "T != 3")."""
    code = function.__code__.replace()
    return types.FunctionType(code, function.__globals__, function.__name__, function.__defaults__,
                              function.__closure__)


__all__ = ["linear_recurrence", "run_cell"]
