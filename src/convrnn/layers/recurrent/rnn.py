"""Recurrent layers: any cell stacked in layers, one or two directions, limited look-ahead.

Letters: N batch, T steps, F input features, H hidden units, O a cell's output size (H for every
cell but Jordan), S_k the size of state component k, L ``num_layers``, D = 2 if bidirectional
else 1, K the number of state components (1, or 2 for LSTM (h, c) and Jordan (h, y)).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrnn.functional._checks import (
    check_choice,
    check_flag,
    check_like,
    check_tensor,
    is_tracing,
    refuse_torchscript,
)
from convrnn.layers.recurrent.cells import CELLS, Cell, ElmanCell, GRUCell, LSTMCell, State
from convrnn.layers.recurrent.lookahead import run_lookahead
from convrnn.layers.recurrent.native import native_mode, run_native
from convrnn.layers.recurrent.scan import reversal_index, run_direction

StateArg = Tensor | tuple[Tensor, ...]


class RNN(nn.Module):
    r"""A stack of recurrent layers running any cell, with lengths, state in/out and look-ahead.

    Layer l, direction d runs its cell over time (forward: t = 0 … T−1; backward: from each
    sequence's own last step down to 0). The input of layer 0 is x; the input of layer l > 0 is
    dropout(y^{l−1}) with y^{l−1} the concatenated outputs of both directions of layer l − 1,
    and with ``residual=True`` y^l = layer_l(dropout(y^{l−1})) + y^{l−1} for l > 0.

    Args:
        cell: "lstm", "gru", "mgu", "gated", "elman" (alias "rnn"), "jordan", a :class:`Cell` subclass,
            or a cell instance (used as layer 0's forward cell; every other layer and direction
            gets a freshly initialised cell of the same kind and options).
        input_size: F (taken from the instance when ``cell`` is one).
        hidden_size: H (taken from the instance when ``cell`` is one).
        num_layers: L.
        bidirectional: add a backward direction to every layer.
        lookahead: None for full bidirectional; L_a ≥ 0 limits what the backward direction has
            seen at step t to x_t … x_{t+L_a} (needs ``bidirectional=True``; see
            ``lookahead.py``). Every backward window starts from the backward initial state, and
            the backward final state is that of the window at t = 0.
        dropout: dropout probability in [0, 1] on the input of every layer but the first.
        residual: add each layer's input to its output for layers l > 0.
        batch_first: x and outputs are (N, T, ·) if True (default), (T, N, ·) if False.
        recurrent_dropout, zoneout: per-step options, see ``options.py``.
        **cell_options: passed to the cell (``peephole``, ``proj_size``, ``reset``,
            ``z_multiplies``, ``nonlinearity``, ``negative_slope``, ``decision``, ``output_size``,
            ``layer_norm``, ``bias``).

    Speed: a stack that torch has fused kernels for runs on them (``native.py``): every cell a
    plain LSTM (with or without ``proj_size``), a GRU with ``reset="after"`` or an Elman cell,
    without layer norm, look-ahead, residual connections (with more than one layer), zoneout or,
    while training, recurrent dropout, and ``return_states=False``. Dropout between layers then draws through torch's
    kernel (same distribution, other draws). Set ``use_native = False`` to force the engine.
    Every other stack runs on the engine, whose loop is compiled C++ (``fused.py``) for the
    LSTM (peepholes, layer norm), the GRU (``reset="before"`` with or without layer norm,
    ``reset="after"`` without; ``z_multiplies="candidate"`` as its ``previous_form()``), the MGU and
    Elman cells (every nonlinearity; with or without layer norm), seed 001's gated unit (with or
    without layer norm) and the Jordan cell, and Python for the rest (subclassed cells, recurrent
    dropout while training, zoneout). On CUDA tensors with Triton installed every cell of ``cells.py`` with every option
    runs as GPU kernels instead, one operator per layer and direction (``gpu/dispatch.py``;
    ``gpu.dispatch.backend`` says which backend a stack will use and why). With ``lengths`` on a
    CPU, plain LSTM, GRU and Elman stacks run on that core too, masking instead of packing (faster
    than torch's packed kernels).

    Initialisation: see ``cells.py`` (Xavier input matrices, orthogonal recurrent matrices,
    zero biases, LSTM forget-gate bias 1).

    Shapes (batch_first=True; with batch_first=False x, outputs and states have T and N swapped,
    states and final states keep their layout):
        x: (N, T, F); lengths: (N,) integers in [1, T], or None for all T.
        state: the initial state, None for zeros; for one-component cells a tensor
            (L·D, N, H) like ``torch.nn.GRU``/``RNN``; otherwise a tuple with one
            (L·D, N, S_k) tensor per component, e.g. LSTM (h_0, c_0) like ``torch.nn.LSTM``.
            Row l·D + d holds layer l, direction d (d = 1 backward).
        outputs: (N, T, D·O), zero at padded steps.
        final_state: like ``state``; each sequence's state at its own last step (for the
            backward direction: after reading x_0).
        states (with ``return_states=True``): like ``state`` but each component
            (N, T, L, D·S_k): the full state of every layer after every step, directions
            concatenated as in the outputs, zero at padded steps. For an LSTM that is every
            h_t and every c_t. In a one-layer, one-direction stack these are views of the
            engine's results, so the output component shares memory with ``outputs`` (no copy:
            return_states then costs 1.00× a GRU's training step at (16, 200, 32, 64), was 1.13×
            with a copy); clone one before modifying it in place.
    """

    def __init__(self, cell: str | type[Cell] | Cell = "lstm", input_size: int | None = None,
                 hidden_size: int | None = None, num_layers: int = 1, bidirectional: bool = False,
                 lookahead: int | None = None, dropout: float = 0.0, residual: bool = False,
                 batch_first: bool = True, recurrent_dropout: float = 0.0, zoneout: float = 0.0,
                 **cell_options: Any) -> None:
        super().__init__()
        where = type(self).__name__
        first = _first_cell(cell, input_size, hidden_size, cell_options, where)
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"{where}: argument 'num_layers' expected a positive int, "
                             f"got {num_layers!r}")
        bidirectional = check_flag("bidirectional", bidirectional, where=where)
        residual = check_flag("residual", residual, where=where)
        batch_first = check_flag("batch_first", batch_first, where=where)
        if lookahead is not None:
            if isinstance(lookahead, bool) or not isinstance(lookahead, int):
                raise TypeError(f"{where}: argument 'lookahead' expected None or an int ≥ 0, "
                                f"got {lookahead!r}")
            if lookahead < 0:
                raise ValueError(f"{where}: argument 'lookahead' expected None or an int ≥ 0, "
                                 f"got {lookahead}")
            if not bidirectional:
                raise ValueError(f"{where}: argument 'lookahead' limits the backward direction, so it "
                                 f"expected bidirectional=True, got bidirectional={bidirectional}")
        if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{where}: argument 'dropout' expected a probability in [0, 1], got {dropout!r}")
        for name, p in (("recurrent_dropout", recurrent_dropout), ("zoneout", zoneout)):
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
                raise ValueError(f"{where}: argument '{name}' expected a probability in [0, 1), "
                                 f"got {p!r}")
        self.input_size, self.hidden_size = first.input_size, first.hidden_size
        self.num_layers, self.bidirectional = num_layers, bidirectional
        self.lookahead, self.dropout, self.residual = lookahead, dropout, residual
        self.batch_first = batch_first
        self.recurrent_dropout, self.zoneout = recurrent_dropout, zoneout
        self.directions = 2 if bidirectional else 1
        self.output_size = first.output_size * self.directions
        cells = [first]
        for index in range(1, num_layers * self.directions):
            cells.append(first.like(self.input_size if index < self.directions
                                    else self.output_size))
        self.cells = nn.ModuleList(cells)
        self.use_native = True

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return self.cells[0].state_sizes

    def extra_repr(self) -> str:
        return (f"num_layers={self.num_layers}, bidirectional={self.bidirectional}, "
                f"lookahead={self.lookahead}, dropout={self.dropout}, residual={self.residual}, "
                f"batch_first={self.batch_first}, recurrent_dropout={self.recurrent_dropout}, "
                f"zoneout={self.zoneout}")

    def __prepare_scriptable__(self) -> nn.Module:
        refuse_torchscript(self)
        return self

    def forward(self, x: Tensor, lengths: Tensor | None = None, state: StateArg | None = None,
                return_states: bool = False) -> tuple[Any, ...]:
        """Run every layer over x. See the class docstring for shapes.

        Returns ``(outputs, final_state)``, or ``(outputs, final_state, states)`` with
        ``return_states=True``.
        """
        where = f"{type(self).__name__}.forward"
        check_tensor("x", x, dims=3, floating=True, where=where)
        check_like("x", x, self.cells[0].weight_ih, where=where, reference_name="the layer's parameters")
        return_states = check_flag("return_states", return_states, where=where)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{where}: argument 'x' expected {self.input_size} features in the "
                             f"last dimension (input_size), got shape {tuple(x.shape)}")
        x = x.transpose(0, 1) if self.batch_first else x
        steps, batch = x.shape[:2]
        if steps == 0:
            raise ValueError(f"{where}: argument 'x' expected at least one step, "
                             f"got shape {tuple(x.shape)}")
        lengths = check_lengths(lengths, batch, steps, x.device, where)
        mask = index = None
        if lengths is not None:
            mask = torch.arange(steps, device=x.device).unsqueeze(1) < lengths
            index = reversal_index(lengths, steps)
        initial = self._initial_state(state, batch, x, where)
        mode = native_mode(self, lengths=lengths, return_states=return_states)
        if mode is not None:
            given = None if state is None else (state,) if isinstance(state, Tensor) else tuple(state)
            outputs, final_state = run_native(self, mode, x, lengths, given)
            outputs = outputs.transpose(0, 1) if self.batch_first else outputs
            return outputs, self._pack(final_state)

        options = {"recurrent_dropout": self.recurrent_dropout, "zoneout": self.zoneout,
                   "training": self.training, "keep_states": return_states}
        finals: list[State] = []
        layer_states: list[State] = []
        layer_input = x
        for layer in range(self.num_layers):
            inputs = layer_input
            if layer > 0:
                inputs = F.dropout(layer_input, self.dropout, self.training)
            outputs, states = [], []
            for direction in range(self.directions):
                position = layer * self.directions + direction
                cell, start = self.cells[position], initial[position]
                if direction == 1 and self.lookahead is not None:
                    out, final, kept = run_lookahead(cell, inputs, start, lookahead=self.lookahead,
                                                     lengths=lengths, **options)
                else:
                    out, final, kept = run_direction(cell, inputs, start, mask=mask, index=index,
                                                     reverse=direction == 1, **options)
                outputs.append(out)
                finals.append(final)
                if kept is not None:
                    states.append(kept)
            output = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
            if self.residual and layer > 0:
                output = output + layer_input
            layer_input = output
            if return_states:   # one copy of each state in all: the stack below (no cat of one part)
                layer_states.append(tuple(torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
                                          for parts in zip(*states, strict=True)))

        outputs = layer_input.transpose(0, 1) if self.batch_first else layer_input
        final_state = self._pack(tuple(torch.stack(component)
                                       for component in zip(*finals, strict=True)))
        if not return_states:
            return outputs, final_state
        every = []
        for component in zip(*layer_states, strict=True):
            # (T, N, L, D·S_k); one layer: a view, no copy (see the class docstring)
            stacked = torch.stack(component, dim=2) if len(component) > 1 else component[0].unsqueeze(2)
            every.append(stacked.transpose(0, 1) if self.batch_first else stacked)
        return outputs, final_state, self._pack(tuple(every))

    def _pack(self, components: tuple[Tensor, ...]) -> StateArg:
        return components[0] if len(components) == 1 else components

    def _initial_state(self, state: StateArg | None, batch: int, x: Tensor,
                       where: str) -> list[State]:
        """The user's state (or zeros) split per layer and direction: one tuple of (N, S_k)."""
        sizes = self.state_sizes
        rows = self.num_layers * self.directions
        if state is None:
            return [tuple(x.new_zeros(batch, size) for size in sizes) for _ in range(rows)]
        if len(sizes) == 1 and isinstance(state, Tensor):
            state = (state,)
        if not isinstance(state, tuple | list) or len(state) != len(sizes):
            want = "a tensor" if len(sizes) == 1 else f"a tuple of {len(sizes)} tensors"
            got = type(state).__name__ if not isinstance(state, tuple | list) else \
                f"{len(state)} tensors"
            raise TypeError(f"{where}: argument 'state' expected {want} "
                            f"({', '.join(self.cells[0].state_names)}), got {got}")
        for name, component, size in zip(self.cells[0].state_names, state, sizes, strict=True):
            check_tensor(f"state ({name})", component, floating=True, where=where)
            check_like(f"state ({name})", component, x, where=where, reference_name="x", dtype=False)
            if component.dtype != x.dtype:
                raise TypeError(f"{where}: argument 'state ({name})' expected dtype {x.dtype} "
                                f"(that of x), got {component.dtype}")
            if tuple(component.shape) != (rows, batch, size):
                raise ValueError(f"{where}: argument 'state ({name})' expected shape "
                                 f"(num_layers·D, N, {name} size) = {(rows, batch, size)}, "
                                 f"got {tuple(component.shape)}")
        return [tuple(component[row] for component in state) for row in range(rows)]

    def load_torch_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        """Copy the parameters of a ``torch.nn.LSTM``/``GRU``/``RNN`` state dict
        (``weight_ih_l{l}[_reverse]``, …, ``weight_hr_l{l}`` with ``proj_size``) into the
        matching cells. Needs plain cells: LSTM without peepholes, GRU with ``reset="after"``,
        Elman; no layer norm. A dict without biases (torch's ``bias=False``) loads zero biases
        into cells that have them; cells built with ``bias=False`` refuse a dict with biases."""
        where = f"{type(self).__name__}.load_torch_state_dict"
        cell = self.cells[0]
        plain = (isinstance(cell, LSTMCell) and not cell.peephole) or isinstance(cell, ElmanCell) \
            or (isinstance(cell, GRUCell) and cell.reset == "after")
        if not plain or cell.layer_norm:
            raise ValueError(f"{where}: torch weights need an LSTM without peepholes, a GRU with "
                             f"reset='after' or an Elman cell, without layer norm; got {cell!r}")
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        if getattr(cell, "proj_size", 0):
            names += ("weight_hr",)
        expected = set()
        with torch.no_grad():
            for position, target in enumerate(self.cells):
                layer, direction = divmod(position, self.directions)
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                for name in names:
                    key = name + suffix
                    takes = target.bias or not name.startswith("bias")
                    tensor = getattr(target, name)
                    if takes:
                        expected.add(key)
                    if takes and key in state_dict:
                        source = state_dict[key]
                        if source.shape != tensor.shape:
                            raise ValueError(f"{where}: '{key}' expected shape "
                                             f"{tuple(tensor.shape)}, got {tuple(source.shape)}")
                        tensor.copy_(source)
                    elif name.startswith("bias"):
                        tensor.zero_()  # a torch module built with bias=False, or a bias-free cell
                    else:
                        raise ValueError(f"{where}: missing '{key}' in the state dict")
        unknown = sorted(set(state_dict) - expected)
        if unknown:
            raise ValueError(f"{where}: unexpected keys {unknown} (proj_size, bias or a layer count "
                             f"other than num_layers={self.num_layers}?)")


