"""Recurrent cells: each declares its step equations and nothing else; the engine (scan.py) runs them.

Notation (seeds 000 and 002): x_t the input at step t, h_t the hidden state, W input matrices,
U recurrent matrices, V diagonal peephole weights, σ the logistic sigmoid, ∘ the elementwise
product. Letters: N batch, F input features, H hidden units.

A cell owns
- ``weight_ih`` (chunks·H, F) and ``bias_ih`` (chunks·H,): the input projections W x_t + b of
  its ``chunks`` gates, which the engine computes for all steps in one matrix product
  (:meth:`Cell.project`) before the loop;
- its recurrent parameters (``weight_hh``, ``bias_hh`` for the torch-shaped cells), used in
  :meth:`Cell.step` through :meth:`Cell.recurrent`;
- ``state_names``: the components of its state (``("h",)``, ``("h", "c")``, ``("h", "y")``) and
  ``output_index``: which component is the output fed to the next layer and, through the
  recurrent matrices, to the next step.

The torch-shaped cells (Elman, LSTM, GRU with ``reset="after"``) store their parameters exactly
like one layer of ``torch.nn.RNN``/``LSTM``/``GRU`` (gate order i, f, g, o and r, z, n), so weights
copy over unchanged.

Initialisation (:meth:`Cell.reset_parameters`): each gate block of ``weight_ih`` Xavier/Glorot
uniform, each (H, H) block of ``weight_hh`` orthogonal, biases 0 — except the LSTM forget gate,
whose total bias b_f = 1 (Gers et al., 2000; Jozefowicz et al., 2015) sits in ``bias_ih``.
(:mod:`convrnn.nn`'s cells keep torch's initialisation instead.)

``bias=False`` (as in torch): the cell has no bias parameters; ``bias_ih``, ``bias_hh`` (and
Jordan's ``bias_ho``) are then zero buffers, not saved, that the equations read alike.

One step: calling a cell, ``cell(x, state) -> state``, runs its equations once, like torch's
``nn.LSTMCell`` — for loops that manage backpropagation through time themselves (seed 004).
Plain LSTM, GRU (``reset="after"``) and Elman cells run that step on torch's fused cell kernels
(``native.py``), the others on :meth:`Cell.step`.
"""

from __future__ import annotations

import copy
import functools
import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrnn.functional._checks import check_choice, check_flag, check_int, check_like
from convrnn.layers.recurrent.options import BlockLayerNorm

State = tuple[Tensor, ...]
StateArg = Tensor | tuple[Tensor, ...]


