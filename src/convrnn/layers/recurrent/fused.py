"""The compiled core: whole-sequence forward and backward loops of the common cells in C++.

The Python engine (``scan.py``) spends most of a small model's time in per-step Python and
autograd bookkeeping. For the cells below, :func:`run_fused` instead runs the whole sequence in
one C++ call (``_compiled/*.cpp``) under one autograd Function whose backward is a
hand-written loop backwards in time:

- forward: per step one or two matrix products plus one fused pass of pointwise code, saving
  every gate's activation;
- backward: per step the same, walking t = T−1 … 0; the recurrent weights' gradients are one
  matrix product over all steps at the end, e.g. ∂L/∂U = Σ_t δ_tᵀ h_{t−1} = Δᵀ H_prev with
  Δ (T·N, G·H) every step's gate gradient and H_prev (T·N, H) every previous state.

Threads share a loop either by sequences (each runs every step of its own block of the batch,
no synchronisation between steps; where the weights fit in a core's level-2 cache) or by steps
(each step's product split by columns); :func:`work_split` overrides the choice,
:func:`step_products` the way a step's product is computed. The input bias (and input layer
norm) is applied by the core's row pass on the raw W x (:func:`takes_raw_input`). Temporaries
of a backward pass are kept per thread between calls (the largest one so far, up to 64 MiB
each), so that no call pays the page faults of fresh memory for them.

Which cells (:func:`fused_kind`): ``LSTMCell`` (with or without peepholes), ``GRUCell`` with
``reset="before"`` (seed 002's GRU), ``MGUCell`` and ``ElmanCell``, each with or without layer
norm, ``GRUCell`` with ``reset="after"`` (torch.nn.GRU's; ``_compiled/gru_after.cpp``) and
``JordanCell`` without it (every nonlinearity and decision function); those classes or subclasses
that keep their equations, and no ``step`` set on the instance (``cells.equations``); no LSTM
with ``proj_size``. The engine falls back
to its Python loop — same results — for every other cell, for recurrent dropout in training and
zoneout, for ``scan(keep_states=True)`` (whose per-step states are graph nodes), on devices other
than the CPU, for dtypes other than float32/float64, under tracing (``torch.jit``, ONNX export,
``torch.compile``), where no C++ compiler is present, and inside :func:`disabled`. The pointwise
code is exact over the whole float range (``_compiled/pointwise_math.h``): saturated gates give
torch's limits, infinities and NaN propagate as in the engine.
The backward pass is not itself differentiable: for gradients of gradients (a gradient penalty)
run the model inside :func:`disabled`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from convrnn.functional._checks import is_tracing
from convrnn.layers.recurrent._compiled import load
from convrnn.layers.recurrent.cells import Cell, ElmanCell, GRUCell, JordanCell, LSTMCell, MGUCell, State, equations

_switch = {"enabled": True}


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Run every cell on the pure-PyTorch engine inside this block (for tests and comparisons)."""
    before = _switch["enabled"]
    _switch["enabled"] = False
    try:
        yield
    finally:
        _switch["enabled"] = before


def step_products(strategy: str) -> None:
    """How the compiled core multiplies by a recurrent matrix at each step: "panels" (float32,
    where the core was built with AVX2 and FMA: its own kernel over the matrix packed once per
    call, ``_compiled/panel_product.h``, the output columns split across torch's threads; loops of
    8 steps or more), "split" (the output columns split across torch's threads, one
    single-threaded BLAS call each), "blas" (one call, threaded by BLAS), "packed" (MKL's packed
    product, float32) or "auto" (the default: "panels" where built, else "split"). For
    comparisons; all give the same results up to rounding."""
    core = load()
    panels = 3 if core is not None and core.has_panels() else 2
    _set_core_option("step_products", "strategy", strategy,
                     {"blas": 0, "packed": 1, "split": 2, "panels": panels, "auto": panels})


def work_split(split: str) -> None:
    """How the compiled core's loops through time share their work among torch's threads:
    "sequences" (each thread runs every step of its own block of the batch's sequences, which
    are independent, with no synchronisation between steps), "steps" (each step's matrix product
    split by columns and its pointwise code by rows, the threads joined at every step) or "auto"
    (default: by sequences where each thread gets at least four and the recurrent weights fit in
    7/8 of a core's level-2 cache, which each thread then reads at every step). For comparisons;
    all give the same results up to rounding."""
    _set_core_option("work_split", "split", split, {"auto": 0, "sequences": 1, "steps": 2})