def from_torch(module: nn.LSTM | nn.GRU | nn.RNN) -> RNN:
    """A convrnn :class:`RNN` computing exactly what ``module`` computes, with its weights copied
    (same dtype and device; ``bias`` and ``proj_size`` as the module's). GRUs become
    ``reset="after"``. The global random generator is left untouched: the stack is built on the
    meta device (no initialisation) and only then given memory and the module's weights."""
    if isinstance(module, nn.LSTM):
        kind, options = "lstm", {"proj_size": module.proj_size}
    elif isinstance(module, nn.GRU):
        kind, options = "gru", {"reset": "after"}
    elif isinstance(module, nn.RNN):
        kind, options = "elman", {"nonlinearity": module.nonlinearity}
    else:
        raise TypeError(f"from_torch: argument 'module' expected torch.nn.LSTM, GRU or RNN, "
                        f"got {type(module).__name__}")
    with torch.device("meta"):
        rnn = RNN(kind, module.input_size, module.hidden_size, module.num_layers,
                  bidirectional=module.bidirectional, dropout=module.dropout,
                  batch_first=module.batch_first, bias=module.bias, **options)
    reference = next(module.parameters())
    rnn.to_empty(device=reference.device).to(dtype=reference.dtype)
    rnn.load_torch_state_dict(module.state_dict())  # writes every parameter and zero bias
    return rnn


