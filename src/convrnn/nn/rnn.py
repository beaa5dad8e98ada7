r"""torch.nn's recurrent stacks — ``LSTM``, ``GRU``, ``RNN`` — to the letter, run by convrnn's engine.

Letters as in torch's documentation: L sequence length, N batch, H_in ``input_size``,
H ``hidden_size``, P ``proj_size``, H_out = P if P > 0 else H, D = 2 if ``bidirectional`` else 1.

**torch's, unchanged**: the constructor's arguments, their order and defaults
(``batch_first=False``, ``bias``, ``dropout`` in [0, 1] between layers, ``bidirectional``,
``proj_size``, ``device``/``dtype``); ``forward(input, hx=None)`` taking a (L, N, H_in),
(N, L, H_in) or unbatched (L, H_in) tensor or a ``PackedSequence`` and returning
``(output, h_n)`` (``(output, (h_n, c_n))`` for the LSTM), packed where the input was;
the parameters ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``,
``weight_hr_l{k}`` (``_reverse`` for the backward direction) registered in torch's order
and drawn as torch draws them (``initialisation.py``): the same seed gives the same numbers,
state dicts load both ways, and ``clip_grad_norm_`` sums the same terms in the same order;
``flatten_parameters()``, ``all_weights``, ``_flat_weights``, ``_flat_weights_names``,
``reset_parameters()``, ``mode``. Same weights and data → the same outputs and gradients:
plain stacks run on torch's own kernels (``layers/recurrent/native.py``; with a
``PackedSequence`` or ``lengths`` on a CPU, on the compiled core, masking).

**convrnn's extras**, keyword-only: at construction ``peephole`` (LSTM), ``reset="before"``
(GRU: the seed's GRU), ``layer_norm``, ``zoneout``, ``recurrent_dropout``, ``lookahead`` and
``cell=`` ("lstm", "gru", "mgu", "elman", "jordan", a :class:`~convrnn.layers.recurrent.Cell`
subclass, or the parallel layers "mingru", "minlstm", "qrnn") with that cell's options
(``decision``, ``output_size``, ``window``, ``pooling``, …); at call time ``lengths=`` (mask
instead of pack) and ``return_states=True`` (every step's full state, a third result). They
run on the same engine as :mod:`convrnn.layers` (one implementation: this module registers
the parameters under torch's names and hands them to a ``layers`` stack it keeps out of the
module tree).

**State**: the structure follows the cell: one tensor ``hx`` (D·num_layers, N, H_out) for cells
whose state is h alone (GRU, MGU, Elman and the parallel layers), a tuple for two-part states
(the LSTM's (h, c) with c (D·num_layers, N, H); Jordan's (h, y)). ``nn.LSTM(..., cell="mgu")``
therefore takes and returns h alone, and a script passing (h, c) gets a ``TypeError`` saying
so: build such a model as ``nn.GRU(..., cell="mgu")``, the face whose scripts pass h.

**Extra parameters** are named like torch's: the cell's own name with dots as underscores and
torch's layer suffix — ``weight_peephole_l0`` (3, H), ``input_norm_weight_l0`` /
``input_norm_bias_l0`` (gates, H), ``recurrent_norm_weight_l1_reverse``, ``cell_norm_weight_l0``,
Jordan's ``weight_ho_l0``, ``bias_ho_l0`` — registered after torch's for each layer and
direction; they start neutral (peepholes 0, gains 1, shifts 0: the model starts as the plain
one). The parallel layers' input projections are ``weight_ih_l{k}``, ``bias_ih_l{k}``.

**Compiled, exported**: ``torch.compile(module, fullgraph=True)`` takes a stack whole on a CPU
(plain stacks then run the compiled core's operator, not torch's kernel, which torch.compile
runs eagerly, outside the graph, as it runs a ``torch.nn.LSTM``); ``torch.export`` takes it with
N and T dynamic (the engine's scan). See ``layers/recurrent/native.py``.

**Differences** (documented, tested): inputs and states must have the weights' dtype outside
autocast (torch: the same); errors are ``ValueError``/``TypeError`` naming the argument where
torch raises ``RuntimeError``; the modules are not ``torch.nn.LSTM`` instances and do not
script with ``torch.jit.script``.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from convrnn.layers.recurrent import CELLS, QRNN, Cell, MinGRU, MinLSTM
from convrnn.layers.recurrent import rnn as stacks
from convrnn.layers.recurrent.native import cell_mode
from convrnn.layers.recurrent.rnn import check_lengths
from convrnn.nn.initialisation import neutral_value, torch_initialise

PARALLEL: dict[str, type[nn.Module]] = {"mingru": MinGRU, "minlstm": MinLSTM, "qrnn": QRNN}
TORCH_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
# the cell each mode runs unless ``cell=`` says otherwise, and its options there
OWN_CELL = {"LSTM": ("lstm", {}), "GRU": ("gru", {"reset": "after"}),
            "RNN_TANH": ("elman", {"nonlinearity": "tanh"}), "RNN_RELU": ("elman", {"nonlinearity": "relu"})}
# options whose default value is dropped when another cell is chosen (LSTM's peephole=False, …)
CLASS_DEFAULTS = {"peephole": False, "reset": "after", "nonlinearity": "tanh"}
CUDNN_MODES = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN_TANH", "rnn_relu": "RNN_RELU"}

StateArg = Tensor | tuple[Tensor, ...]


class RNNBase(nn.Module):
    r"""The common part of :class:`LSTM`, :class:`GRU` and :class:`RNN` (torch's ``RNNBase``).

    Args (torch's): mode ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"), input_size H_in,
    hidden_size H, num_layers, bias, batch_first, dropout, bidirectional, proj_size P (LSTM
    only), device, dtype. Keyword-only (convrnn's): ``cell`` (None: the mode's own), ``layer_norm``,
    ``zoneout``, ``recurrent_dropout``, ``lookahead`` (see :class:`convrnn.layers.RNN`) and the
    cell's options. See the module docstring for what is torch's and what is added.

    ``use_native`` (default True): let plain stacks run on torch's kernels; False forces the
    engine (for comparisons).
    """

    mode: str

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 cell: str | type[Cell] | None = None, layer_norm: bool = False, zoneout: float = 0.0,
                 recurrent_dropout: float = 0.0, lookahead: int | None = None, **cell_options: Any) -> None:
        super().__init__()
        where = f"convrnn.nn.{type(self).__name__}"
        if mode not in OWN_CELL:
            raise ValueError(f"{where}: argument 'mode' expected one of {sorted(OWN_CELL)}, got {mode!r}")
        _check_torch_arguments(where, mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                               bidirectional, proj_size)
        _check_extras(where, layer_norm, zoneout, recurrent_dropout, lookahead, bidirectional)
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.layer_norm, self.zoneout, self.recurrent_dropout = layer_norm, float(zoneout), float(recurrent_dropout)
        self.lookahead = lookahead
        self.use_native = True
        self.cell, self.cell_options, self._family = _resolve_cell(where, mode, cell, cell_options, bias, proj_size,
                                                                   layer_norm, zoneout, recurrent_dropout, lookahead)
        engine = self._build_engine()
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        self._neutral: dict[str, float] = {}
        directions = 2 if bidirectional else 1
        for position, owner in enumerate(_parts(engine)):
            layer, direction = divmod(position, directions)
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            names = []
            for path, meta in _torch_ordered(owner):
                name = _face_name(path, self._family) + suffix
                self.register_parameter(name, nn.Parameter(torch.empty(meta.shape, device=device, dtype=dtype)))
                holder, _, leaf = path.rpartition(".")
                neutral = neutral_value(owner.get_submodule(holder), leaf)
                if neutral is not None:
                    self._neutral[name] = neutral
                names.append(name)
            self._flat_weights_names.extend(names)
            self._all_weights.append(names)
        self._attach(engine)
        self.reset_parameters()
        self.flatten_parameters()

    # ------------------------------------------------------------------ the engine behind the face

    def _build_engine(self) -> nn.Module:
        """A fresh ``layers`` stack of this configuration, time-major, on the meta device (no
        memory, no random draws); :meth:`_attach` then hands it this module's parameters."""
        with torch.device("meta"):
            if self._family == "parallel":
                return PARALLEL[self.cell](self.input_size, self.hidden_size, self.num_layers,
                                           bidirectional=self.bidirectional, dropout=self.dropout,
                                           batch_first=False, **self.cell_options)
            return stacks.RNN(self.cell, self.input_size, self.hidden_size, self.num_layers,
                       bidirectional=self.bidirectional, lookahead=self.lookahead, dropout=self.dropout,
                       batch_first=False, recurrent_dropout=self.recurrent_dropout, zoneout=self.zoneout,
                       **self.cell_options)

    def _attach(self, engine: nn.Module) -> None:
        """Keep ``engine`` outside the module tree (its parameters are this module's, under torch's
        names) and note where each of this module's parameters goes in it."""
        self.__dict__["_engine"] = engine   # not a submodule: no second name for each parameter
        bindings, zero_biases = [], []
        parameter_names = iter(self._flat_weights_names)
        for owner in _parts(engine):
            for path, _ in _torch_ordered(owner):
                holder, _, leaf = path.rpartition(".")
                bindings.append((next(parameter_names), owner.get_submodule(holder), leaf))
            zero_biases += [(owner, name) for name, _ in owner.named_buffers(recurse=False)]
        self.__dict__["_bindings"] = bindings
        self.__dict__["_zero_biases"] = zero_biases

    def _bind(self) -> None:
        """Point the engine at this module's current parameters (read with ``getattr``, so
        ``.to()``, ``load_state_dict(assign=True)``, ``torch.func.functional_call`` and weight
        parametrisations are all seen), and give bias-free cells zeros of the weights' kind."""
        for name, holder, leaf in self._bindings:
            holder._parameters[leaf] = getattr(self, name)
        if self._zero_biases:
            like = getattr(self, self._flat_weights_names[0])
            for owner, name in self._zero_biases:
                zeros = owner._buffers[name]
                if zeros.device != like.device or zeros.dtype != like.dtype:
                    owner._buffers[name] = torch.zeros(zeros.shape, device=like.device, dtype=like.dtype)

    def __getstate__(self) -> dict[str, Any]:
        # The engine is rebuilt on loading: a pickled module names only its own class (and a
        # user's cell class), as a pickled torch.nn.LSTM does.
        state = self.__dict__.copy()
        for key in ("_engine", "_bindings", "_zero_biases"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._attach(self._build_engine())

    def _replicate_for_data_parallel(self) -> RNNBase:
        replica = super()._replicate_for_data_parallel()
        replica._attach(self._build_engine())   # replicas run in threads: one engine each
        return replica

    # ------------------------------------------------------------------ torch's attributes

    @property
    def state_names(self) -> tuple[str, ...]:
        """The parts of the state ``hx``: ("h",) or the cell's, e.g. ("h", "c")."""
        return ("h",) if self._family == "parallel" else self._engine.cells[0].state_names

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """The size of each part of the state (H_out for h, H for an LSTM's c)."""
        return (self.hidden_size,) if self._family == "parallel" else self._engine.cells[0].state_sizes

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """The parameters of each layer and direction, as torch's ``all_weights`` (extras last)."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, name) for name in self._flat_weights_names]

    def reset_parameters(self) -> None:
        """torch's initialisation: every parameter U(−1/√H, 1/√H) in registration order; the
        extras that have a neutral value start there without drawing (``initialisation.py``)."""
        torch_initialise(((parameter, self._neutral.get(name)) for name, parameter in self.named_parameters()),
                         self.hidden_size)

    def flatten_parameters(self) -> None:
        """torch's ``flatten_parameters``: on a GPU with cuDNN, lay a plain stack's weights out as
        one block (cuDNN's fast path; what the native kernel then receives). A no-op elsewhere —
        on a CPU, and for stacks with extras, which cuDNN does not run."""
        if self._family != "rnn" or any(not name.startswith(TORCH_NAMES) for name in self._flat_weights_names):
            return
        mode = cell_mode(self._engine.cells[0])
        weights = self._flat_weights
        if mode is None or not all(isinstance(w, Tensor) for w in weights):
            return
        if any(w.dtype != weights[0].dtype or not w.is_cuda or not torch.backends.cudnn.is_acceptable(w)
               for w in weights):
            return
        if len({w.data_ptr() for w in weights}) != len(weights):
            return
        import torch.backends.cudnn.rnn as cudnn_rnn

        with torch.cuda.device_of(weights[0]), torch.no_grad():
            if torch._use_cudnn_rnn_flatten_weight():
                count = (4 if self.bias else 2) + (1 if self.proj_size else 0)
                torch._cudnn_rnn_flatten_weight(weights, count, self.input_size,
                                                cudnn_rnn.get_cudnn_mode(CUDNN_MODES[mode]), self.hidden_size,
                                                self.proj_size, self.num_layers, self.batch_first,
                                                bool(self.bidirectional))

    def _apply(self, fn: Any, recurse: bool = True) -> RNNBase:
        result = super()._apply(fn, recurse)
        self.flatten_parameters()   # as torch's, after .cuda()/.to()
        return result

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        own, own_options = OWN_CELL[self.mode]
        if self.cell != own:
            text += f", cell={self.cell if isinstance(self.cell, str) else self.cell.__name__!r}"
        for key, value in self.cell_options.items():
            if key not in ("bias", "proj_size") and own_options.get(key, CLASS_DEFAULTS.get(key)) != value:
                text += f", {key}={value!r}"
        for key, default in (("zoneout", 0.0), ("recurrent_dropout", 0.0), ("lookahead", None)):
            if getattr(self, key) != default:
                text += f", {key}={getattr(self, key)!r}"
        return text

    # ------------------------------------------------------------------ forward

    def forward(self, input: Tensor | PackedSequence, hx: StateArg | None = None, *,
                lengths: Tensor | None = None, return_states: bool = False) -> tuple[Any, ...]:
        r"""Run the stack: torch's ``forward(input, hx)``, plus ``lengths`` and ``return_states``.

        Args:
            input: (L, N, H_in), (N, L, H_in) with ``batch_first=True``, (L, H_in) unbatched, or
                a ``PackedSequence``.
            hx: None for zeros; the state, each part (D·num_layers, N, S) — (D·num_layers, S)
                unbatched — with S = H_out for h and H for an LSTM's c: a tensor for one-part
                states, a tuple (h_0, c_0) for the LSTM. Row k·D + d is layer k, direction d.
                With a ``PackedSequence`` its rows follow the batch's original order.
            lengths: (N,) integers in [1, L]: each sequence's length, padding after it. Outputs
                past the end are 0 and the final state is each sequence's own (masking, the
                same results as packing; not with a ``PackedSequence``, which has its own).
            return_states: also return every step's state of every layer.

        Returns:
            ``(output, h_n)`` — ``(output, (h_n, c_n))`` for two-part states — and with
            ``return_states=True`` a third result: per state part (L, N, num_layers, D·S)
            ((N, L, …) with ``batch_first``, (L, num_layers, D·S) unbatched, a
            ``PackedSequence`` of (·, num_layers, D·S) for packed input). output: (L, N, D·H_out)
            (batch_first: (N, L, D·H_out); unbatched (L, D·H_out)), or a ``PackedSequence``
            where the input was one; h_n like hx.
        """
        where = f"convrnn.nn.{type(self).__name__}.forward"
        self._bind()
        engine = self._engine
        engine.training, engine.dropout = self.training, self.dropout
        if self._family == "rnn":
            engine.use_native = self.use_native
            engine.zoneout, engine.recurrent_dropout = self.zoneout, self.recurrent_dropout
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise ValueError(f"{where}: argument 'lengths' expected None with a PackedSequence input "
                                 f"(it carries its own lengths), got {type(lengths).__name__}")
            x, packed_lengths = pad_packed_sequence(input)
            lengths = packed_lengths
            batched = True
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"{where}: argument 'input' expected a torch.Tensor or a PackedSequence, "
                                f"got {type(input).__name__}")
            if input.dim() not in (2, 3):
                raise ValueError(f"{where}: argument 'input' expected a 3-D (L, N, H_in) / (N, L, H_in) or "
                                 f"an unbatched 2-D (L, H_in) tensor, got shape {tuple(input.shape)}")
            batched = input.dim() == 3
            x = (input.transpose(0, 1) if self.batch_first else input) if batched else input.unsqueeze(1)
        self._check_input(x, where)
        steps, batch = x.shape[:2]
        if lengths is not None:
            lengths = check_lengths(lengths, batch, steps, x.device, where)
        state = self._initial_state(hx, batched, batch, x, where)
        output, final, *rest = engine(x, lengths, state, return_states)
        states = rest[0] if return_states else None
        as_parts = isinstance(final, tuple)
        if packed:
            output = _pack_like(output, input, packed_lengths)
            if states is not None:
                states = _map(states, lambda s: _pack_like(s, input, packed_lengths))
        elif not batched:
            output, final = output.squeeze(1), _map(final, lambda s: s.squeeze(1))
            if states is not None:
                states = _map(states, lambda s: s.squeeze(1))
        elif self.batch_first:
            output = output.transpose(0, 1)
            if states is not None:
                states = _map(states, lambda s: s.transpose(0, 1))
        final = tuple(final) if as_parts else final
        return (output, final) if states is None else (output, final, states)

    def _check_input(self, x: Tensor, where: str) -> None:
        weight = getattr(self, self._flat_weights_names[0])
        if not x.is_floating_point():
            raise TypeError(f"{where}: argument 'input' expected a floating-point tensor, got dtype {x.dtype}")
        if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise ValueError(f"{where}: argument 'input' expected dtype {weight.dtype} (that of the weights), "
                             f"got {x.dtype}; convert the input with input.to({weight.dtype}) or the model "
                             f"with model.to({x.dtype})")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{where}: argument 'input' expected input_size = {self.input_size} features in "
                             f"the last dimension, got {x.shape[-1]}")
        if x.shape[0] == 0:
            raise ValueError(f"{where}: argument 'input' expected at least one step, got 0")

    def _initial_state(self, hx: Any, batched: bool, batch: int, x: Tensor, where: str) -> StateArg | None:
        """hx validated and brought to the engine's (D·num_layers, N, S) parts."""
        if hx is None:
            return None
        names, sizes = self.state_names, self.state_sizes
        rows = self.num_layers * (2 if self.bidirectional else 1)
        if len(names) == 1:
            if not isinstance(hx, Tensor):
                hint = ""
                if isinstance(hx, tuple | list):
                    hint = (f" — a script written for an LSTM passes (h, c), but the state of cell "
                            f"{self._cell_label()} is h alone: pass h (and expect h back), e.g. with the model "
                            f"built as convrnn.nn.GRU(..., cell={self._cell_label()})")
                raise TypeError(f"{where}: argument 'hx' expected one tensor h (D·num_layers, N, H_out), got a "
                                f"{type(hx).__name__}" + (f" of {len(hx)}" if isinstance(hx, tuple | list) else "")
                                + hint)
            parts = (hx,)
        else:
            if not isinstance(hx, tuple | list) or len(hx) != len(names):
                got = f"a {type(hx).__name__} of {len(hx)}" if isinstance(hx, tuple | list) else type(hx).__name__
                raise TypeError(f"{where}: argument 'hx' expected a tuple of {len(names)} tensors "
                                f"({', '.join(names)}) for cell {self._cell_label()}, got {got}")
            parts = tuple(hx)
        checked = []
        for name, part, size in zip(names, parts, sizes, strict=True):
            label = f"hx ({name})"
            if not isinstance(part, Tensor):
                raise TypeError(f"{where}: argument '{label}' expected a torch.Tensor, got {type(part).__name__}")
            if part.dim() != (3 if batched else 2):
                raise ValueError(f"{where}: argument '{label}' expected a {3 if batched else 2}-D tensor for "
                                 f"{'batched 3-D' if batched else 'unbatched 2-D'} input, got shape "
                                 f"{tuple(part.shape)}")
            expected = (rows, batch, size) if batched else (rows, size)
            if tuple(part.shape) != expected:
                raise ValueError(f"{where}: argument '{label}' expected shape (D·num_layers, "
                                 f"{'N, ' if batched else ''}{name} size) = {expected}, got {tuple(part.shape)}")
            if not part.is_floating_point() or (part.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type)):
                raise TypeError(f"{where}: argument '{label}' expected dtype {x.dtype} (that of the input), "
                                f"got {part.dtype}")
            checked.append(part if batched else part.unsqueeze(1))
        return checked[0] if len(checked) == 1 else tuple(checked)

    def _cell_label(self) -> str:
        return repr(self.cell) if isinstance(self.cell, str) else self.cell.__name__


class LSTM(RNNBase):
    r"""``torch.nn.LSTM`` on convrnn's engine; ``peephole=True`` adds seed 002's diagonal V terms.

    For each layer (torch's equations; W, b of layer k, x_t its input):

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t−1} + b_hi [+ V_i ∘ c_{t−1}])
        f_t = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf [+ V_f ∘ c_{t−1}])
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t−1} + b_hg)
        o_t = σ(W_io x_t + b_io + W_ho h_{t−1} + b_ho [+ V_o ∘ c_t])
        c_t = f_t ∘ c_{t−1} + i_t ∘ g_t,    h_t = o_t ∘ tanh(c_t)   (h_t = W_hr h_t with proj_size)

    the bracketed terms with ``peephole=True`` (``weight_peephole_l{k}`` (3, H) = V_i, V_f, V_o,
    starting at 0). Arguments, shapes and the other extras: see :class:`RNNBase` and the module
    docstring. ``forward(input, hx=None)`` → ``(output, (h_n, c_n))``.

    Example (the one-line change from torch: ``from convrnn import nn``)::

        >>> rnn = nn.LSTM(10, 20, 2)
        >>> output, (hn, cn) = rnn(torch.randn(5, 3, 10), (torch.randn(2, 3, 20), torch.randn(2, 3, 20)))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 peephole: bool = False, cell: str | type[Cell] | None = None, layer_norm: bool = False,
                 zoneout: float = 0.0, recurrent_dropout: float = 0.0, lookahead: int | None = None,
                 **cell_options: Any) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype, cell=cell, layer_norm=layer_norm, zoneout=zoneout,
                         recurrent_dropout=recurrent_dropout, lookahead=lookahead, peephole=peephole,
                         **cell_options)


class GRU(RNNBase):
    r"""``torch.nn.GRU`` on convrnn's engine; ``reset="before"`` is seed 002's GRU.

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t−1} + b_hr)
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t ∘ (W_hn h_{t−1} + b_hn))      (reset="after", torch's)
        n_t = tanh(W_in x_t + b_in + W_hn (r_t ∘ h_{t−1}) + b_hn)      (reset="before")
        h_t = (1 − z_t) ∘ n_t + z_t ∘ h_{t−1}

    Same parameters for both. ``cell="mgu"`` runs the minimal gated unit in this face (state h
    alone, as a GRU's). Arguments, shapes and extras: :class:`RNNBase`, the module docstring.
    ``forward(input, hx=None)`` → ``(output, h_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 reset: str = "after", cell: str | type[Cell] | None = None, layer_norm: bool = False,
                 zoneout: float = 0.0, recurrent_dropout: float = 0.0, lookahead: int | None = None,
                 **cell_options: Any) -> None:
        if "proj_size" in cell_options:
            raise ValueError("convrnn.nn.GRU: argument 'proj_size' is only supported for LSTM, not RNN or GRU "
                             "(as torch.nn.GRU)")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype, cell=cell, layer_norm=layer_norm, zoneout=zoneout,
                         recurrent_dropout=recurrent_dropout, lookahead=lookahead, reset=reset, **cell_options)


class RNN(RNNBase):
    r"""``torch.nn.RNN`` (Elman) on convrnn's engine.

        h_t = g(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh),   g = tanh or ReLU (``nonlinearity``)

    ``cell="jordan"`` runs seed 000's Jordan network in this face (state (h, y)).
    Arguments, shapes and extras: :class:`RNNBase`, the module docstring.
    ``forward(input, hx=None)`` → ``(output, h_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 cell: str | type[Cell] | None = None, layer_norm: bool = False, zoneout: float = 0.0,
                 recurrent_dropout: float = 0.0, lookahead: int | None = None, **cell_options: Any) -> None:
        if "proj_size" in cell_options:
            raise ValueError("convrnn.nn.RNN: argument 'proj_size' is only supported for LSTM, not RNN or GRU "
                             "(as torch.nn.RNN)")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"convrnn.nn.RNN: argument 'nonlinearity' expected 'tanh' or 'relu', "
                             f"got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype, cell=cell,
                         layer_norm=layer_norm, zoneout=zoneout, recurrent_dropout=recurrent_dropout,
                         lookahead=lookahead, nonlinearity=nonlinearity, **cell_options)


# ---------------------------------------------------------------------- helpers


def _check_torch_arguments(where: str, mode: str, input_size: Any, hidden_size: Any, num_layers: Any, bias: Any,
                           batch_first: Any, dropout: Any, bidirectional: Any, proj_size: Any) -> None:
    """torch's checks, with torch's exception types and warning, in convrnn's wording."""
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout <= 1:
        raise ValueError(f"{where}: argument 'dropout' expected a probability in [0, 1] (of zeroing an element "
                         f"between layers), got {dropout!r}")
    for name, value in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
        if not isinstance(value, bool):
            raise TypeError(f"{where}: argument '{name}' expected a bool, got {value!r}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where}: argument '{name}' expected an int, got {type(value).__name__} {value!r}")
        if value <= 0:
            raise ValueError(f"{where}: argument '{name}' expected an int greater than zero, got {value}")
    if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
        raise ValueError(f"{where}: argument 'proj_size' expected a positive int or zero (no projection), "
                         f"got {proj_size!r}")
    if proj_size >= hidden_size:
        raise ValueError(f"{where}: argument 'proj_size' expected an int smaller than hidden_size = "
                         f"{hidden_size}, got {proj_size}")
    if proj_size and mode != "LSTM":
        raise ValueError(f"{where}: argument 'proj_size' is only supported for LSTM, not RNN or GRU, "
                         f"got {proj_size}")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                      f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                      stacklevel=4)


