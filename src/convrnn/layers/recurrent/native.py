"""Dispatch of plain LSTM, GRU (``reset="after"``) and Elman stacks to torch's fused RNN kernels.

A stack whose every cell is exactly one layer of ``torch.nn.LSTM``/``GRU``/``RNN`` computes what
``torch.lstm``/``torch.gru``/``torch.rnn_tanh``/``torch.rnn_relu`` compute (oneDNN on CPU, cuDNN
on CUDA), so the engine hands such stacks to those kernels instead of running its Python loop.
Variable lengths are packed internally: a packed sequence makes the kernel stop every sequence at
its own last step and start the backward direction at each sequence's own end, which is exactly
the engine's masking; outputs past the end come back as zeros.

The rule (:func:`native_mode`): every cell is an ``LSTMCell`` without peepholes (with or without
``proj_size``), a ``GRUCell`` with ``reset="after"`` or an ``ElmanCell``, none with layer norm
(classes or subclasses that keep their equations, ``cells.equations``); no look-ahead; no residual
connections between layers (residual with one layer is no connection); no recurrent dropout or
zoneout while training, no zoneout at all (it changes evaluation too); ``return_states=False``;
``use_native`` left True on the module; not under CPU autocast to a dtype this CPU's oneDNN
cannot run (bfloat16 without AVX-512 BF16, where torch's own kernel fails). Dropout between
layers is torch's ``dropout`` argument: the same distribution, different random draws.

With ``lengths``, where the compiled core runs every cell of the stack (LSTM, GRU and Elman
cells on a CPU, see ``fused.py``), the stack runs there instead, masking rather than packing:
torch's packed CPU kernels are not oneDNN's and were measured 2–10× slower than the core's masked
loop (`benchmarks/recurrent.py`, "+ lengths" rows). Same results (tested against both).

Traced: exported (``torch.export``, ONNX), a stack runs the engine's scan instead (T stays
dynamic, ``export_scan.py``); under ``torch.compile`` on a CPU where the core runs, the core's
operator (the graph stays whole; inductor's CPU lowering of torch's RNN kernels fails). Where
torch.compile still meets a fused kernel (a GPU, a dtype the core lacks, the core switched off)
it runs it eagerly, breaking the graph around it, as it runs a ``torch.nn.LSTM`` (dynamo's
``allow_rnn=False``).

One step of such a cell (``cell(x, state)``, :func:`native_step`) runs on torch's fused cell
kernels (``torch.lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``, ``rnn_relu_cell``), as
``torch.nn.LSTMCell`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from convrnn.functional._checks import is_tracing
from convrnn.layers.recurrent.cells import Cell, ElmanCell, GRUCell, LSTMCell, State, equations
from convrnn.layers.recurrent.fused import core_runs, fused_kind

if TYPE_CHECKING:
    from convrnn.layers.recurrent.rnn import RNN

KERNELS = {"lstm": torch.lstm, "gru": torch.gru, "rnn_tanh": torch.rnn_tanh, "rnn_relu": torch.rnn_relu}
STEP_KERNELS = {"lstm": torch.lstm_cell, "gru": torch.gru_cell, "rnn_tanh": torch.rnn_tanh_cell,
                "rnn_relu": torch.rnn_relu_cell}


def cell_mode(cell: torch.nn.Module) -> str | None:
    """The fused kernel computing exactly ``cell`` ("lstm", "gru", "rnn_tanh", "rnn_relu"), or None.

    Library cells, or subclasses that keep their equations (``cells.equations``): a subclass may
    have changed the step equations."""
    base = equations(cell) if isinstance(cell, Cell) else None
    if base is LSTMCell and not cell.peephole and not cell.layer_norm:
        return "lstm"
    if base is GRUCell and cell.reset == "after" and not cell.layer_norm and cell.z_multiplies == "previous":
        return "gru"
    if base is ElmanCell and not cell.layer_norm and cell.nonlinearity in ("tanh", "relu"):
        return "rnn_" + cell.nonlinearity
    return None


def native_step(cell: Cell, x: Tensor, state: State) -> State | None:
    """One step of ``cell`` on torch's fused cell kernel, or None where none computes it (see
    :func:`cell_mode`; an LSTM with ``proj_size``; under CPU autocast that oneDNN refuses).

    x: (N, F); state: one (N, S_k) tensor per component. Returns the new state components."""
    mode = cell_mode(cell)
    if mode is None or (mode == "lstm" and cell.proj_size):
        return None
    if x.is_cpu and _autocast_refused_on_cpu():
        return None
    biases = (cell.bias_ih, cell.bias_hh) if cell.bias else (None, None)
    kernel = STEP_KERNELS[mode]
    if mode == "lstm":
        return tuple(kernel(x, state, cell.weight_ih, cell.weight_hh, *biases))
    return (kernel(x, state[0], cell.weight_ih, cell.weight_hh, *biases),)


def native_mode(rnn: RNN, *, lengths: Tensor | None, return_states: bool) -> str | None:
    """The fused kernel that runs the whole stack ``rnn`` (see the module docstring), or None."""
    if not getattr(rnn, "use_native", True) or return_states or rnn.lookahead is not None:
        return None
    if rnn.residual and rnn.num_layers > 1:
        return None
    if rnn.zoneout > 0 or (rnn.training and rnn.recurrent_dropout > 0):
        return None
    if lengths is not None and is_tracing():
        return None  # packing reads the lengths as Python numbers
    weight = rnn.cells[0].weight_ih
    if torch.compiler.is_exporting() or (torch.compiler.is_compiling() and core_runs(weight)):
        # exported: the engine's scan keeps T dynamic (torch's ONNX LSTM/GRU does not with state
        # inputs); compiled on a CPU: the core's operator (torch.lstm's oneDNN decomposition fails)
        return None
    if lengths is not None and all(fused_kind(cell) is not None for cell in rnn.cells) and core_runs(weight):
        return None  # the compiled core masks; faster than torch's packed kernels on a CPU
    if rnn.cells[0].weight_ih.device.type == "cpu" and _autocast_refused_on_cpu():
        return None
    modes = {cell_mode(cell) for cell in rnn.cells}
    return modes.pop() if len(modes) == 1 else None


def _autocast_refused_on_cpu() -> bool:
    """Whether CPU autocast is on with a dtype that oneDNN's RNN kernels cannot run on this CPU:
    on a CPU without bfloat16 (float16) instructions ``torch.nn.LSTM`` under
    ``torch.autocast("cpu")`` fails ("could not create a primitive descriptor for the LSTM
    forward propagation primitive"); the engine, which promotes per step, runs there instead."""
    if not torch.is_autocast_enabled("cpu"):
        return False
    dtype = torch.get_autocast_dtype("cpu")
    if dtype == torch.bfloat16:
        return not torch.ops.mkldnn._is_mkldnn_bf16_supported()
    if dtype == torch.float16:
        return not torch.ops.mkldnn._is_mkldnn_fp16_supported()
    return False


def _eager(kernel: Callable[..., Any]) -> Callable[..., Any]:
    """``kernel`` run outside ``torch.compile``'s graph (a graph break), as torch.compile runs a
    ``torch.nn.LSTM`` (dynamo's ``allow_rnn=False``): inductor's CPU lowering of the RNN kernels
    fails ("expected Tensor() for op: torch.ops.aten.mkldnn_rnn_layer")."""
    return torch.compiler.disable(kernel, recursive=True)


def run_native(rnn: RNN, mode: str, x: Tensor, lengths: Tensor | None,
               state: tuple[Tensor, ...] | None) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run the stack on torch's fused kernel.

    x: (T, N, F) time-major; lengths: (N,) or None; state: None or the user's components, each
    (L·D, N, S_k). Returns outputs (T, N, D·O), zero past each sequence's end, and the final
    state components, each (L·D, N, S_k): each sequence's state at its own last step.

    The weights go to the kernel in torch's order, per layer and direction (w_ih, w_hh[, b_ih,
    b_hh][, w_hr]), as ``torch.nn.LSTM`` hands over its ``_flat_weights`` (so that weights
    flattened for cuDNN stay one block).
    """
    steps, batch = x.shape[:2]
    if state is None:
        rows = rnn.num_layers * rnn.directions
        state = tuple(x.new_zeros(rows, batch, size) for size in rnn.cells[0].state_sizes)
    bias = rnn.cells[0].bias
    weights = []
    for cell in rnn.cells:
        weights += [cell.weight_ih, cell.weight_hh]
        if bias:
            weights += [cell.bias_ih, cell.bias_hh]
        if mode == "lstm" and cell.proj_size:
            weights.append(cell.weight_hr)
    hx = state if mode == "lstm" else state[0]
    kernel = KERNELS[mode]
    if torch.compiler.is_compiling() and not torch.compiler.is_exporting():
        kernel = _eager(kernel)
    arguments = (weights, bias, rnn.num_layers, rnn.dropout, rnn.training, rnn.bidirectional)
    if lengths is None:
        result = kernel(x, hx, *arguments, False)
        return result[0], tuple(result[1:])
    packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
    order, restore = packed.sorted_indices, packed.unsorted_indices
    hx = tuple(h.index_select(1, order) for h in hx) if mode == "lstm" else hx.index_select(1, order)
    result = kernel(packed.data, packed.batch_sizes, hx, *arguments)
    output = packed._replace(data=result[0])
    outputs, _ = pad_packed_sequence(output, total_length=steps)
    return outputs, tuple(h.index_select(1, restore) for h in result[1:])
