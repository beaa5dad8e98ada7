"""The cell kernels as PyTorch operators: ``torch.ops.convrnn_gpu.cell`` and ``cell_backward``.

Registered (``torch.library.custom_op``) when this module is first imported, as the compiled
core's operators are (``core_ops.py``): a fake (shape-only) implementation of each and
``cell_backward`` as ``cell``'s autograd formula. So a layer running on the GPU kernels is one
opaque, differentiable operator per layer and direction: ``torch.compile`` keeps it in its graph
instead of tracing a loop, and AOT autograd sees its backward.

``cell`` takes every tensor a cell's kernels read (an empty tensor for each one the cell does not
have: a one-component cell's second state, an LSTM's peepholes without peepholes, ``lengths``
without lengths, ``drop`` without recurrent dropout) and the description of ``spec.as_tuple``;
it returns seven tensors:

    every0, every1   (slots, rows, S_k) every step's state per component (every1 empty for a
                     one-component cell); slots = T positions (zero where padded), or L + 1
                     window steps with rows = T·N windows for look-ahead
    final0, final1   (rows, S_k) the state after the last step
    saved, normed, rstd   what the backward pass reads (not differentiable)

States and their gradients are float32 (float64 for float64 states); ``xw`` may be bfloat16 or
float16 (autocast), its gradient then comes back in its dtype. First derivatives only, as the
core's (:data:`convrnn.layers.recurrent.core_ops.DERIVATIVES_ONLY`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from convrnn.layers.recurrent.core_ops import DERIVATIVES_ONLY
from convrnn.layers.recurrent.gpu.cells import launch
from convrnn.layers.recurrent.gpu.cells.spec import Spec, from_tuple

Tensors7 = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]
Tensors12 = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]


def _optional(t: Tensor) -> Tensor | None:
    return t if t.numel() else None


def _states(spec: Spec, state0: Tensor, state1: Tensor) -> tuple[Tensor, ...]:
    return (state0, state1) if spec.components == 2 else (state0,)


def _padded(spec: Spec, tensors: tuple[Tensor, ...], like: Tensor) -> tuple[Tensor, Tensor]:
    """Two tensors per component slot: a one-component cell's second one is empty."""
    return (tensors[0], tensors[1]) if spec.components == 2 else (tensors[0], like.new_empty(0))


@torch.library.custom_op("convrnn_gpu::cell", mutates_args=())
def cell(xw: Tensor, state0: Tensor, state1: Tensor, weight_hh: Tensor, bias_hh: Tensor, peephole: Tensor,
         gain: Tensor, shift: Tensor, cell_gain: Tensor, cell_shift: Tensor, weight_ho: Tensor, bias_ho: Tensor,
         lengths: Tensor, drop: Tensor, spec: list[int], zoneout: float, training: bool, seed: int, eps: float,
         reverse: bool, lookahead: int, strategy: str, precision: str) -> Tensors7:
    """Every step of one cell over xw (T, N, G): see the module docstring."""
    description = from_tuple(spec)
    parameters = (weight_hh, bias_hh, peephole, gain, shift, cell_gain, cell_shift, weight_ho, bias_ho)
    results = launch.forward(description, xw, _states(description, state0, state1), parameters, _optional(lengths),
                             _optional(drop), zoneout, training, seed, eps, reverse, lookahead, strategy, precision)
    K = description.components
    every = _padded(description, results[:K], results[0])
    final = _padded(description, results[K:2 * K], results[0])
    return (*every, *final, *results[2 * K:])


@cell.register_fake
def _cell_fake(xw: Tensor, state0: Tensor, state1: Tensor, weight_hh: Tensor, bias_hh: Tensor, peephole: Tensor,
               gain: Tensor, shift: Tensor, cell_gain: Tensor, cell_shift: Tensor, weight_ho: Tensor,
               bias_ho: Tensor, lengths: Tensor, drop: Tensor, spec: list[int], zoneout: float, training: bool,
               seed: int, eps: float, reverse: bool, lookahead: int, strategy: str, precision: str) -> Tensors7:
    description = from_tuple(spec)
    time, batch = xw.shape[0], xw.shape[1]
    windowed = lookahead >= 0
    slots, rows = (lookahead + 1, time * batch) if windowed else (time, batch)
    dtype = launch.compute_dtype(state0)

    def new(*shape: Any) -> Tensor:
        return state0.new_empty(*shape, dtype=dtype)

    sizes = description.state_sizes
    every = tuple(new(slots, rows, s) for s in sizes)
    final = tuple(new(rows, s) for s in sizes)
    zone = launch.zoneout_mode(zoneout, training)
    return (*_padded(description, every, state0), *_padded(description, final, state0),
            new(slots, rows, description.saved_width(zone != 0)), new(slots, rows, description.normed_width),
            new(slots, rows, description.rstd_width))