def _first_cell(cell: str | type[Cell] | Cell, input_size: int | None, hidden_size: int | None,
                options: dict[str, Any], where: str) -> Cell:
    if isinstance(cell, Cell):
        if options:
            raise ValueError(f"{where}: cell options {sorted(options)} given with a cell instance; "
                             f"set them on the instance")
        for name, value, own in (("input_size", input_size, cell.input_size),
                                 ("hidden_size", hidden_size, cell.hidden_size)):
            if value is not None and value != own:
                raise ValueError(f"{where}: argument '{name}' expected the cell's {own} "
                                 f"(or None), got {value}")
        return cell
    if isinstance(cell, str):
        cell = CELLS[check_choice("cell", cell.lower(), sorted(CELLS), where=where)]
    elif not (isinstance(cell, type) and issubclass(cell, Cell)):
        raise TypeError(f"{where}: argument 'cell' expected a name in {sorted(CELLS)}, a Cell "
                        f"subclass or a Cell instance, got {cell!r}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if value is None:
            raise TypeError(f"{where}: argument '{name}' expected a positive int, got None")
    return cell(input_size, hidden_size, **options)


def check_lengths(lengths: Tensor | None, batch: int, steps: int, device: torch.device,
                  where: str) -> Tensor | None:
    """The lengths argument of every recurrent layer, validated: (N,) integers in [1, T], as a
    long tensor on ``device``; None when it is None or every sequence has length T. Errors name
    ``where``, the argument, the expected and the actual value."""
    if lengths is None:
        return None
    check_tensor("lengths", lengths, dims=1, where=where)
    if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise TypeError(f"{where}: argument 'lengths' expected an integer tensor, "
                        f"got dtype {lengths.dtype}")
    if lengths.device.type == "meta":
        raise ValueError(f"{where}: argument 'lengths' expected a tensor with values, got one on the meta device")
    if lengths.shape[0] != batch:
        raise ValueError(f"{where}: argument 'lengths' expected shape ({batch},) (one length per "
                         f"sequence), got {tuple(lengths.shape)}")
    if batch == 0:
        return None   # no sequence: nothing to mask (torch.nn.LSTM too accepts a batch of 0)
    if not is_tracing():
        low, high = int(lengths.min()), int(lengths.max())
        if low < 1 or high > steps:
            raise ValueError(f"{where}: argument 'lengths' expected values in [1, T] = "
                             f"[1, {steps}], got min {low} and max {high}")
        if low == steps:
            return None
    return lengths.to(device=device, dtype=torch.long)


class LSTM(RNN):
    """:class:`RNN` of :class:`~convrnn.layers.recurrent.cells.LSTMCell` (``peephole`` adds
    seed 002's diagonal V terms)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 peephole: bool = False, **kwargs: Any) -> None:
        super().__init__("lstm", input_size, hidden_size, num_layers, peephole=peephole, **kwargs)


class GRU(RNN):
    """:class:`RNN` of :class:`~convrnn.layers.recurrent.cells.GRUCell`; ``reset="before"`` is
    seed 002's GRU, ``reset="after"`` is ``torch.nn.GRU``; ``z_multiplies="candidate"`` is seed
    004's h = (1 − z) ∘ h + z ∘ h̄ (default "previous": seed 002's h = z ∘ h + (1 − z) ∘ h̃)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 reset: str = "before", z_multiplies: str = "previous", **kwargs: Any) -> None:
        super().__init__("gru", input_size, hidden_size, num_layers, reset=reset, z_multiplies=z_multiplies,
                         **kwargs)