def _set_core_option(option: str, argument: str, value: str, choices: dict[str, int]) -> None:
    """Hands the compiled core ``choices[value]`` through its ``set_<option>``; a clear error for
    a value not in ``choices``; nothing where the core is not built."""
    if value not in choices:
        raise ValueError(f"{option}: argument '{argument}' expected one of {sorted(choices)}, got {value!r}")
    core = load()
    if core is not None:
        getattr(core, f"set_{option}")(choices[value])


def first_order(backward: Callable[..., Any]) -> Callable[..., Any]:
    """A custom Function's backward pass that computes first derivatives only: torch's
    ``once_differentiable``, plus a clear error where more is asked for. ``create_graph=True``
    runs backward passes with gradients on. ``once_differentiable`` alone raises only where an
    incoming gradient itself needs a gradient, so a loss linear in the outputs (``out.sum()``)
    would get second derivatives with this Function's terms silently missing."""
    inner = once_differentiable(backward)

    @functools.wraps(backward)
    def checked(ctx: Any, *grads: Any) -> Any:
        if torch.is_grad_enabled():
            raise RuntimeError(
                "convrnn: the compiled recurrent core and the parallel layers' scan compute first "
                "derivatives only, and this backward pass was asked for more (create_graph=True). "
                "For second derivatives of an RNN, run it under "
                "convrnn.layers.recurrent.fused.disabled() (its Python engine)")
        return inner(ctx, *grads)

    return checked


def fused_kind(cell: Cell) -> str | None:
    """"lstm", "gru", "mgu", "elman_tanh", "elman_relu" (each with a "layer_norm_" prefix under
    layer norm), "gru_after" (torch.nn.GRU's cell, without layer norm) or "jordan" if the compiled
    core runs ``cell`` (whose :func:`~convrnn.layers.recurrent.cells.equations` must be a library
    cell's; an LSTM with ``proj_size`` runs on the engine)."""
    base = equations(cell)
    kind = None
    if base is LSTMCell and not cell.proj_size:
        kind = "lstm"
    elif base is GRUCell and cell.reset == "before":
        kind = "gru"
    elif base is GRUCell and not cell.layer_norm:
        return "gru_after"
    elif base is MGUCell:
        kind = "mgu"
    elif base is ElmanCell:
        kind = "elman_" + cell.nonlinearity
    elif base is JordanCell and not cell.layer_norm:
        return "jordan"
    if kind is None or not cell.layer_norm:
        return kind
    return "layer_norm_" + kind


def available() -> bool:
    """Whether the compiled core is built (building it on the first call)."""
    return load() is not None


def core_for(tensor: Tensor) -> ModuleType | None:
    """The compiled module if it may run on ``tensor`` (CPU, float32/float64, not tracing, not
    :func:`disabled`), else None."""
    if (not _switch["enabled"] or tensor.device.type != "cpu" or tensor.dtype not in (torch.float32, torch.float64)
            or is_tracing()):
        return None
    return load()