@torch.library.custom_op("convrnn_gpu::cell_backward", mutates_args=())
def cell_backward(grad_every0: Tensor, grad_every1: Tensor, grad_final0: Tensor, grad_final1: Tensor,
                  every0: Tensor, every1: Tensor, final0: Tensor, final1: Tensor, saved: Tensor, normed: Tensor,
                  rstd: Tensor, state0: Tensor, state1: Tensor, weight_hh: Tensor, bias_hh: Tensor, peephole: Tensor,
                  gain: Tensor, shift: Tensor, cell_gain: Tensor, cell_shift: Tensor, weight_ho: Tensor,
                  bias_ho: Tensor, lengths: Tensor, drop: Tensor, time: int, batch: int, spec: list[int],
                  zoneout: float, training: bool, seed: int, eps: float, reverse: bool, lookahead: int, strategy: str,
                  precision: str) -> Tensors12:
    """∂L/∂ of ``cell``'s inputs from ∂L/∂ of its states (an empty tensor where no loss reads one):
    (∂xw (T, N, G) in the compute dtype, ∂state0, ∂state1, then the nine parameters' gradients;
    an empty tensor for each one the cell does not have)."""
    description = from_tuple(spec)
    K = description.components
    parameters = (weight_hh, bias_hh, peephole, gain, shift, cell_gain, cell_shift, weight_ho, bias_ho)
    results = (*_states(description, every0, every1), *_states(description, final0, final1), saved, normed, rstd)
    grad_every = tuple(_optional(g) for g in _states(description, grad_every0, grad_every1))
    grad_final = tuple(_optional(g) for g in _states(description, grad_final0, grad_final1))
    grads = launch.backward(description, (time, batch), _states(description, state0, state1), parameters,
                            _optional(lengths), _optional(drop), zoneout, training, seed, eps, reverse, lookahead,
                            strategy, precision, results, grad_every, grad_final)
    grad_state = _padded(description, grads[1:1 + K], every0)
    return (grads[0], *grad_state, *(g.contiguous().clone() for g in grads[1 + K:]))


@cell_backward.register_fake
def _cell_backward_fake(grad_every0: Tensor, grad_every1: Tensor, grad_final0: Tensor, grad_final1: Tensor,
                        every0: Tensor, every1: Tensor, final0: Tensor, final1: Tensor, saved: Tensor,
                        normed: Tensor, rstd: Tensor, state0: Tensor, state1: Tensor, weight_hh: Tensor,
                        bias_hh: Tensor, peephole: Tensor, gain: Tensor, shift: Tensor, cell_gain: Tensor,
                        cell_shift: Tensor, weight_ho: Tensor, bias_ho: Tensor, lengths: Tensor, drop: Tensor,
                        time: int, batch: int, spec: list[int], zoneout: float, training: bool, seed: int,
                        eps: float, reverse: bool, lookahead: int, strategy: str, precision: str) -> Tensors12:
    description = from_tuple(spec)
    grad_xw = every0.new_empty(time, batch, description.chunks * description.hidden)
    return (grad_xw, state0.new_empty(state0.shape, dtype=every0.dtype),
            state1.new_empty(state1.shape, dtype=every0.dtype),
            *(p.new_empty(p.shape) for p in (weight_hh, bias_hh, peephole, gain, shift, cell_gain, cell_shift,
                                              weight_ho, bias_ho)))


TENSOR_INPUTS = 14          # xw … drop
SCALAR_NAMES = ("spec", "zoneout", "training", "seed", "eps", "reverse", "lookahead", "strategy", "precision")


def _setup(ctx: Any, inputs: tuple[Any, ...], output: Tensors7) -> None:
    ctx.mark_non_differentiable(*output[4:])
    ctx.set_materialize_grads(False)
    xw = inputs[0]
    ctx.xw_shape, ctx.xw_dtype = tuple(xw.shape[:2]), xw.dtype
    ctx.dtypes = [t.dtype for t in inputs[1:12]]
    ctx.scalars = inputs[TENSOR_INPUTS:]
    ctx.save_for_backward(*inputs[1:TENSOR_INPUTS], *output)


def _gradient(ctx: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
    if torch.is_grad_enabled():
        raise RuntimeError(DERIVATIVES_ONLY)
    saved = ctx.saved_tensors
    inputs, outputs = saved[:TENSOR_INPUTS - 1], saved[TENSOR_INPUTS - 1:]
    given = [g if g is not None else o.new_empty(0) for g, o in zip(grads[:4], outputs[:4], strict=True)]
    result = torch.ops.convrnn_gpu.cell_backward(*given, *outputs, *inputs, *ctx.xw_shape, *ctx.scalars)
    grad_xw = result[0].to(ctx.xw_dtype)
    rest = [g.to(dtype) if g.numel() else None for g, dtype in zip(result[1:], ctx.dtypes, strict=True)]
    return (grad_xw, *rest, None, None, *(None for _ in SCALAR_NAMES))


cell.register_autograd(_gradient, setup_context=_setup)
