"""The compiled core's loops as PyTorch operators: ``torch.ops.convrnn.<kind>``.

The core defines each whole-sequence loop as a dispatcher operator with a CPU kernel
(``_compiled/operators.cpp``): a forward operator and a backward operator per cell kind. This
file registers, once the core is loaded (:func:`register`), a fake (shape-only) implementation
of each and the backward operator as the forward's autograd formula. So the core is one opaque,
differentiable operator per layer and direction: eager mode calls it like any aten operator (a
few microseconds of dispatch), ``torch.compile`` — also with ``fullgraph=True`` — keeps it in
its graph instead of tracing a Python loop, and AOT autograd sees its backward.

Forward operators return the cell's states of every step first and then what the backward pass
reads (gate activations, normalised values, their statistics); those extra outputs are not
differentiable. An argument a cell does not use is an empty tensor (an LSTM's peepholes without
peepholes, the input norm's gain, shift and bias where the input is already normalised, a
mask without lengths), and so is a gradient the core does not produce. Letters: T steps,
N sequences, H hidden units, O a Jordan cell's outputs, G the projection's width.

The operators compute first derivatives only: the autograd formula refuses ``create_graph=True``
with a clear error (:data:`DERIVATIVES_ONLY`).

    operator            states (T, N, ·)          then, for the backward pass
    lstm                h, c                       gates (4H)
    layer_norm_lstm     h, c                       gates, r̂ (4H), r rstd (4), ĉ (H), c rstd, x mean, x rstd
    gated (GRU/MGU)     h                          gate (S·H), candidate, gated state
    gated_unit          h                          g, ẑ (2H)   (seed 001's gated unit, GatedCell)
    layer_norm_elman    h                          r̂, r rstd, x mean, x rstd
    layer_norm_gated    h                          gate, candidate, gated state, normalised values, statistics
    layer_norm_gated_unit h                        g, ẑ (2H), r̂ (2H), r rstd (2), x mean, x rstd (GatedCell)
    elman               h
    gru_after           h                          gates (3H), U_n h
    jordan              h, y
    parallel_cells      h, o ∘ h (or empty)
    linear_scan         h
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

# Fixed-arity results (operators declare how many tensors they return).
Tensors6 = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]
Tensors9 = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]
Tensors10 = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]
Tensors13 = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor,
                  Tensor]

DERIVATIVES_ONLY = (
    "convrnn: the compiled recurrent core and the parallel layers' scan compute first derivatives only, and this "
    "backward pass was asked for more (create_graph=True). For second derivatives of an RNN, run it under "
    "convrnn.layers.recurrent.fused.disabled() (its Python engine)")


def _empty(like: Tensor) -> Tensor:
    return like.new_empty(0)


def _given(grad: Tensor | None, like: Tensor) -> Tensor:
    """An incoming gradient as the core reads it: zeros where no loss reads it."""
    return torch.zeros_like(like) if grad is None else grad


def _differentiable(outputs: int, kept: Callable[[tuple[Any, ...]], Sequence[int]],
                    kept_outputs: Sequence[int] | None = None) -> Callable[[Any, tuple[Any, ...], Any], None]:
    """A setup_context saving for the backward pass the inputs at ``kept(inputs)`` (the other
    arguments that are not tensors are kept anyway) and the outputs at ``kept_outputs`` (all by
    default), and marking every output past the first ``outputs`` as not differentiable (they are
    what the backward pass reads). Nothing else stays alive for the backward pass."""
    def setup(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        output = output if isinstance(output, tuple) else (output,)
        ctx.mark_non_differentiable(*output[outputs:])
        ctx.set_materialize_grads(False)
        keep = set(kept(inputs))
        ctx.inputs = tuple(i if not isinstance(i, Tensor) else _KEPT if n in keep else None
                           for n, i in enumerate(inputs))
        ctx.outputs = tuple(range(len(output))) if kept_outputs is None else tuple(kept_outputs)
        saved = [i for n, i in enumerate(inputs) if n in keep and isinstance(i, Tensor)]
        ctx.save_for_backward(*saved, *(output[n] for n in ctx.outputs))
        ctx.count = len(saved)
    return setup


_KEPT = object()   # a saved tensor's place among the inputs


def _saved(ctx: Any) -> tuple[list[Any], list[Tensor | None]]:
    """The forward's inputs and outputs as saved by :func:`_differentiable`, in their places
    (None where not kept)."""
    if torch.is_grad_enabled():
        raise RuntimeError(DERIVATIVES_ONLY)
    saved = ctx.saved_tensors
    tensors = iter(saved[:ctx.count])
    restored = [next(tensors) if i is _KEPT else i for i in ctx.inputs]
    outputs: list[Tensor | None] = [None] * (max(ctx.outputs, default=-1) + 1)
    for n, tensor in zip(ctx.outputs, saved[ctx.count:], strict=True):
        outputs[n] = tensor
    return restored, outputs


def _raw_kept(indices: Sequence[int], raw: int, input_gain: int) -> Callable[[tuple[Any, ...]], Sequence[int]]:
    """Inputs to keep for a layer-normalised cell: ``indices``, and the raw W x (at ``raw``) where
    the core normalised it itself (the input norm's gain at ``input_gain`` given)."""
    return lambda inputs: (*indices, raw) if inputs[input_gain].numel() else tuple(indices)


def _fixed(*indices: int) -> Callable[[tuple[Any, ...]], Sequence[int]]:
    return lambda inputs: indices


def _like(*tensors: Tensor) -> tuple[Tensor, ...]:
    return tuple(t.new_empty(t.shape) for t in tensors)


def _steps(xw: Tensor, h0: Tensor, width: int, count: int = 1) -> tuple[Tensor, ...]:
    """``count`` fresh (T, N, width) tensors for a fake forward."""
    return tuple(h0.new_empty(xw.shape[0], xw.shape[1], width) for _ in range(count))


# --- LSTM (peepholes optional): h_all, c_all (T, N, H); gates (T, N, 4H) -----------------------


def _lstm_fake(xw: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, bias_hh: Tensor, peephole: Tensor,
               mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    H = h0.shape[1]
    return (*_steps(xw, h0, H, 2), xw.new_empty(xw.shape[0], xw.shape[1], 4 * H))


def _lstm_backward_fake(grad_h: Tensor, grad_c: Tensor, h0: Tensor, c0: Tensor, h_all: Tensor, c_all: Tensor,
                        gates: Tensor, weight_hh: Tensor, peephole: Tensor, mask: Tensor) -> Tensors6:
    return (*_like(gates, h0, c0, weight_hh), weight_hh.new_empty(weight_hh.shape[0]), *_like(peephole))


def _lstm_gradient(ctx: Any, grad_h: Tensor | None, grad_c: Tensor | None, *_: Any) -> tuple[Tensor | None, ...]:
    (_, h0, c0, weight_hh, _, peephole, mask), (h_all, c_all, gates) = _saved(ctx)
    grads = torch.ops.convrnn.lstm_backward(_given(grad_h, h_all), _given(grad_c, c_all), h0, c0, h_all, c_all,
                                            gates, weight_hh, peephole, mask)
    return (*grads[:5], grads[5] if peephole.numel() else None, None)


# --- Layer-normalised LSTM: + r_hat (T, N, 4H), r_rstd (T, N, 4), c_hat (T, N, H), c_rstd (T, N),
# x_mean, x_rstd (T, N, 4) where it normalises the raw input itself (input_gain given), else empty.


def _layer_norm_lstm_fake(xw: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, bias_hh: Tensor,
                          peephole: Tensor, gain: Tensor, shift: Tensor, cell_gain: Tensor, cell_shift: Tensor,
                          input_gain: Tensor, input_shift: Tensor, bias_ih: Tensor, mask: Tensor,
                          eps: float) -> Tensors9:
    T, N, H = xw.shape[0], xw.shape[1], h0.shape[1]
    statistics = (h0.new_empty(T, N, 4), h0.new_empty(T, N, 4)) if input_gain.numel() else (_empty(h0), _empty(h0))
    return (*_steps(xw, h0, H, 2), h0.new_empty(T, N, 4 * H), h0.new_empty(T, N, 4 * H), h0.new_empty(T, N, 4),
            h0.new_empty(T, N, H), h0.new_empty(T, N), *statistics)


def _layer_norm_lstm_backward_fake(grad_h: Tensor, grad_c: Tensor, h0: Tensor, c0: Tensor, h_all: Tensor,
                                   c_all: Tensor, gates: Tensor, r_hat: Tensor, r_rstd: Tensor, c_hat: Tensor,
                                   c_rstd: Tensor, weight_hh: Tensor, raw: Tensor, x_mean: Tensor, x_rstd: Tensor,
                                   peephole: Tensor, gain: Tensor, cell_gain: Tensor, cell_shift: Tensor,
                                   input_gain: Tensor, mask: Tensor) -> Tensors13:
    inputs = (*_like(input_gain, input_gain), gain.new_empty(gain.numel())) if input_gain.numel() else \
        (_empty(h0),) * 3
    return (*_like(gates, h0, c0, weight_hh), weight_hh.new_empty(weight_hh.shape[0]), *_like(peephole, gain, gain),
            *_like(cell_gain, cell_shift), *inputs)


def _layer_norm_lstm_gradient(ctx: Any, grad_h: Tensor | None, grad_c: Tensor | None,
                              *_: Any) -> tuple[Tensor | None, ...]:
    inputs, outputs = _saved(ctx)
    xw, h0, c0, weight_hh, _, peephole, gain, _, cell_gain, cell_shift, input_gain, _, _, mask, _ = inputs
    h_all, c_all, gates, r_hat, r_rstd, c_hat, c_rstd, x_mean, x_rstd = outputs
    raw = xw if xw is not None else _empty(h0)   # the raw W x, kept where the core normalised it
    grads = torch.ops.convrnn.layer_norm_lstm_backward(
        _given(grad_h, h_all), _given(grad_c, c_all), h0, c0, h_all, c_all, gates, r_hat, r_rstd, c_hat, c_rstd,
        weight_hh, raw, x_mean, x_rstd, peephole, gain, cell_gain, cell_shift, input_gain, mask)
    given = input_gain.numel() > 0
    return (*grads[:5], grads[5] if peephole.numel() else None, *grads[6:10],
            *(grads[10:13] if given else (None, None, None)), None, None)


# --- GRU with reset before (gru=True) or MGU: h_all (T, N, H); gate (T, N, S·H) with S = 2 or 1;
# candidate, gated state (T, N, H).


def _gated_fake(gru: bool, xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor,
                mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    H = h0.shape[1]
    return (*_steps(xw, h0, H), *_steps(xw, h0, (2 if gru else 1) * H), *_steps(xw, h0, H, 2))


def _gated_backward_fake(gru: bool, grad_h: Tensor, h0: Tensor, h_all: Tensor, gate: Tensor, cand: Tensor,
                         gated: Tensor, weight_hh: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    T, N, H = h_all.shape
    return (h0.new_empty(T, N, gate.shape[2] + H), *_like(h0, weight_hh), weight_hh.new_empty(weight_hh.shape[0]))


def _gated_gradient(ctx: Any, grad_h: Tensor | None, *_: Any) -> tuple[Tensor | None, ...]:
    (gru, _, h0, weight_hh, _, mask), (h_all, gate, cand, gated) = _saved(ctx)
    grads = torch.ops.convrnn.gated_backward(gru, _given(grad_h, h_all), h0, h_all, gate, cand, gated, weight_hh,
                                             mask)
    return (None, *grads, None)


# --- Layer-normalised one-state cells: Elman (relu or tanh) and GRU/MGU (gru). -----------------


def _layer_norm_elman_fake(activation: int, slope: float, xw: Tensor, h0: Tensor, weight_hh: Tensor,
                           bias_hh: Tensor, gain: Tensor, shift: Tensor, input_gain: Tensor, input_shift: Tensor,
                           bias_ih: Tensor, mask: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    T, N, H = xw.shape[0], xw.shape[1], h0.shape[1]
    statistics = (h0.new_empty(T, N, 1), h0.new_empty(T, N, 1)) if input_gain.numel() else (_empty(h0), _empty(h0))
    return (*_steps(xw, h0, H, 2), h0.new_empty(T, N), *statistics)


def _one_state_backward_fake(h0: Tensor, h_all: Tensor, width: int, weight_hh: Tensor, gain: Tensor,
                             input_gain: Tensor) -> tuple[Tensor, ...]:
    T, N, _ = h_all.shape
    inputs = (*_like(input_gain, input_gain), gain.new_empty(gain.numel())) if input_gain.numel() else \
        (_empty(h0),) * 3
    return (h0.new_empty(T, N, width), *_like(h0, weight_hh), weight_hh.new_empty(weight_hh.shape[0]),
            *_like(gain, gain), *inputs)


def _layer_norm_elman_backward_fake(activation: int, slope: float, grad_h: Tensor, h0: Tensor, h_all: Tensor,
                                    r_hat: Tensor, r_rstd: Tensor, raw: Tensor, x_mean: Tensor, x_rstd: Tensor,
                                    weight_hh: Tensor, gain: Tensor, input_gain: Tensor, mask: Tensor) -> Tensors9:
    return _one_state_backward_fake(h0, h_all, h_all.shape[2], weight_hh, gain, input_gain)


def _one_state_gradients(grads: Sequence[Tensor], input_gain: Tensor) -> tuple[Tensor | None, ...]:
    return (*grads[:6], *(grads[6:9] if input_gain.numel() else (None, None, None)), None, None)


def _layer_norm_elman_gradient(ctx: Any, grad_h: Tensor | None, *_: Any) -> tuple[Tensor | None, ...]:
    inputs, (h_all, r_hat, r_rstd, x_mean, x_rstd) = _saved(ctx)
    activation, slope, xw, h0, weight_hh, _, gain, _, input_gain, _, _, mask, _ = inputs
    raw = xw if xw is not None else _empty(h0)   # the raw W x, kept where the core normalised it
    grads = torch.ops.convrnn.layer_norm_elman_backward(activation, slope, _given(grad_h, h_all), h0, h_all, r_hat,
                                                        r_rstd, raw, x_mean, x_rstd, weight_hh, gain, input_gain,
                                                        mask)
    return (None, None, *_one_state_gradients(grads, input_gain))


def _layer_norm_gated_fake(gru: bool, xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor, gain: Tensor,
                           shift: Tensor, input_gain: Tensor, input_shift: Tensor, bias_ih: Tensor, mask: Tensor,
                           eps: float) -> Tensors10:
    T, N, H, S = xw.shape[0], xw.shape[1], h0.shape[1], 2 if gru else 1
    statistics = (h0.new_empty(T, N, S + 1),) * 2 if input_gain.numel() else (_empty(h0), _empty(h0))
    return (h0.new_empty(T, N, H), h0.new_empty(T, N, S * H), h0.new_empty(T, N, H), h0.new_empty(T, N, H),
            h0.new_empty(T, N, S * H), h0.new_empty(T, N, S), h0.new_empty(T, N, H), h0.new_empty(T, N),
            *(s.new_empty(s.shape) for s in statistics))


def _layer_norm_gated_backward_fake(gru: bool, grad_h: Tensor, h0: Tensor, h_all: Tensor, gate: Tensor,
                                    cand: Tensor, gated: Tensor, gate_hat: Tensor, gate_rstd: Tensor,
                                    cand_hat: Tensor, cand_rstd: Tensor, raw: Tensor, x_mean: Tensor,
                                    x_rstd: Tensor, weight_hh: Tensor, gain: Tensor, input_gain: Tensor,
                                    mask: Tensor) -> Tensors9:
    return _one_state_backward_fake(h0, h_all, gate.shape[2] + h_all.shape[2], weight_hh, gain, input_gain)


def _layer_norm_gated_gradient(ctx: Any, grad_h: Tensor | None, *_: Any) -> tuple[Tensor | None, ...]:
    inputs, outputs = _saved(ctx)
    gru, xw, h0, weight_hh, _, gain, _, input_gain, _, _, mask, _ = inputs
    h_all, gate, cand, gated_state, gate_hat, gate_rstd, cand_hat, cand_rstd, x_mean, x_rstd = outputs
    raw = xw if xw is not None else _empty(h0)   # the raw W x, kept where the core normalised it
    grads = torch.ops.convrnn.layer_norm_gated_backward(gru, _given(grad_h, h_all), h0, h_all, gate, cand,
                                                        gated_state, gate_hat, gate_rstd, cand_hat, cand_rstd, raw,
                                                        x_mean, x_rstd, weight_hh, gain, input_gain, mask)
    return (None, *_one_state_gradients(grads, input_gain))


# --- Seed 001's gated unit under layer norm: h_all (T, N, H); gates (T, N, 2H) holding g and ẑ;
# r_hat (T, N, 2H), r_rstd (T, N, 2); x_mean, x_rstd (T, N, 2) where it normalises the raw input itself.


def _layer_norm_gated_unit_fake(xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor, gain: Tensor,
                                shift: Tensor, input_gain: Tensor, input_shift: Tensor, bias_ih: Tensor, mask: Tensor,
                                eps: float) -> Tensors6:
    T, N, H = xw.shape[0], xw.shape[1], h0.shape[1]
    statistics = (h0.new_empty(T, N, 2), h0.new_empty(T, N, 2)) if input_gain.numel() else (_empty(h0), _empty(h0))
    return (h0.new_empty(T, N, H), *_steps(xw, h0, 2 * H, 2), h0.new_empty(T, N, 2), *statistics)


def _layer_norm_gated_unit_backward_fake(grad_h: Tensor, h0: Tensor, h_all: Tensor, gates: Tensor, r_hat: Tensor,
                                         r_rstd: Tensor, raw: Tensor, x_mean: Tensor, x_rstd: Tensor,
                                         weight_hh: Tensor, gain: Tensor, input_gain: Tensor,
                                         mask: Tensor) -> Tensors9:
    return _one_state_backward_fake(h0, h_all, gates.shape[2], weight_hh, gain, input_gain)


def _layer_norm_gated_unit_gradient(ctx: Any, grad_h: Tensor | None, *_: Any) -> tuple[Tensor | None, ...]:
    inputs, (h_all, gates, r_hat, r_rstd, x_mean, x_rstd) = _saved(ctx)
    xw, h0, weight_hh, _, gain, _, input_gain, _, _, mask, _ = inputs
    raw = xw if xw is not None else _empty(h0)   # the raw W x, kept where the core normalised it
    grads = torch.ops.convrnn.layer_norm_gated_unit_backward(_given(grad_h, h_all), h0, h_all, gates, r_hat, r_rstd,
                                                             raw, x_mean, x_rstd, weight_hh, gain, input_gain, mask)
    return _one_state_gradients(grads, input_gain)


# --- Elman (activation: the index of ElmanCell.nonlinearities; slope: the leaky ReLU's):
# h_all (T, N, H). --------------------------------------------------------------------------------


def _elman_fake(activation: int, slope: float, xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor,
                mask: Tensor) -> Tensor:
    return _steps(xw, h0, h0.shape[1])[0]


def _elman_backward_fake(activation: int, slope: float, grad_h: Tensor, h0: Tensor, h_all: Tensor,
                         weight_hh: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return (*_like(h_all, h0, weight_hh), weight_hh.new_empty(weight_hh.shape[0]))


def _elman_gradient(ctx: Any, grad_h: Tensor | None) -> tuple[Tensor | None, ...]:
    (activation, slope, _, h0, weight_hh, _, mask), (h_all,) = _saved(ctx)
    grads = torch.ops.convrnn.elman_backward(activation, slope, _given(grad_h, h_all), h0, h_all, weight_hh, mask)
    return (None, None, *grads, None)


# --- Seed 001's gated unit (GatedCell): h_all (T, N, H); gates (T, N, 2H) holding g and ẑ. --------


def _gated_unit_fake(xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor,
                     mask: Tensor) -> tuple[Tensor, Tensor]:
    return (*_steps(xw, h0, h0.shape[1]), *_steps(xw, h0, 2 * h0.shape[1]))


def _gated_unit_backward_fake(grad_h: Tensor, h0: Tensor, h_all: Tensor, gates: Tensor, weight_hh: Tensor,
                              mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return (*_like(gates, h0, weight_hh), weight_hh.new_empty(weight_hh.shape[0]))


def _gated_unit_gradient(ctx: Any, grad_h: Tensor | None, *_: Any) -> tuple[Tensor | None, ...]:
    (_, h0, weight_hh, _, mask), (h_all, gates) = _saved(ctx)
    grads = torch.ops.convrnn.gated_unit_backward(_given(grad_h, h_all), h0, h_all, gates, weight_hh, mask)
    return (*grads, None)


# --- torch.nn.GRU's cell (reset after the product): h_all (T, N, H), gates (T, N, 3H), U_n h (T, N, H).


def _gru_after_fake(xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor,
                    mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    H = h0.shape[1]
    return (*_steps(xw, h0, H), *_steps(xw, h0, 3 * H), *_steps(xw, h0, H))


def _gru_after_backward_fake(grad_h: Tensor, h0: Tensor, h_all: Tensor, gates: Tensor, recurrent: Tensor,
                             weight_hh: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return (*_like(gates, h0, weight_hh), weight_hh.new_empty(weight_hh.shape[0]))


def _gru_after_gradient(ctx: Any, grad_h: Tensor | None, *_: Any) -> tuple[Tensor | None, ...]:
    (_, h0, weight_hh, _, mask), (h_all, gates, recurrent) = _saved(ctx)
    grads = torch.ops.convrnn.gru_after_backward(_given(grad_h, h_all), h0, h_all, gates, recurrent, weight_hh, mask)
    return (*grads, None)


# --- Jordan: h_all (T, N, H), y_all (T, N, O). ---------------------------------------------------


def _jordan_fake(relu: bool, decision: int, xw: Tensor, h0: Tensor, y0: Tensor, weight_hh: Tensor,
                 weight_ho: Tensor, bias_ho: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    return (*_steps(xw, h0, h0.shape[1]), *_steps(xw, y0, y0.shape[1]))


def _jordan_backward_fake(relu: bool, decision: int, grad_h: Tensor, grad_y: Tensor, y0: Tensor, h_all: Tensor,
                          y_all: Tensor, weight_hh: Tensor, weight_ho: Tensor, mask: Tensor) -> Tensors6:
    N, H = h_all.shape[1], h_all.shape[2]
    return (h_all.new_empty(h_all.shape), h_all.new_empty(N, H), *_like(y0, weight_hh, weight_ho),
            weight_ho.new_empty(weight_ho.shape[0]))


def _jordan_gradient(ctx: Any, grad_h: Tensor | None, grad_y: Tensor | None) -> tuple[Tensor | None, ...]:
    (relu, decision, _, _, y0, weight_hh, weight_ho, _, mask), (h_all, y_all) = _saved(ctx)
    grads = torch.ops.convrnn.jordan_backward(relu, decision, _given(grad_h, h_all), _given(grad_y, y_all), y0, h_all,
                                              y_all, weight_hh, weight_ho, mask)
    return (None, None, *grads, None)


# --- Parallel-in-time layers (kind: MinGRU 0, MinLSTM 1, QRNN f 2, fo 3, ifo 4): h (T, N, H) and the
# outputs o ∘ h (T, N, H) where the kind has an output gate (else an empty tensor), laid out like P.


def _laid_out_like(P: Tensor, width: int) -> Tensor:
    """A fresh (T, N, width) tensor batch-major where P is a transposed (N, T, ·) tensor, as the
    core lays out its results."""
    if P.shape[0] > 1 and P.transpose(0, 1).is_contiguous():
        return P.new_empty(P.shape[1], P.shape[0], width).transpose(0, 1)
    return P.new_empty(P.shape[0], P.shape[1], width)


def _has_output_gate(kind: int) -> bool:
    return kind in (3, 4)


def _parallel_cells_fake(kind: int, P: Tensor, h0: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    H = h0.shape[1]
    return _laid_out_like(P, H), _laid_out_like(P, H) if _has_output_gate(kind) else _empty(P)


def _parallel_cells_backward_fake(kind: int, grad_h: Tensor, grad_out: Tensor, P: Tensor, h: Tensor, h0: Tensor,
                                  mask: Tensor) -> tuple[Tensor, Tensor]:
    return _laid_out_like(P, P.shape[2]), h0.new_empty(h0.shape)


def _parallel_cells_gradient(ctx: Any, grad_h: Tensor | None, grad_out: Tensor | None) -> tuple[Tensor | None, ...]:
    (kind, P, h0, mask), (h,) = _saved(ctx)
    # An unread gradient is empty: the core reads it as zeros without a tensor of them; a
    # broadcast one (the gradient of a sum) is read in place.
    given_h = _empty(P) if grad_h is None else rows(grad_h, P)
    given_out = _empty(P) if grad_out is None or not _has_output_gate(kind) else rows(grad_out, P)
    grad_p, grad_h0 = torch.ops.convrnn.parallel_cells_backward(kind, given_h, given_out, P, h, h0, mask)
    return None, grad_p, grad_h0, None


def rows(tensor: Tensor, like: Tensor) -> Tensor:
    """A (T, N, ·) tensor as the core reads it: unit stride in its last dimension and any strides
    (0 included) in the first two. A broadcast scalar (the gradient of ``sum()``) becomes one real
    row read again at every (t, n)."""
    if tensor.shape[-1] > 1 and tensor.stride(-1) == 0 and tensor.stride(0) == 0 and tensor.stride(1) == 0:
        return tensor[:1, :1].contiguous().expand(tensor.shape)
    if tensor.shape[-1] == 1 or tensor.stride(-1) == 1:
        return tensor
    return tensor.contiguous()


# --- Linear recurrence h_t = a_t ∘ h_{t−1} + b_t over (T, …): h like b. --------------------------


def _linear_scan_fake(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    return b.new_empty(b.shape)


def _linear_scan_backward_fake(grad_h: Tensor, a: Tensor, h: Tensor, h0: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return _like(a, a, h0)


def _linear_scan_gradient(ctx: Any, grad_h: Tensor | None) -> tuple[Tensor | None, ...]:
    (a, _, h0), (h,) = _saved(ctx)
    return torch.ops.convrnn.linear_scan_backward(_given(grad_h, h), a, h, h0)


# name → (fake, backward's fake, autograd formula, its setup_context: what the backward pass keeps)
OPERATORS: dict[str, tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], Callable[..., Any]]] = {
    "lstm": (_lstm_fake, _lstm_backward_fake, _lstm_gradient, _differentiable(2, _fixed(1, 2, 3, 5, 6))),
    "layer_norm_lstm": (_layer_norm_lstm_fake, _layer_norm_lstm_backward_fake, _layer_norm_lstm_gradient,
                        _differentiable(2, _raw_kept((1, 2, 3, 5, 6, 8, 9, 10, 13), 0, 10))),
    "gated": (_gated_fake, _gated_backward_fake, _gated_gradient, _differentiable(1, _fixed(2, 3, 5))),
    "layer_norm_elman": (_layer_norm_elman_fake, _layer_norm_elman_backward_fake, _layer_norm_elman_gradient,
                         _differentiable(1, _raw_kept((3, 4, 6, 8, 11), 2, 8))),
    "layer_norm_gated": (_layer_norm_gated_fake, _layer_norm_gated_backward_fake, _layer_norm_gated_gradient,
                         _differentiable(1, _raw_kept((2, 3, 5, 7, 10), 1, 7))),
    "layer_norm_gated_unit": (_layer_norm_gated_unit_fake, _layer_norm_gated_unit_backward_fake,
                              _layer_norm_gated_unit_gradient, _differentiable(1, _raw_kept((1, 2, 4, 6, 9), 0, 6))),
    "elman": (_elman_fake, _elman_backward_fake, _elman_gradient, _differentiable(1, _fixed(3, 4, 6))),
    "gated_unit": (_gated_unit_fake, _gated_unit_backward_fake, _gated_unit_gradient,
                   _differentiable(1, _fixed(1, 2, 4))),
    "gru_after": (_gru_after_fake, _gru_after_backward_fake, _gru_after_gradient, _differentiable(1, _fixed(1, 2, 4))),
    "jordan": (_jordan_fake, _jordan_backward_fake, _jordan_gradient, _differentiable(2, _fixed(4, 5, 6, 8))),
    "parallel_cells": (_parallel_cells_fake, _parallel_cells_backward_fake, _parallel_cells_gradient,
                       _differentiable(2, _fixed(1, 2, 3), kept_outputs=(0,))),
    "linear_scan": (_linear_scan_fake, _linear_scan_backward_fake, _linear_scan_gradient,
                    _differentiable(1, _fixed(0, 2))),
}

_registered: list[str] = []


def register() -> None:
    """Register every operator's fake implementation and autograd formula (once; the compiled
    core, which defines the operators, must be loaded)."""
    if _registered:
        return
    for name, (fake, backward_fake, gradient, setup) in OPERATORS.items():
        torch.library.register_fake(f"convrnn::{name}")(fake)
        torch.library.register_fake(f"convrnn::{name}_backward")(backward_fake)
        torch.library.register_autograd(f"convrnn::{name}", gradient, setup_context=setup)
        _registered.append(name)

__all__ = ["DERIVATIVES_ONLY", "OPERATORS", "register", "rows"]