class MGU(RNN):
    """:class:`RNN` of :class:`~convrnn.layers.recurrent.cells.MGUCell`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 **kwargs: Any) -> None:
        super().__init__("mgu", input_size, hidden_size, num_layers, **kwargs)


class Gated(RNN):
    """:class:`RNN` of :class:`~convrnn.layers.recurrent.cells.GatedCell`, seed 001's gated unit
    h_t = g_t ∘ h_{t−1} + (1 − g_t) ∘ ẑ_t (no reset gate)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 **kwargs: Any) -> None:
        super().__init__("gated", input_size, hidden_size, num_layers, **kwargs)


class Elman(RNN):
    """:class:`RNN` of :class:`~convrnn.layers.recurrent.cells.ElmanCell` (``torch.nn.RNN``);
    ``nonlinearity`` "tanh", "relu", "sigmoid", "leaky_relu" (with ``negative_slope``) or
    "identity"."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 nonlinearity: str = "tanh", **kwargs: Any) -> None:
        super().__init__("elman", input_size, hidden_size, num_layers,
                         nonlinearity=nonlinearity, **kwargs)


class Jordan(RNN):
    """:class:`RNN` of :class:`~convrnn.layers.recurrent.cells.JordanCell` (output → hidden
    recurrence); outputs have ``output_size`` (default H) features per direction."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 output_size: int | None = None, nonlinearity: str = "tanh",
                 decision: str = "identity", **kwargs: Any) -> None:
        super().__init__("jordan", input_size, hidden_size, num_layers, output_size=output_size,
                         nonlinearity=nonlinearity, decision=decision, **kwargs)
