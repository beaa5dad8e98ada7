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
``JordanCell`` without it (every nonlinearity and decision function), ``ElmanCell`` with every
nonlinearity (tanh, relu, sigmoid, leaky relu, identity) and seed 001's ``GatedCell`` (with or without
layer norm); those classes or subclasses
that keep their equations, and no ``step`` set on the instance (``cells.equations``); no LSTM
with ``proj_size``. The engine falls back
to its Python loop — same results — for every other cell, for recurrent dropout in training and
zoneout, for ``scan(keep_states=True)`` (whose per-step states are graph nodes), on devices other
than the CPU (CUDA tensors go to the GPU kernels, ``gpu/dispatch.py``, where Triton is installed), for
dtypes other than float32/float64, under tracing (``torch.jit``, ONNX export,
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

from convrnn.layers.recurrent import core_ops
from convrnn.layers.recurrent._compiled import load
from convrnn.layers.recurrent.cells import (
    Cell,
    ElmanCell,
    GatedCell,
    GRUCell,
    JordanCell,
    LSTMCell,
    MGUCell,
    State,
    equations,
)

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
            raise RuntimeError(core_ops.DERIVATIVES_ONLY)
        return inner(ctx, *grads)

    return checked


def fused_kind(cell: Cell) -> str | None:
    """"lstm", "gru", "mgu", "elman_<nonlinearity>", "gated_unit" (seed 001's ``GatedCell``) (each
    with a "layer_norm_" prefix under layer norm), "gru_after" (torch.nn.GRU's cell, without layer
    norm) or "jordan" if the compiled core runs ``cell`` (whose
    :func:`~convrnn.layers.recurrent.cells.equations` must be a library cell's; an LSTM with
    ``proj_size`` runs on the engine; a GRU with ``z_multiplies="candidate"`` runs here as its
    :meth:`~convrnn.layers.recurrent.cells.GRUCell.previous_form`, which the engine hands over)."""
    base = equations(cell)
    kind = None
    if base is GRUCell and cell.z_multiplies != "previous":
        return None
    if base is LSTMCell and not cell.proj_size:
        kind = "lstm"
    elif base is GRUCell and cell.reset == "before":
        kind = "gru"
    elif base is GRUCell and not cell.layer_norm:
        return "gru_after"
    elif base is MGUCell:
        kind = "mgu"
    elif base is GatedCell:
        kind = "gated_unit"
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


def core_runs(tensor: Tensor) -> bool:
    """Whether the compiled core runs on ``tensor``: CPU, float32/float64, not inside
    :func:`disabled`, not traced for export, and built (building it on the first call). Its
    loops then run as the operators of ``core_ops.py``, also inside ``torch.compile``'d graphs,
    which keep each whole; ``torch.export``/ONNX export and ``torch.jit.trace`` get the engine's
    loop instead (``export_scan.py``), which an exported program runs without convrnn."""
    if (not _switch["enabled"] or tensor.device.type != "cpu" or tensor.dtype not in (torch.float32, torch.float64)
            or torch.jit.is_tracing() or torch.compiler.is_exporting()):
        return False
    return _core_built()


@torch.compiler.assume_constant_result
def _core_built() -> bool:
    """Whether the core is built (building it if needed); a constant inside compiled graphs."""
    return load() is not None


def core_for(tensor: Tensor) -> ModuleType | None:
    """The compiled module for eager-only uses of the core (its in-place inference variants, the
    parallel layers' private projection memory): where :func:`core_runs` and not inside
    ``torch.compile``, else None."""
    if torch.compiler.is_compiling() or not core_runs(tensor):
        return None
    return load()


def _empty(like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    return like.new_empty(0, dtype=dtype)


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
    return kind is not None and kind not in _BIASED_INPUT and core_runs(like)



def _may_overwrite(consume: bool, xw: Tensor, state: State, cell: Cell) -> bool:
    """Whether the core may compute in xw's memory and keep nothing for a backward pass: xw is
    the caller's temporary (``consume``) and no gradient is wanted."""
    return consume and not torch.compiler.is_compiling() and not (torch.is_grad_enabled() and any(
        t.requires_grad for t in (xw, *state, *cell.parameters())))


def run_fused(cell: Cell, xw: Tensor, state: State, mask: Tensor | None = None, *,
              consume: bool = False, raw_input: bool = False) -> State | None:
    """Every step's state of ``cell`` over projected inputs, on the compiled core; None where the
    core does not apply (see the module docstring), and the caller runs its Python loop.

    xw: (T, N, G) projected inputs; state: the initial state, each (N, S_k); mask: (T, N) bool,
    False at padded steps, where the state stays frozen. Returns one (T, N, S_k) tensor per
    state component (padded steps hold the frozen state, not zeros). ``consume=True`` says xw is
    a temporary the caller never reads again: when no gradient is wanted the LSTMs and the
    layer-normalised GRU, MGU and gated unit then compute in its memory (inference without fresh
    (T, N, ·) buffers). ``raw_input=True`` (see :func:`takes_raw_input`): xw is W x without its bias (and
    layer norm), which the core then applies itself.
    """
    kind = fused_kind(cell)
    if kind is None or not core_runs(xw):
        return None
    ops = torch.ops.convrnn
    xw = xw.contiguous()
    state = tuple(s.contiguous() for s in state)
    mask = _empty(xw, torch.bool) if mask is None else mask.contiguous()
    weight_hh = cell.weight_hh.contiguous()
    if raw_input and kind in _BIASED_INPUT:
        raise ValueError("run_fused: raw_input=True needs a cell whose projection the core finishes "
                         f"(see takes_raw_input), got {_BIASED_INPUT[kind]}")
    if kind == "gru_after":
        return (ops.gru_after(xw, state[0], weight_hh, cell.bias_hh.contiguous(), mask)[0],)
    if kind == "jordan":
        decision = JordanCell.decisions.index(cell.decision)
        return ops.jordan(cell.nonlinearity == "relu", decision, xw, state[0], state[1], weight_hh,
                          cell.weight_ho.contiguous(), cell.bias_ho, mask)
    bias_hh = cell.bias_hh.contiguous()
    if raw_input and not kind.startswith("layer_norm_"):
        bias_hh = bias_hh + cell.bias_ih  # both biases in one, added by the core's row pass
    if kind == "gated_unit":
        return (ops.gated_unit(xw, state[0], weight_hh, bias_hh, mask)[0],)
    if kind in ("lstm", "layer_norm_lstm"):
        peephole = cell.weight_peephole if cell.weight_peephole is not None else _empty(xw)
        overwrite = _may_overwrite(consume, xw, state, cell)
        if kind == "lstm":
            if overwrite:
                return tuple(load().lstm_forward(xw, *state, weight_hh, bias_hh, peephole, mask, True)[:2])
            return tuple(ops.lstm(xw, state[0], state[1], weight_hh, bias_hh, peephole, mask)[:2])
        norm, cell_norm = cell.recurrent_norm, cell.cell_norm
        norms = (norm.weight.contiguous(), norm.bias.contiguous(), cell_norm.weight.contiguous(),
                 cell_norm.bias.contiguous())
        empty = _empty(xw)
        inputs = (cell.input_norm.weight.contiguous(), cell.input_norm.bias.contiguous(), cell.bias_ih) \
            if raw_input else (empty, empty, empty)
        if overwrite:
            return tuple(load().layer_norm_lstm_forward(xw, *state, weight_hh, bias_hh, peephole, *norms, *inputs,
                                                        mask, norm.eps, True)[:2])
        return tuple(ops.layer_norm_lstm(xw, state[0], state[1], weight_hh, bias_hh, peephole, *norms, *inputs, mask,
                                         norm.eps)[:2])
    if kind.startswith("layer_norm_"):
        norm = cell.recurrent_norm
        gain, shift = norm.weight.contiguous(), norm.bias.contiguous()
        empty = _empty(xw)
        inputs = (cell.input_norm.weight.contiguous(), cell.input_norm.bias.contiguous(), cell.bias_ih) \
            if raw_input else (empty, empty, empty)
        if kind == "layer_norm_gated_unit":
            if _may_overwrite(consume, xw, state, cell):
                return (load().layer_norm_gated_unit_forward(xw, state[0], weight_hh, bias_hh, gain, shift, *inputs,
                                                             mask, norm.eps, True)[0],)
            return (ops.layer_norm_gated_unit(xw, state[0], weight_hh, bias_hh, gain, shift, *inputs, mask,
                                              norm.eps)[0],)
        if kind in ("layer_norm_gru", "layer_norm_mgu"):
            gru = kind == "layer_norm_gru"
            if _may_overwrite(consume, xw, state, cell):
                return (load().layer_norm_gated_forward(gru, xw, state[0], weight_hh, bias_hh, gain, shift, *inputs,
                                                        mask, norm.eps, True)[0],)
            return (ops.layer_norm_gated(gru, xw, state[0], weight_hh, bias_hh, gain, shift, *inputs, mask,
                                         norm.eps)[0],)
        return (ops.layer_norm_elman(*_activation(cell), xw, state[0], weight_hh, bias_hh, gain, shift, *inputs, mask,
                                     norm.eps)[0],)
    if kind in ("gru", "mgu"):
        return (ops.gated(kind == "gru", xw, state[0], weight_hh, bias_hh, mask)[0],)
    return (ops.elman(*_activation(cell), xw, state[0], weight_hh, bias_hh, mask),)


def _activation(cell: ElmanCell) -> tuple[int, float]:
    """An Elman cell's nonlinearity as the core's operators take it: its index in
    ``ElmanCell.nonlinearities`` (the order of ``_compiled/units.h``) and the leaky ReLU's slope."""
    return ElmanCell.nonlinearities.index(cell.nonlinearity), cell.negative_slope