def _check_extras(where: str, layer_norm: Any, zoneout: Any, recurrent_dropout: Any, lookahead: Any,
                  bidirectional: bool) -> None:
    if not isinstance(layer_norm, bool):
        raise TypeError(f"{where}: argument 'layer_norm' expected a bool, got {layer_norm!r}")
    for name, value in (("zoneout", zoneout), ("recurrent_dropout", recurrent_dropout)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ValueError(f"{where}: argument '{name}' expected a probability in [0, 1), got {value!r}")
    if lookahead is not None:
        if isinstance(lookahead, bool) or not isinstance(lookahead, int) or lookahead < 0:
            raise ValueError(f"{where}: argument 'lookahead' expected None or an int ≥ 0, got {lookahead!r}")
        if not bidirectional:
            raise ValueError(f"{where}: argument 'lookahead' limits the backward direction and needs "
                             f"bidirectional=True, got bidirectional={bidirectional}")


def _resolve_cell(where: str, mode: str, cell: Any, options: dict[str, Any], bias: bool, proj_size: int,
                  layer_norm: bool, zoneout: float, recurrent_dropout: float,
                  lookahead: int | None) -> tuple[str | type[Cell], dict[str, Any], str]:
    """(the cell: a name or a Cell subclass, the options its constructor gets, "rnn" or "parallel")."""
    own, own_options = OWN_CELL[mode]
    if cell is None:
        cell = own
    if isinstance(cell, str):
        names = sorted({*CELLS, *PARALLEL})
        if cell.lower() not in names:
            raise ValueError(f"{where}: argument 'cell' expected one of {names} or a convrnn Cell subclass, "
                             f"got {cell!r}")
        cell = cell.lower()
        cell = "elman" if cell == "rnn" else cell
    elif not (isinstance(cell, type) and issubclass(cell, Cell)):
        raise TypeError(f"{where}: argument 'cell' expected a name or a convrnn Cell subclass, got {cell!r}")
    if cell == own:
        options = {**own_options, **options}
    else:   # the class's own options at their defaults do not concern another cell
        options = {key: value for key, value in options.items() if CLASS_DEFAULTS.get(key, object()) != value}
    if proj_size:
        options["proj_size"] = proj_size
    if not bias:
        options["bias"] = False
    if layer_norm:
        options["layer_norm"] = True
    label = repr(cell) if isinstance(cell, str) else cell.__name__
    if cell in PARALLEL:
        refused = [name for name, value, default in (
            ("layer_norm", layer_norm, False), ("zoneout", zoneout, 0.0), ("recurrent_dropout", recurrent_dropout, 0.0),
            ("lookahead", lookahead, None), ("bias", bias, True), ("proj_size", proj_size, 0)) if value != default]
        if refused:
            raise ValueError(f"{where}: cell {label} runs on the parallel scan, which takes none of {refused}")
        accepted = {"window"} | ({"pooling"} if cell == "qrnn" else set())
        family = "parallel"
    else:
        kind = CELLS[cell] if isinstance(cell, str) else cell
        signature = inspect.signature(kind.__init__).parameters
        accepted = {name for name, parameter in signature.items()
                    if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)} \
            - {"self", "input_size", "hidden_size"}
        family = "rnn"
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise TypeError(f"{where}: unexpected keyword argument(s) {unknown} for cell {label}, whose options are "
                        f"{sorted(accepted)}")
    return cell, options, family


