"""The engine: runs any cell over time with masking by length, direction and per-step options.

Letters: T steps, N sequences, F input features, G = chunks·H projected features, S_k the size of
state component k, O the output size. Tensors here are time-major, (T, N, …), so that the slice
of one step is contiguous.

Masking by ``lengths``: with m_t = [t < length] for each sequence,

    s_t = m_t ? step(x_t, s_{t−1}) : s_{t−1}        (state frozen past the end)
    y_t = m_t ? s_t[output] : 0                       (padded outputs are exactly 0)

so the final state of every sequence is its state at its own last step, and a padded batch
computes exactly what each sequence computes alone. The backward direction reverses each
sequence within its own length (t ↦ length − 1 − t), runs forward and reverses the result back,
so it starts at each sequence's own end.

Speed: on CUDA tensors, cells the GPU kernels know run as one Triton operator per direction
(``gpu/dispatch.py``); on a CPU, cells the compiled core knows run the whole loop in C++ (``fused.py``); the Python loop
below runs every other cell and option, with the same results. Exported (``torch.export``,
ONNX), every loop is one ``scan`` over the same step (``export_scan.py``), T kept dynamic.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from convrnn.functional._checks import check_tensor, is_tracing
from convrnn.layers.recurrent import export_scan
from convrnn.layers.recurrent.cells import Cell, State, backend_form
from convrnn.layers.recurrent.fused import core_runs, fused_kind, run_fused, takes_raw_input
from convrnn.layers.recurrent.gpu import dispatch as gpu_dispatch
from convrnn.layers.recurrent.options import recurrent_dropout_mask, zoneout_weights


def check_engine_arguments(where: str, cell: object, x: object, state: object, name: str = "x") -> None:
    """The engine functions' (:func:`scan`, :func:`run_direction`, ``run_lookahead``) arguments:
    a :class:`Cell`, a floating (T, N, ·) tensor and one (N, S_k) tensor per state component."""
    if not isinstance(cell, Cell):
        raise TypeError(f"{where}: argument 'cell' expected a convrnn Cell, got {type(cell).__name__}")
    check_tensor(name, x, dims=3, floating=True, where=where)
    sizes = cell.state_sizes
    if not isinstance(state, tuple | list) or len(state) != len(sizes):
        got = f"{len(state)} items" if isinstance(state, tuple | list) else type(state).__name__
        raise TypeError(f"{where}: argument 'state' expected a tuple of {len(sizes)} tensors "
                        f"({', '.join(cell.state_names)}), got {got}")
    if is_tracing() or torch.compiler.is_exporting():
        return
    for part, component, size in zip(cell.state_names, state, sizes, strict=True):
        expected = (x.shape[1], size)  # type: ignore[union-attr]
        if not isinstance(component, Tensor) or tuple(component.shape) != expected:
            got = tuple(component.shape) if isinstance(component, Tensor) else type(component).__name__
            raise ValueError(f"{where}: argument 'state ({part})' expected shape (N, S) = {expected}, got {got}")


def scan(cell: Cell, xw: Tensor, state: State, *, mask: Tensor | None = None,
         feedback_mask: Tensor | None = None, zoneout: Sequence[float | Tensor] | None = None,
         keep_states: bool = False) -> tuple[Tensor, State, list[State] | None]:
    """Run ``cell`` forward over already-projected inputs.

    Args:
        xw: (T, N, G) the projections W x_t + b of every step (see :meth:`Cell.project`).
        state: the initial state, one (N, S_k) tensor per component.
        mask: (T, N) bool, False at padded steps, where the state stays frozen.
        feedback_mask: (N, S_out) multiplied into the recurrent input at every step
            (variational recurrent dropout; already scaled by 1/(1 − p)).
        zoneout: one keep weight per state component, a float (evaluation) or a (T, N, S_k)
            tensor of draws (training): s_t = k_t ∘ s_{t−1} + (1 − k_t) ∘ s̃_t.
        keep_states: also return the list of every step's full state (padded steps not zeroed),
            each a node of the autograd graph (so this runs the Python loop).

    Returns:
        outputs (T, N, O), zero at padded steps; the final state, each (N, S_k); the list of
        per-step states or None.
    """
    check_engine_arguments("scan", cell, xw, state, name="xw")
    # The history is a list of graph nodes that callers differentiate through (gradient norms
    # through time), which a compiled whole-sequence Function cannot offer; so only without it.
    if torch.compiler.is_exporting() and not keep_states:
        outputs, final, _ = export_scan.run_cell(cell, xw, state, mask, feedback_mask=feedback_mask,
                                                 zoneout=zoneout)
        return outputs, final, None
    fused = run_fused(cell, xw, state, mask) if feedback_mask is None and zoneout is None \
        and not keep_states else None
    if fused is not None:
        outputs = fused[cell.output_index]
        if mask is not None:
            outputs = outputs.masked_fill(~mask.unsqueeze(-1), 0.0)
        return outputs, tuple(s[-1] for s in fused), None
    steps = xw.unbind(0)
    masks = mask.unsqueeze(-1).unbind(0) if mask is not None else (None,) * len(steps)
    keeps = [k.unbind(0) if isinstance(k, Tensor) else (k,) * len(steps)
             for k in zoneout] if zoneout is not None else None
    index = cell.output_index
    outputs: list[Tensor] = []
    history: list[State] | None = [] if keep_states else None
    for t, (xw_t, mask_t) in enumerate(zip(steps, masks, strict=True)):
        feedback = state[index] if feedback_mask is None else state[index] * feedback_mask
        new = cell.step(xw_t, state, feedback)
        if keeps is not None:
            # k·old + (1 − k)·new is exact for k ∈ {0, 1}, unlike lerp.
            new = tuple(old * k[t] + new_k * (1 - k[t])
                        for old, new_k, k in zip(state, new, keeps, strict=True))
        if mask_t is not None:
            new = tuple(torch.where(mask_t, new_k, old)
                        for new_k, old in zip(new, state, strict=True))
        state = new
        outputs.append(state[index])
        if history is not None:
            history.append(state)
    stacked = torch.stack(outputs)
    if mask is not None:
        stacked = stacked.masked_fill(~mask.unsqueeze(-1), 0.0)
    return stacked, state, history


def stack_states(history: list[State], mask: Tensor | None) -> State:
    """Per-step states → one (T, N, S_k) tensor per component, zero at padded steps."""
    stacked = tuple(torch.stack(component) for component in zip(*history, strict=True))
    if mask is None:
        return stacked
    return tuple(s.masked_fill(~mask.unsqueeze(-1), 0.0) for s in stacked)


def reversal_index(lengths: Tensor, steps: int) -> Tensor:
    """(T, N) index that reverses each sequence within its own length and leaves padding alone:
    t ↦ length − 1 − t for t < length, t ↦ t otherwise. It is its own inverse."""
    t = torch.arange(steps, device=lengths.device).unsqueeze(1)
    return torch.where(t < lengths, lengths - 1 - t, t)


def reverse_within_lengths(x: Tensor, index: Tensor | None) -> Tensor:
    """Reverse x: (T, N, …) along time, each sequence within its own length (``index`` from
    :func:`reversal_index`; None means every sequence has length T)."""
    if index is None:
        return x.flip(0)
    return x.gather(0, index.view(*index.shape, *(1,) * (x.dim() - 2)).expand_as(x))


def runner(cell: Cell, x: Tensor, *, python_loop: bool = False) -> Cell:
    """The cell that runs ``cell`` over x: ``cell`` itself, except for a GRU with
    ``z_multiplies="candidate"`` (seed 004) where a faster backend (the GPU kernels; the compiled
    core unless ``python_loop``: recurrent dropout or zoneout) will run it: then its
    :meth:`~convrnn.layers.recurrent.cells.GRUCell.previous_form` (the same function, z ↦ 1 − z by
    negated z weights), since those backends run only the "previous" equations. The Python loop
    runs the cell's own equations — also inside ``torch.compile``, which traces it (its graph then
    holds the unrolled steps, not the core's operator)."""
    if torch.compiler.is_compiling():
        return cell   # dynamo cannot trace the view's module copy: the loop is traced instead
    twin = backend_form(cell)
    if twin is cell:
        return cell
    if gpu_dispatch.kernel_spec(twin, x) is not None or (not python_loop and fused_kind(twin) is not None
                                                         and core_runs(x)):
        return twin
    return cell