class Cell(nn.Module):
    """Base class of a recurrent cell: parameters, input projection and step equations.

    Subclasses set ``chunks``, ``state_names``, ``output_index`` and implement :meth:`step`.
    With ``layer_norm=True`` every block of the input and recurrent projections is layer
    normalised (see ``options.py`` for the exact formulation); with ``bias=False`` the cell has
    no bias parameters (zero buffers stand in for them).

    Calling the cell runs one step (:meth:`forward`).
    """

    chunks: ClassVar[int] = 1
    state_names: ClassVar[tuple[str, ...]] = ("h",)
    output_index: ClassVar[int] = 0
    #: the names :meth:`forward`'s errors give its two arguments (torch's cells say input, hx)
    argument_names: ClassVar[tuple[str, str]] = ("x", "state")

    def __init__(self, input_size: int, hidden_size: int, *, layer_norm: bool = False,
                 bias: bool = True) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{type(self).__name__}: argument '{name}' expected a positive "
                                 f"int, got {value!r}")
        for name, value in (("layer_norm", layer_norm), ("bias", bias)):
            if not isinstance(value, bool):
                raise TypeError(f"{type(self).__name__}: argument '{name}' expected a bool, got {value!r}")
        self.input_size, self.hidden_size, self.layer_norm = input_size, hidden_size, layer_norm
        self.bias = bias
        size = self.chunks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(size, input_size))
        self.add_bias("bias_ih", size)
        self.input_norm = BlockLayerNorm(self.chunks, hidden_size) if layer_norm else None
        self.recurrent_norm: BlockLayerNorm | None = None

    def add_bias(self, name: str, size: int) -> None:
        """Register the bias ``name`` of ``size`` entries: a parameter, or with ``bias=False`` a
        zero buffer (not saved in state dicts) that the equations and the compiled core read alike."""
        if self.bias:
            setattr(self, name, nn.Parameter(torch.empty(size)))
        else:
            self.register_buffer(name, torch.zeros(size), persistent=False)

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """Size of each state component (all H unless a cell says otherwise)."""
        return (self.hidden_size,) * len(self.state_names)

    @property
    def output_size(self) -> int:
        return self.state_sizes[self.output_index]

    def config(self) -> dict[str, Any]:
        """Constructor options besides the sizes, so :meth:`like` can rebuild the cell."""
        return {"layer_norm": self.layer_norm, "bias": self.bias}

    def extra_repr(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{self.input_size}, {self.hidden_size}, {options}"

    def like(self, input_size: int) -> Cell:
        """A freshly initialised cell of the same kind, options, dtype and device reading
        ``input_size`` features."""
        twin = type(self)(input_size, self.hidden_size, **self.config())
        return twin.to(device=self.weight_ih.device, dtype=self.weight_ih.dtype)

    def reset_parameters(self) -> None:
        H = self.hidden_size
        with torch.no_grad():
            for block in self.weight_ih.split(H):
                nn.init.xavier_uniform_(block)
            self.bias_ih.zero_()
            if hasattr(self, "weight_hh"):
                for block in self.weight_hh.split(H):
                    nn.init.orthogonal_(block)
            if hasattr(self, "bias_hh"):
                self.bias_hh.zero_()

    def forward(self, x: Tensor, state: StateArg | None = None) -> StateArg:
        """One step of the cell's equations, like torch's cells: the new state from x_t and the
        previous state.

        x: (N, F), or (F,) for one unbatched sequence. state: None for zeros, else the previous
        state: for one-component cells a tensor (N, S) (torch's ``GRUCell``/``RNNCell`` ``hx``),
        otherwise a tuple with one (N, S_k) tensor per component (an LSTM's (h, c), a Jordan
        cell's (h, y)); (S_k,) for unbatched x. Returns the new state in the same structure; its
        output component (h; Jordan's y) is what feeds the next layer. Gradients flow through
        the state, so a loop over steps is backpropagation through time.
        """
        if not isinstance(x, Tensor) or x.dim() not in (1, 2) or x.shape[-1] != self.input_size \
                or not x.is_floating_point():
            self._refuse_input(x)
        check_like(self.argument_names[0], x, self.weight_ih, where=f"{type(self).__name__}.forward",
                   reference_name="the cell's parameters")
        batched = x.dim() == 2
        x = x if batched else x.unsqueeze(0)
        components = self._step_state(state, x, batched)
        from convrnn.layers.recurrent.native import native_step  # native.py dispatches on these cells

        new = native_step(self, x, components)
        if new is None:
            new = self.step(self.project(x), components, components[self.output_index])
        if not batched:
            new = tuple(s.squeeze(0) for s in new)
        return new[0] if len(new) == 1 else new

    def _refuse_input(self, x: object) -> None:
        """forward()'s error for an input it cannot step on (built only then: forward runs per step)."""
        where, name = f"{type(self).__name__}.forward", self.argument_names[0]
        if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() not in (1, 2):
            got = f"shape {tuple(x.shape)}, dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{where}: argument '{name}' expected a floating-point (N, F) or (F,) tensor, got {got}")
        raise ValueError(f"{where}: argument '{name}' expected {self.input_size} features in the last dimension "
                         f"(input_size), got shape {tuple(x.shape)}")

    def _step_state(self, state: StateArg | None, x: Tensor, batched: bool) -> State:
        """forward()'s state, validated, as (N, S_k) tensors (zeros for None)."""
        batch, sizes = x.shape[0], self.state_sizes
        if state is None:
            return tuple(x.new_zeros(batch, size) for size in sizes)
        if isinstance(state, Tensor) and len(sizes) == 1:
            state = (state,)
        where, name = f"{type(self).__name__}.forward", self.argument_names[1]
        if not isinstance(state, tuple | list) or len(state) != len(sizes):
            want = "a tensor" if len(sizes) == 1 else f"a tuple of {len(sizes)} tensors"
            got = f"a {type(state).__name__} of {len(state)} tensors" if isinstance(state, tuple | list) \
                else type(state).__name__
            raise TypeError(f"{where}: argument '{name}' expected {want} ({', '.join(self.state_names)}), "
                            f"got {got}")
        for part, component, size in zip(self.state_names, state, sizes, strict=True):
            expected = (batch, size) if batched else (size,)
            if not isinstance(component, Tensor) or component.shape != expected:
                got = tuple(component.shape) if isinstance(component, Tensor) else type(component).__name__
                raise ValueError(f"{where}: argument '{name} ({part})' expected shape {expected}, got {got}")
            check_like(f"{name} ({part})", component, x, where=where, reference_name="the input", dtype=False)
            if component.dtype != x.dtype and (not component.is_floating_point()
                                               or not torch.is_autocast_enabled(x.device.type)):
                raise TypeError(f"{where}: argument '{name} ({part})' expected dtype {x.dtype} (that of "
                                f"the input), got {component.dtype}")
        return tuple(state) if batched else tuple(component.unsqueeze(0) for component in state)

    def project(self, x: Tensor) -> Tensor:
        """W x + b for every gate at once: x (..., F) → (..., chunks·H)."""
        if self.input_norm is None:
            return F.linear(x, self.weight_ih, self.bias_ih)
        return self.input_norm(F.linear(x, self.weight_ih), bias=self.bias_ih)

    def recurrent(self, u: Tensor, first: int = 0, count: int | None = None) -> Tensor:
        """U u + b for gate blocks ``first … first+count−1`` (all by default): u (N, S) → (N, count·H)."""
        weight, bias = self.weight_hh, self.bias_hh
        if first or count is not None:
            H = self.hidden_size
            rows = slice(first * H, None if count is None else (first + count) * H)
            weight, bias = weight[rows], bias[rows]
        if self.recurrent_norm is None:
            return F.linear(u, weight, bias)
        return self.recurrent_norm(F.linear(u, weight), first) + bias

    def step(self, xw: Tensor, state: State, feedback: Tensor) -> State:
        """One step. xw: (N, chunks·H) the projected input W x_t + b; state: the previous state
        components, each (N, S_k); feedback: (N, S_out) the output component of the previous
        state as it enters the recurrent matrices (after recurrent dropout, if any).
        Returns the new state components."""
        raise NotImplementedError