def _parts(engine: nn.Module) -> list[nn.Module]:
    """The engine's per layer-and-direction modules, in torch's order (row k·D + d)."""
    return list(engine.cells) if isinstance(engine, stacks.RNN) else list(engine.projections)


def _torch_ordered(owner: nn.Module) -> list[tuple[str, Tensor]]:
    """owner's parameters, torch's first in torch's order (w_ih, w_hh, b_ih, b_hh, w_hr), then
    the rest in registration order."""
    rank = {name: index for index, name in enumerate(TORCH_NAMES)}
    named = sorted(enumerate(owner.named_parameters()), key=lambda item: (rank.get(item[1][0], len(rank)), item[0]))
    return [item for _, item in named]


def _face_name(path: str, family: str) -> str:
    """The name (without layer suffix) under which a cell's parameter ``path`` is registered."""
    if family == "parallel":
        return {"weight": "weight_ih", "bias": "bias_ih"}[path]
    return path.replace(".", "_")


def _map(value: Any, function: Any) -> Any:
    return tuple(function(v) for v in value) if isinstance(value, tuple) else function(value)


def _pack_like(padded: Tensor, packed: PackedSequence, lengths: Tensor) -> PackedSequence:
    """padded (T, N, …) in the batch's original order → a PackedSequence with ``packed``'s batch
    sizes and orderings: step t holds the sequences longer than t, in sorted order."""
    sorted_indices = packed.sorted_indices
    if sorted_indices is not None:
        padded = padded.index_select(1, sorted_indices)
        lengths = lengths[sorted_indices.cpu()]
    mask = torch.arange(padded.shape[0]).unsqueeze(1) < lengths.unsqueeze(0)
    return PackedSequence(padded[mask.to(padded.device)], packed.batch_sizes, packed.sorted_indices,
                          packed.unsorted_indices)