def _empty(like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    return like.new_empty(0, dtype=dtype)


class _LSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, xw: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, bias_hh: Tensor,
                peephole: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        h_all, c_all, gates = load().lstm_forward(xw, h0, c0, weight_hh, bias_hh, peephole, mask, False)
        ctx.save_for_backward(h0, c0, h_all, c_all, gates, weight_hh, peephole, mask)
        return h_all, c_all

    @staticmethod
    @first_order
    def backward(ctx: Any, grad_h: Tensor, grad_c: Tensor) -> tuple[Tensor | None, ...]:
        h0, c0, h_all, c_all, gates, weight_hh, peephole, mask = ctx.saved_tensors
        grads = load().lstm_backward(grad_h.contiguous(), grad_c.contiguous(), h0, c0, h_all, c_all,
                                     gates, weight_hh, peephole, mask)
        d_xw, d_h0, d_c0, d_weight, d_bias, d_peephole = grads
        return d_xw, d_h0, d_c0, d_weight, d_bias, d_peephole if peephole.numel() else None, None


class _LayerNormLSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, eps: float, xw: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, bias_hh: Tensor,
                peephole: Tensor, gain: Tensor, shift: Tensor, cell_gain: Tensor, cell_shift: Tensor,
                input_gain: Tensor, input_shift: Tensor, bias_ih: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        h_all, c_all, *saved, x_mean, x_rstd = load().layer_norm_lstm_forward(
            xw, h0, c0, weight_hh, bias_hh, peephole, gain, shift, cell_gain, cell_shift, input_gain, input_shift,
            bias_ih, mask, eps, False)
        # the raw W x with its rows' statistics (not a normalised copy); nothing without raw input
        raw = xw if input_gain.numel() else _empty(xw)
        ctx.save_for_backward(h0, c0, h_all, c_all, *saved, weight_hh, raw, x_mean, x_rstd, peephole, gain,
                              cell_gain, cell_shift, input_gain, mask)
        return h_all, c_all

    @staticmethod
    @first_order
    def backward(ctx: Any, grad_h: Tensor, grad_c: Tensor) -> tuple[Tensor | None, ...]:
        d_xw, d_h0, d_c0, d_weight, d_bias, d_peephole, *d_norms = load().layer_norm_lstm_backward(
            grad_h.contiguous(), grad_c.contiguous(), *ctx.saved_tensors)
        peephole = ctx.saved_tensors[13]
        d_input = tuple(d_norms[4:]) if len(d_norms) > 4 else (None, None, None)
        return (None, d_xw, d_h0, d_c0, d_weight, d_bias, d_peephole if peephole.numel() else None,
                *d_norms[:4], *d_input, None)


class _LayerNormOneState(torch.autograd.Function):
    """The layer-normalised cells whose state is h alone: ``family`` "gated" (GRU with reset
    before if ``flag``, else MGU) or "elman" (ReLU if ``flag``, else tanh); the core's
    ``layer_norm_<family>_forward``/``_backward`` take the same arguments."""

    @staticmethod
    def forward(ctx: Any, family: str, flag: bool, eps: float, xw: Tensor, h0: Tensor, weight_hh: Tensor,
                bias_hh: Tensor, gain: Tensor, shift: Tensor, input_gain: Tensor, input_shift: Tensor,
                bias_ih: Tensor, mask: Tensor) -> Tensor:
        overwrite = (False,) if family == "gated" else ()
        h_all, *saved = getattr(load(), f"layer_norm_{family}_forward")(
            flag, xw, h0, weight_hh, bias_hh, gain, shift, input_gain, input_shift, bias_ih, mask, eps, *overwrite)
        ctx.family, ctx.flag = family, flag
        *kept, x_mean, x_rstd = saved  # the raw W x is saved with its rows' statistics (if raw)
        raw = xw if input_gain.numel() else _empty(xw)
        ctx.save_for_backward(h0, h_all, *kept, raw, x_mean, x_rstd, weight_hh, gain, input_gain, mask)
        return h_all

    @staticmethod
    @first_order
    def backward(ctx: Any, grad_h: Tensor) -> tuple[Tensor | None, ...]:
        grads = getattr(load(), f"layer_norm_{ctx.family}_backward")(ctx.flag, grad_h.contiguous(),
                                                                      *ctx.saved_tensors)
        return None, None, None, *_with_input_grads(grads), None


def _with_input_grads(grads: list[Tensor]) -> tuple[Tensor | None, ...]:
    """The core's six gradients (x, h0, U, b_U, gain, shift), then those of the input norm's gain,
    shift and b_W where it applied the input norm (raw input), else None for them."""
    return (*grads, None, None, None) if len(grads) == 6 else tuple(grads)


class _Jordan(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, relu: bool, decision: int, xw: Tensor, h0: Tensor, y0: Tensor, weight_hh: Tensor,
                weight_ho: Tensor, bias_ho: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        h_all, y_all = load().jordan_forward(relu, decision, xw, h0, y0, weight_hh, weight_ho, bias_ho, mask)
        ctx.relu, ctx.decision = relu, decision
        ctx.save_for_backward(y0, h_all, y_all, weight_hh, weight_ho, mask)
        return h_all, y_all

    @staticmethod
    @first_order
    def backward(ctx: Any, grad_h: Tensor, grad_y: Tensor) -> tuple[Tensor | None, ...]:
        d_xw, d_h0, d_y0, d_weight_hh, d_weight_ho, d_bias_ho = load().jordan_backward(
            ctx.relu, ctx.decision, grad_h.contiguous(), grad_y.contiguous(), *ctx.saved_tensors)
        return None, None, d_xw, d_h0, d_y0, d_weight_hh, d_weight_ho, d_bias_ho, None


class _Gated(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, gru: bool, xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor,
                mask: Tensor) -> Tensor:
        h_all, gate, candidate, gated = load().gated_forward(gru, xw, h0, weight_hh, bias_hh, mask)
        ctx.gru = gru
        ctx.save_for_backward(h0, h_all, gate, candidate, gated, weight_hh, mask)
        return h_all

    @staticmethod
    @first_order
    def backward(ctx: Any, grad_h: Tensor) -> tuple[Tensor | None, ...]:
        h0, h_all, gate, candidate, gated, weight_hh, mask = ctx.saved_tensors
        d_xw, d_h0, d_weight, d_bias = load().gated_backward(ctx.gru, grad_h.contiguous(), h0, h_all, gate,
                                                             candidate, gated, weight_hh, mask)
        return None, d_xw, d_h0, d_weight, d_bias, None


class _GRUAfter(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor, mask: Tensor) -> Tensor:
        h_all, gates, recurrent = load().gru_after_forward(xw, h0, weight_hh, bias_hh, mask)
        ctx.save_for_backward(h0, h_all, gates, recurrent, weight_hh, mask)
        return h_all

    @staticmethod
    @first_order
    def backward(ctx: Any, grad_h: Tensor) -> tuple[Tensor | None, ...]:
        h0, h_all, gates, recurrent, weight_hh, mask = ctx.saved_tensors
        grads = load().gru_after_backward(grad_h.contiguous(), h0, h_all, gates, recurrent, weight_hh, mask)
        return (*grads, None)


class _Elman(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, relu: bool, xw: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor,
                mask: Tensor) -> Tensor:
        (h_all,) = load().elman_forward(relu, xw, h0, weight_hh, bias_hh, mask)
        ctx.relu = relu
        ctx.save_for_backward(h0, h_all, weight_hh, mask)
        return h_all

    @staticmethod
    @first_order
    def backward(ctx: Any, grad_h: Tensor) -> tuple[Tensor | None, ...]:
        h0, h_all, weight_hh, mask = ctx.saved_tensors
        d_xw, d_h0, d_weight, d_bias = load().elman_backward(ctx.relu, grad_h.contiguous(), h0, h_all,
                                                             weight_hh, mask)
        return None, d_xw, d_h0, d_weight, d_bias, None


# The kinds whose input bias the core does not add itself (Jordan's; torch.nn.GRU's, whose input bias
# stays outside the reset gate's product): they take W x + b, never raw_input.
_BIASED_INPUT = {"jordan": "JordanCell", "gru_after": "torch.nn.GRU's cell (GRUCell with reset=\"after\")"}


def takes_raw_input(cell: Cell, like: Tensor) -> bool:
    """Whether the compiled core will finish ``cell``'s input projection itself (a cell it runs,
    other than those of ``_BIASED_INPUT``, on a tensor like ``like``): then the engine hands it W x
    (``run_fused(raw_input=True)``) instead of :meth:`Cell.project`'s W x + b or LN(W x) + b. The
    core adds b with b_U in its row pass (the product skips writing the broadcast bias and
    reading it back), and applies the input layer norm in one pass where the cell has one."""
    kind = fused_kind(cell)
    return kind is not None and kind not in _BIASED_INPUT and core_for(like) is not None



def _may_overwrite(consume: bool, xw: Tensor, state: State, cell: Cell) -> bool:
    """Whether the core may compute in xw's memory and keep nothing for a backward pass: xw is
    the caller's temporary (``consume``) and no gradient is wanted."""
    return consume and not (torch.is_grad_enabled() and any(
        t.requires_grad for t in (xw, *state, *cell.parameters())))


def run_fused(cell: Cell, xw: Tensor, state: State, mask: Tensor | None = None, *,
              consume: bool = False, raw_input: bool = False) -> State | None:
    """Every step's state of ``cell`` over projected inputs, on the compiled core; None where the
    core does not apply (see the module docstring), and the caller runs its Python loop.

    xw: (T, N, G) projected inputs; state: the initial state, each (N, S_k); mask: (T, N) bool,
    False at padded steps, where the state stays frozen. Returns one (T, N, S_k) tensor per
    state component (padded steps hold the frozen state, not zeros). ``consume=True`` says xw is
    a temporary the caller never reads again: when no gradient is wanted the LSTMs and the
    layer-normalised GRU and MGU then compute in its memory (inference without fresh (T, N, ·)
    buffers). ``raw_input=True`` (see :func:`takes_raw_input`): xw is W x without its bias (and
    layer norm), which the core then applies itself.
    """
    kind = fused_kind(cell)
    if kind is None or core_for(xw) is None:
        return None
    xw = xw.contiguous()
    state = tuple(s.contiguous() for s in state)
    mask = _empty(xw, torch.bool) if mask is None else mask.contiguous()
    weight_hh = cell.weight_hh.contiguous()
    if raw_input and kind in _BIASED_INPUT:
        raise ValueError("run_fused: raw_input=True needs a cell whose projection the core finishes "
                         f"(see takes_raw_input), got {_BIASED_INPUT[kind]}")
    if kind == "gru_after":
        return (_GRUAfter.apply(xw, state[0], weight_hh, cell.bias_hh.contiguous(), mask),)
    if kind == "jordan":
        decision = JordanCell.decisions.index(cell.decision)
        return _Jordan.apply(cell.nonlinearity == "relu", decision, xw, state[0], state[1], weight_hh,
                             cell.weight_ho.contiguous(), cell.bias_ho, mask)
    bias_hh = cell.bias_hh.contiguous()
    if raw_input and not kind.startswith("layer_norm_"):
        bias_hh = bias_hh + cell.bias_ih  # both biases in one, added by the core's row pass
    if kind in ("lstm", "layer_norm_lstm"):
        peephole = cell.weight_peephole if cell.weight_peephole is not None else _empty(xw)
        overwrite = _may_overwrite(consume, xw, state, cell)
        if kind == "lstm":
            if overwrite:
                return tuple(load().lstm_forward(xw, *state, weight_hh, bias_hh, peephole, mask, True)[:2])
            return _LSTM.apply(xw, state[0], state[1], weight_hh, bias_hh, peephole, mask)
        norm, cell_norm = cell.recurrent_norm, cell.cell_norm
        norms = (norm.weight.contiguous(), norm.bias.contiguous(), cell_norm.weight.contiguous(),
                 cell_norm.bias.contiguous())
        empty = _empty(xw)
        inputs = (cell.input_norm.weight.contiguous(), cell.input_norm.bias.contiguous(), cell.bias_ih) \
            if raw_input else (empty, empty, empty)
        if overwrite:
            return tuple(load().layer_norm_lstm_forward(xw, *state, weight_hh, bias_hh, peephole, *norms, *inputs,
                                                        mask, norm.eps, True)[:2])
        return _LayerNormLSTM.apply(norm.eps, xw, state[0], state[1], weight_hh, bias_hh, peephole, *norms,
                                    *inputs, mask)
    if kind.startswith("layer_norm_"):
        norm = cell.recurrent_norm
        gain, shift = norm.weight.contiguous(), norm.bias.contiguous()
        empty = _empty(xw)
        inputs = (cell.input_norm.weight.contiguous(), cell.input_norm.bias.contiguous(), cell.bias_ih) \
            if raw_input else (empty, empty, empty)
        family = "gated" if kind in ("layer_norm_gru", "layer_norm_mgu") else "elman"
        flag = kind in ("layer_norm_gru", "layer_norm_elman_relu")
        if family == "gated" and _may_overwrite(consume, xw, state, cell):
            return (load().layer_norm_gated_forward(flag, xw, state[0], weight_hh, bias_hh, gain, shift, *inputs,
                                                    mask, norm.eps, True)[0],)
        return (_LayerNormOneState.apply(family, flag, norm.eps, xw, state[0], weight_hh, bias_hh, gain, shift,
                                         *inputs, mask),)
    if kind in ("gru", "mgu"):
        return (_Gated.apply(kind == "gru", xw, state[0], weight_hh, bias_hh, mask),)
    return (_Elman.apply(kind == "elman_relu", xw, state[0], weight_hh, bias_hh, mask),)