def run_direction(cell: Cell, x: Tensor, state: State, *, mask: Tensor | None = None,
                  index: Tensor | None = None, reverse: bool = False,
                  recurrent_dropout: float = 0.0, zoneout: float = 0.0, training: bool = False,
                  keep_states: bool = False) -> tuple[Tensor, State, State | None]:
    """One layer, one direction: project all steps in one matrix product, then scan.

    x: (T, N, F); state: one (N, S_k) tensor per component; mask: (T, N) bool or None;
    index: the (T, N) reversal index of ``mask``'s lengths. With ``reverse=True`` step t of
    the result has seen x_t … x_{length−1}. Returns outputs (T, N, O), the final state and,
    with ``keep_states``, every step's state (T, N, S_k), zero at padded steps.
    """
    check_engine_arguments("run_direction", cell, x, state)
    steps, batch = x.shape[:2]
    cell = runner(cell, x, python_loop=(training and recurrent_dropout > 0) or zoneout > 0)
    spec = gpu_dispatch.kernel_spec(cell, x)
    if spec is not None:
        # The GPU kernels (gpu/dispatch.py): one operator, reversal within lengths inside it.
        lengths = mask.sum(0) if mask is not None else None
        every, final = gpu_dispatch.run_cell(cell, spec, x, state, lengths, reverse=reverse,
                                             recurrent_dropout=recurrent_dropout, zoneout=zoneout,
                                             training=training)
        return every[cell.output_index], final, every if keep_states else None
    if reverse:
        # Reversal keeps every sequence's real steps in front, so the mask is unchanged.
        x = reverse_within_lengths(x, index)
    feedback_mask = None
    if training and recurrent_dropout > 0:
        feedback_mask = recurrent_dropout_mask(batch, cell.output_size, recurrent_dropout, x)
    keeps = None
    if zoneout > 0:
        keeps = zoneout_weights(zoneout, training, steps, batch, cell.state_sizes, x)
    # A time-major view of batch-first data is not contiguous, and a matrix product over it is
    # ~3× slower than copying the (small) input first.
    x = x.contiguous()
    fused = None
    if feedback_mask is None and keeps is None and takes_raw_input(cell, x):
        # The core adds the input bias (and normalises the projection) itself.
        fused = run_fused(cell, F.linear(x, cell.weight_ih), state, mask, consume=True, raw_input=True)
    if fused is None:
        xw = cell.project(x)
        if feedback_mask is None and keeps is None:
            fused = run_fused(cell, xw, state, mask, consume=True)
    if fused is None and torch.compiler.is_exporting():
        # One scan that the exporters keep as a loop (T dynamic), every step's state stacked.
        fused = export_scan.run_cell(cell, xw, state, mask, feedback_mask=feedback_mask, zoneout=keeps)[2]
    if fused is not None:
        # Every step's state comes stacked from the compiled core: no per-step list to restack.
        padded = None if mask is None else ~mask.unsqueeze(-1)
        every = fused if padded is None else tuple(s.masked_fill(padded, 0.0) for s in fused)
        outputs, final = every[cell.output_index], tuple(s[-1] for s in fused)
        states = every if keep_states else None
    else:
        outputs, final, history = scan(cell, xw, state, mask=mask, feedback_mask=feedback_mask,
                                       zoneout=keeps, keep_states=keep_states)
        states = stack_states(history, mask) if history is not None else None
    if reverse:
        outputs = reverse_within_lengths(outputs, index)
        if states is not None:
            states = tuple(reverse_within_lengths(s, index) for s in states)
    return outputs, final, states