class ElmanCell(Cell):
    """Elman network (seed 000's first design choice; ``torch.nn.RNN``; seed 001's
    z_t = σ(V z_{t−1} + W x_t + b) with V = U, z = h).

        h_t = g(W x_t + b_W + U h_{t−1} + b_U)

    g (``nonlinearity``; seed 002 lists the first four):
        "tanh"        tanh(a)                         (default; ``torch.nn.RNN``)
        "relu"        max(a, 0)                       (``torch.nn.RNN(nonlinearity="relu")``)
        "sigmoid"     σ(a) = 1 / (1 + e^{−a})          (seed 001's σ)
        "leaky_relu"  a for a > 0, s·a otherwise       (s = ``negative_slope`` ≥ 0, default 0.01)
        "identity"    a                               (seed 004's linearised RNN:
                                                        h_t = U h_{t−1} + …, whose gradients
                                                        through time are powers of U)

    Parameters as ``torch.nn.RNN``: weight_ih (H, F), weight_hh (H, H), bias_ih, bias_hh (H,).
    ``negative_slope`` must be finite and ≥ 0 (so that h_t > 0 exactly where a > 0) and is
    accepted only with ``nonlinearity="leaky_relu"``.
    """

    chunks = 1
    nonlinearities: ClassVar[tuple[str, ...]] = ("tanh", "relu", "sigmoid", "leaky_relu", "identity")

    def __init__(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh",
                 negative_slope: float | None = None, layer_norm: bool = False, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, layer_norm=layer_norm, bias=bias)
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, self.nonlinearities, where="ElmanCell")
        self.negative_slope = check_slope(nonlinearity, negative_slope, "ElmanCell")
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.add_bias("bias_hh", hidden_size)
        self.recurrent_norm = BlockLayerNorm(1, hidden_size) if layer_norm else None
        self.reset_parameters()

    def config(self) -> dict[str, Any]:
        slope = {"negative_slope": self.negative_slope} if self.nonlinearity == "leaky_relu" else {}
        return {**super().config(), "nonlinearity": self.nonlinearity, **slope}

    def step(self, xw: Tensor, state: State, feedback: Tensor) -> State:
        return (activate(xw + self.recurrent(feedback), self.nonlinearity, self.negative_slope),)


def check_slope(nonlinearity: str, negative_slope: object, where: str) -> float:
    """The leaky ReLU's slope s for ``nonlinearity`` (0.01 by default; 0 for the others): a finite
    float ≥ 0, given only with "leaky_relu"."""
    if negative_slope is None:
        return 0.01 if nonlinearity == "leaky_relu" else 0.0
    if nonlinearity != "leaky_relu":
        raise ValueError(f"{where}: argument 'negative_slope' applies to nonlinearity='leaky_relu', "
                         f"got negative_slope={negative_slope!r} with nonlinearity={nonlinearity!r}")
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, int | float) \
            or not math.isfinite(negative_slope) or negative_slope < 0:
        raise ValueError(f"{where}: argument 'negative_slope' expected a finite number ≥ 0, got {negative_slope!r}")
    return float(negative_slope)


def activate(a: Tensor, nonlinearity: str, negative_slope: float = 0.0) -> Tensor:
    """An Elman cell's g(a) (see :class:`ElmanCell`): a: any shape → the same shape."""
    if nonlinearity == "tanh":
        return torch.tanh(a)
    if nonlinearity == "relu":
        return torch.relu(a)
    if nonlinearity == "sigmoid":
        return torch.sigmoid(a)
    if nonlinearity == "leaky_relu":
        return F.leaky_relu(a, negative_slope)
    return a


class JordanCell(Cell):
    """Jordan network (seed 000's second design choice): the recurrence runs from the previous
    *output* to the hidden units.

        h_t = g(U x_t + b + W y_{t−1})
        y_t = d(c + V h_t)

    g ∈ {tanh, relu}; d the decision function ∈ {identity, tanh, sigmoid, softmax}.
    State (h_t, y_t) with h_t (N, H) and y_t (N, O), O = ``output_size`` (default H); the output
    is y_t. Parameters: weight_ih U (H, F), bias_ih b (H,), weight_hh W (H, O),
    weight_ho V (O, H), bias_ho c (O,).
    """

    chunks = 1
    state_names = ("h", "y")
    output_index = 1
    decisions: ClassVar[tuple[str, ...]] = ("identity", "tanh", "sigmoid", "softmax")

    def __init__(self, input_size: int, hidden_size: int, *, output_size: int | None = None,
                 nonlinearity: str = "tanh", decision: str = "identity",
                 layer_norm: bool = False, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, layer_norm=layer_norm, bias=bias)
        if output_size is not None:
            check_int("output_size", output_size, minimum=1, where="JordanCell")
        self.out_features = hidden_size if output_size is None else output_size
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, ("tanh", "relu"),
                                         where="JordanCell")
        self.decision = check_choice("decision", decision, self.decisions, where="JordanCell")
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, self.out_features))
        self.weight_ho = nn.Parameter(torch.empty(self.out_features, hidden_size))
        self.add_bias("bias_ho", self.out_features)
        self.recurrent_norm = BlockLayerNorm(1, hidden_size) if layer_norm else None
        self.reset_parameters()

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, self.out_features)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "output_size": self.out_features,
                "nonlinearity": self.nonlinearity, "decision": self.decision}

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            nn.init.xavier_uniform_(self.weight_ho)
            self.bias_ho.zero_()

    def recurrent(self, u: Tensor, first: int = 0, count: int | None = None) -> Tensor:
        """W y_{t−1} (no second bias: b already sits in the input projection)."""
        a = F.linear(u, self.weight_hh)
        return a if self.recurrent_norm is None else self.recurrent_norm(a)

    def step(self, xw: Tensor, state: State, feedback: Tensor) -> State:
        a = xw + self.recurrent(feedback)
        h = torch.tanh(a) if self.nonlinearity == "tanh" else torch.relu(a)
        o = F.linear(h, self.weight_ho, self.bias_ho)
        if self.decision == "tanh":
            o = torch.tanh(o)
        elif self.decision == "sigmoid":
            o = torch.sigmoid(o)
        elif self.decision == "softmax":
            o = torch.softmax(o, dim=-1)
        return (h, o)


class LSTMCell(Cell):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997; seed 002).

        i_t = σ(W_i x_t + U_i h_{t−1} + V_i ∘ c_{t−1} + b_i)
        f_t = σ(W_f x_t + U_f h_{t−1} + V_f ∘ c_{t−1} + b_f)
        c̃_t = tanh(W_c x_t + U_c h_{t−1} + b_c)
        c_t = f_t ∘ c_{t−1} + i_t ∘ c̃_t
        o_t = σ(W_o x_t + U_o h_{t−1} + V_o ∘ c_t + b_o)
        h_t = o_t ∘ tanh(c_t)                      (with proj_size P > 0: h_t = W_hr (o_t ∘ tanh(c_t)))

    The V terms (diagonal peepholes, seed 002; Gers & Schmidhuber, 2000) exist only with
    ``peephole=True``; without them this is ``torch.nn.LSTM`` exactly (gate order i, f, g=c̃, o;
    weight_ih (4H, F), weight_hh (4H, H), bias_ih, bias_hh (4H,)). ``weight_peephole`` (3, H)
    holds V_i, V_f, V_o and starts at 0. State (h_t, c_t), output h_t.

    ``proj_size`` P > 0 (Sak et al., 2014; ``torch.nn.LSTM``'s ``proj_size``): h_t is projected to
    P features by ``weight_hr`` (P, H); then h_t (N, P), c_t (N, H) and weight_hh (4H, P).
    """

    chunks = 4
    state_names = ("h", "c")

    def __init__(self, input_size: int, hidden_size: int, *, peephole: bool = False,
                 proj_size: int = 0, layer_norm: bool = False, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, layer_norm=layer_norm, bias=bias)
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or not 0 <= proj_size < hidden_size:
            raise ValueError(f"{type(self).__name__}: argument 'proj_size' expected an int in "
                             f"[0, hidden_size) = [0, {hidden_size}), got {proj_size!r}")
        self.peephole, self.proj_size = check_flag("peephole", peephole, where=type(self).__name__), proj_size
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, proj_size or hidden_size))
        self.add_bias("bias_hh", 4 * hidden_size)
        self.weight_peephole = nn.Parameter(torch.empty(3, hidden_size)) if peephole else None
        self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size)) if proj_size else None
        self.recurrent_norm = BlockLayerNorm(4, hidden_size) if layer_norm else None
        self.cell_norm = BlockLayerNorm(1, hidden_size) if layer_norm else None
        self.reset_parameters()

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "peephole": self.peephole, "proj_size": self.proj_size}

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            if self.bias:
                self.bias_ih[self.hidden_size:2 * self.hidden_size] = 1.0  # forget gate
            if self.weight_peephole is not None:
                self.weight_peephole.zero_()
            if self.weight_hr is not None:
                nn.init.xavier_uniform_(self.weight_hr)

    def step(self, xw: Tensor, state: State, feedback: Tensor) -> State:
        c = state[1]
        i, f, g, o = (xw + self.recurrent(feedback)).chunk(4, dim=-1)
        peephole = self.weight_peephole
        if peephole is not None:   # V_i, V_f, V_o = rows 0, 1, 2 (indexed, not unpacked: see export_scan.py)
            i, f = i + peephole[0] * c, f + peephole[1] * c
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if peephole is not None:
            o = o + peephole[2] * c
        shown = c if self.cell_norm is None else self.cell_norm(c)
        h = torch.sigmoid(o) * torch.tanh(shown)
        return (h if self.weight_hr is None else F.linear(h, self.weight_hr), c)


class GRUCell(Cell):
    """Gated recurrent unit (Cho et al., 2014; seeds 002 and 004).

        r_t = σ(W_r x_t + U_r h_{t−1} + b_r)
        z_t = σ(W_z x_t + U_z h_{t−1} + b_z)
        reset="before" (seed 002):  h̃_t = tanh(W_h x_t + U_h (r_t ∘ h_{t−1}) + b_h)
        reset="after" (cuDNN, ``torch.nn.GRU``):  h̃_t = tanh(W_h x_t + r_t ∘ (U_h h_{t−1} + b_Uh))

    and ``z_multiplies`` says which state z_t keeps:

        "previous" (default; seed 002, Cho et al. 2014, ``torch.nn.GRU``):
            h_t = z_t ∘ h_{t−1} + (1 − z_t) ∘ h̃_t
        "candidate" (seed 004's eq. 8, h = (1 − z) ∘ h + z ∘ h̄; Chung et al. 2014):
            h_t = (1 − z_t) ∘ h_{t−1} + z_t ∘ h̃_t

    Since 1 − σ(a) = σ(−a), the two are one cell with the z pre-activation negated: a
    "candidate" cell equals the "previous" cell whose z rows of weight_ih, weight_hh, bias_ih,
    bias_hh (and, under layer norm, the z shifts of both norms) are negated —
    :func:`convert_z_convention` converts weights either way. The stored parameters (and state
    dicts) always mean what this cell's ``z_multiplies`` says; the Python engine (:meth:`step`)
    runs that equation literally, and the faster backends (compiled core, GPU kernels) run the
    "previous" form on the negated z weights, differentiably.

    Parameters as ``torch.nn.GRU`` for both variants (gate order r, z, n=h̃): weight_ih (3H, F),
    weight_hh (3H, H), bias_ih, bias_hh (3H,). With ``reset="after"`` and
    ``z_multiplies="previous"`` the cell is ``torch.nn.GRU`` exactly.
    """

    chunks = 3
    z_conventions: ClassVar[tuple[str, ...]] = ("previous", "candidate")

    def __init__(self, input_size: int, hidden_size: int, *, reset: str = "before",
                 z_multiplies: str = "previous", layer_norm: bool = False, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, layer_norm=layer_norm, bias=bias)
        self.reset = check_choice("reset", reset, ("before", "after"), where="GRUCell")
        self.z_multiplies = check_choice("z_multiplies", z_multiplies, self.z_conventions, where="GRUCell")
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.add_bias("bias_hh", 3 * hidden_size)
        self.recurrent_norm = BlockLayerNorm(3, hidden_size) if layer_norm else None
        self.reset_parameters()

    def config(self) -> dict[str, Any]:
        convention = {"z_multiplies": self.z_multiplies} if self.z_multiplies != "previous" else {}
        return {**super().config(), "reset": self.reset, **convention}

    def step(self, xw: Tensor, state: State, feedback: Tensor) -> State:
        h = state[0]
        x_r, x_z, x_h = xw.chunk(3, dim=-1)
        if self.reset == "after":
            u_r, u_z, u_h = self.recurrent(feedback).chunk(3, dim=-1)
            r, z = torch.sigmoid(x_r + u_r), torch.sigmoid(x_z + u_z)
            candidate = torch.tanh(x_h + r * u_h)
        else:
            u_r, u_z = self.recurrent(feedback, 0, 2).chunk(2, dim=-1)
            r, z = torch.sigmoid(x_r + u_r), torch.sigmoid(x_z + u_z)
            candidate = torch.tanh(x_h + self.recurrent(r * feedback, 2, 1))
        if self.z_multiplies == "candidate":
            return (h + z * (candidate - h),)
        # h̃ + z (h − h̃), not torch.lerp, which refuses mixed dtypes (a float32 state under autocast)
        return (candidate + z * (h - candidate),)

    def previous_form(self) -> GRUCell:
        """This cell in the ``z_multiplies="previous"`` form: itself where it is, else a view of it
        (sharing its modules' other parameters) whose z weights, biases and norm shifts are this
        cell's negated — differentiable tensors, so gradients reach this cell's parameters. For
        the backends that run only the "previous" equations; call it per forward pass."""
        if self.z_multiplies == "previous":
            return self
        twin = copy.copy(self)
        twin.__dict__ = dict(self.__dict__)
        twin._parameters, twin._buffers, twin._modules = {}, {}, dict(self._modules)
        twin.z_multiplies = "previous"
        H = self.hidden_size
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            value = getattr(self, name)
            flipped = torch.cat([value[:H], -value[H:2 * H], value[2 * H:]])
            (twin._parameters if name in self._parameters else twin._buffers)[name] = flipped
        for name in ("input_norm", "recurrent_norm"):
            norm = self._modules.get(name)
            if norm is not None:
                view = copy.copy(norm)
                view.__dict__ = dict(norm.__dict__)
                view._parameters = {"weight": norm.weight,
                                    "bias": torch.stack([norm.bias[0], -norm.bias[1], norm.bias[2]])}
                twin._modules[name] = view
        return twin


def convert_z_convention(module: nn.Module, z_multiplies: str) -> nn.Module:
    """A copy of ``module`` (a :class:`GRUCell`, a :class:`~convrnn.layers.recurrent.rnn.GRU` or
    any model holding them) whose every ``GRUCell`` runs with ``z_multiplies`` ("previous": seed
    002's h = z ∘ h + (1 − z) ∘ h̃; "candidate": seed 004's h = (1 − z) ∘ h + z ∘ h̄) and computes
    exactly what the original computes: where a cell's convention changes, its z gate's rows of
    weight_ih, weight_hh, bias_ih and bias_hh and its norms' z shifts are negated
    (1 − σ(a) = σ(−a)). The original is left unchanged."""
    check_choice("z_multiplies", z_multiplies, GRUCell.z_conventions, where="convert_z_convention")
    if not isinstance(module, nn.Module):
        raise TypeError(f"convert_z_convention: argument 'module' expected a torch.nn.Module, "
                        f"got {type(module).__name__}")
    converted = copy.deepcopy(module)
    with torch.no_grad():
        for cell in converted.modules():
            if isinstance(cell, GRUCell) and cell.z_multiplies != z_multiplies:
                H = cell.hidden_size
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, name)[H:2 * H].neg_()
                for norm in (cell.input_norm, cell.recurrent_norm):
                    if norm is not None:
                        norm.bias[1].neg_()
                cell.z_multiplies = z_multiplies
    return converted


def backend_form(cell: Cell) -> Cell:
    """The cell the faster backends run for ``cell``: a seed-004 GRU's "previous" form
    (:meth:`GRUCell.previous_form`), else ``cell`` itself."""
    if isinstance(cell, GRUCell) and cell.z_multiplies != "previous" and equations(cell) is GRUCell:
        return cell.previous_form()
    return cell


class _TwoBlockCell(Cell):
    """A cell whose recurrent product has two blocks of H rows: weight_hh (2H, H), bias_hh (2H,), and with
    ``layer_norm`` each block normalised on its own (the MGU and seed 001's gated unit)."""

    chunks = 2

    def __init__(self, input_size: int, hidden_size: int, *, layer_norm: bool = False,
                 bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, layer_norm=layer_norm, bias=bias)
        self.weight_hh = nn.Parameter(torch.empty(2 * hidden_size, hidden_size))
        self.add_bias("bias_hh", 2 * hidden_size)
        self.recurrent_norm = BlockLayerNorm(2, hidden_size) if layer_norm else None
        self.reset_parameters()


class MGUCell(_TwoBlockCell):
    """Minimal gated unit (Zhou et al., 2016, eq. 8): one forget gate.

        f_t = σ(W_f x_t + U_f h_{t−1} + b_f)
        h̃_t = tanh(W_h x_t + U_h (f_t ∘ h_{t−1}) + b_h)
        h_t = (1 − f_t) ∘ h_{t−1} + f_t ∘ h̃_t

    Parameters: weight_ih (2H, F), weight_hh (2H, H) = [U_f; U_h], bias_ih, bias_hh (2H,).
    """

    def step(self, xw: Tensor, state: State, feedback: Tensor) -> State:
        x_f, x_h = xw.chunk(2, dim=-1)
        f = torch.sigmoid(x_f + self.recurrent(feedback, 0, 1))
        candidate = torch.tanh(x_h + self.recurrent(f * feedback, 1, 1))
        return (state[0] + f * (candidate - state[0]),)


class GatedCell(_TwoBlockCell):
    """Seed 001's gated unit (its "Memory" slide): a gate g and a candidate ẑ, both of the RNN's
    form f(V z_{t−1} + W x_t + b), and no reset gate — a GRU without r, or an Elman cell whose
    update is gated.

        g_t = σ(W_g x_t + V_g h_{t−1} + b_g)
        ẑ_t = tanh(W_h x_t + V_h h_{t−1} + b_h)
        h_t = g_t ∘ h_{t−1} + (1 − g_t) ∘ ẑ_t            (seed 001: z_{t+1} = g_t ∘ z_t + (1 − g_t) ∘ ẑ_t)

    (seed 001 writes z for the state and V for the recurrent matrices; here h and weight_hh.)
    Unlike the GRU and the MGU the candidate reads h_{t−1} itself, not a gated copy, so each step
    is one product U h_{t−1} with U = [V_g; V_h].

    Parameters: weight_ih (2H, F) = [W_g; W_h], weight_hh (2H, H) = [V_g; V_h], bias_ih, bias_hh
    (2H,) (both biases add: b = b_ih + b_hh, as in torch's cells).
    """

    def step(self, xw: Tensor, state: State, feedback: Tensor) -> State:
        a_g, a_h = (xw + self.recurrent(feedback)).chunk(2, dim=-1)
        g, candidate = torch.sigmoid(a_g), torch.tanh(a_h)
        return (candidate + g * (state[0] - candidate),)


def equations(cell: Cell) -> type[Cell] | None:
    """The library cell class whose equations ``cell`` runs, for the faster backends to dispatch
    on: its own class, or the library class it derives from when it overrides none of
    :meth:`Cell.project`, :meth:`Cell.recurrent` and :meth:`Cell.step` (e.g. :mod:`convrnn.nn`'s
    cells, which change only initialisation and parameter order); None for any other cell, or
    where a ``step`` set on the instance replaces the equations."""
    if "step" in vars(cell):
        return None
    if torch.compiler.is_compiling():   # dynamo traces through functools' cache, warning that it does
        return _class_equations(type(cell))
    return _cached_class_equations(type(cell))


def _class_equations(kind: type[Cell]) -> type[Cell] | None:
    """:func:`equations` of a class (cached eagerly: a one-step call asks at every step)."""
    for base in kind.__mro__:
        if base in LIBRARY_CELLS:
            same = all(getattr(kind, name) is getattr(base, name) for name in ("project", "recurrent", "step"))
            return base if same else None
    return None


CELLS: dict[str, type[Cell]] = {
    "elman": ElmanCell,
    "rnn": ElmanCell,
    "jordan": JordanCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "mgu": MGUCell,
    "gated": GatedCell,
}

LIBRARY_CELLS = frozenset(CELLS.values())
_cached_class_equations = functools.cache(_class_equations)
