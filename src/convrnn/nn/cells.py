r"""torch.nn's recurrent cells — ``LSTMCell``, ``GRUCell``, ``RNNCell`` — to the letter, one step per call.

Each is the :mod:`convrnn.layers` cell of the same equations (``layers/recurrent/cells.py``, the
single source of truth) with torch's face: torch's constructor (``input_size, hidden_size,
bias=True[, nonlinearity], device=None, dtype=None``), parameters ``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh`` registered in torch's order and drawn from U(−1/√H, 1/√H) as torch
draws them (the same seed gives the same numbers; state dicts load both ways), and
``forward(input, hx=None)``: input (N, H_in) or (H_in,), hx as torch's, the new state back in
torch's structure (a tensor h', or (h', c') for the LSTM). The plain cells step on torch's own
fused cell kernels, so a loop over steps — backpropagation through time managed by the script
(seed 004) — gives torch's numbers.

Extras, keyword-only: ``peephole`` (LSTM; ``weight_peephole`` (3, H), starting at 0),
``layer_norm`` (``input_norm.weight``/``.bias`` etc., gains 1 and shifts 0), ``reset="before"``
(GRU). Both stay neutral at initialisation, so the extended cell starts as torch's. The
whole-sequence options (zoneout, recurrent dropout, look-ahead) belong to the stacks
(:mod:`convrnn.nn.rnn`), which run the same cells over time. Other cells (MGU, Jordan) step the
same way as :mod:`convrnn.layers` cells (``convrnn.layers.MGUCell(F, H)(x, h)``).

Differences from torch: with ``bias=False``, ``bias_ih``/``bias_hh`` are zero buffers (not saved)
instead of None; errors are ``ValueError``/``TypeError`` naming the argument.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from convrnn.layers.recurrent import cells
from convrnn.layers.recurrent.cells import Cell, StateArg
from convrnn.nn.initialisation import materialise, neutral_value, torch_initialise

TORCH_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class RNNCellBase(Cell):
    """The common part of convrnn.nn's cells (torch's ``RNNCellBase``): torch's parameter order
    and initialisation over a :mod:`convrnn.layers` cell; ``forward(input, hx=None)``."""

    argument_names = ("input", "hx")

    def _finish(self, device: torch.device | str | None, dtype: torch.dtype | None) -> None:
        """After the layers cell was built on the meta device: memory on ``device`` with ``dtype``,
        torch's parameter order, torch's initialisation."""
        materialise(self, device, dtype)
        ordered = [name for name in TORCH_NAMES if self._parameters.get(name) is not None]
        ordered += [name for name in self._parameters if name not in ordered]
        parameters = {name: self._parameters[name] for name in ordered}
        self._parameters.clear()
        self._parameters.update(parameters)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's initialisation: every parameter U(−1/√H, 1/√H) in registration order (torch's),
        the extras at their neutral values without drawing (``convrnn.nn.initialisation``)."""
        parameters = [(parameter, neutral_value(owner, name)) for owner in self.modules()
                      for name, parameter in owner._parameters.items() if parameter is not None]
        if any(parameter.is_meta for parameter, _ in parameters):
            return   # called by the layers cell's constructor on the meta device; _finish initialises
        torch_initialise(parameters, self.hidden_size)
        with torch.no_grad():
            for buffer in self.buffers():   # a cell's only buffers: the zero biases of bias=False
                buffer.zero_()

    def forward(self, input: Tensor, hx: StateArg | None = None) -> StateArg:
        """One step: ``input`` (N, H_in) or (H_in,), ``hx`` None (zeros) or the state → the new
        state (see :meth:`convrnn.layers.recurrent.Cell.forward`)."""
        return super().forward(input, hx)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.layer_norm:
            text += ", layer_norm=True"
        return text


class LSTMCell(RNNCellBase, cells.LSTMCell):
    r"""``torch.nn.LSTMCell``: one step of the LSTM.

        i = σ(W_ii x + b_ii + W_hi h + b_hi [+ V_i ∘ c])
        f = σ(W_if x + b_if + W_hf h + b_hf [+ V_f ∘ c])
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        c' = f ∘ c + i ∘ g
        o = σ(W_io x + b_io + W_ho h + b_ho [+ V_o ∘ c'])
        h' = o ∘ tanh(c')

    Bracketed terms with ``peephole=True``. ``forward(input, hx=None)``: input (N, H_in) or
    (H_in,); hx (h, c), each (N, H) or (H,), None for zeros → (h', c').

    Example (seed 004's loop, backpropagation through time by hand)::

        >>> cell = nn.LSTMCell(10, 20)
        >>> h, c = torch.zeros(3, 20), torch.zeros(3, 20)
        >>> for x_t in torch.randn(6, 3, 10):
        ...     h, c = cell(x_t, (h, c))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 peephole: bool = False, layer_norm: bool = False) -> None:
        with torch.device("meta"):
            super().__init__(input_size, hidden_size, peephole=peephole, layer_norm=layer_norm, bias=bias)
        self._finish(device, dtype)

    def config(self) -> dict[str, Any]:
        return {key: value for key, value in super().config().items() if key != "proj_size"}

    def extra_repr(self) -> str:
        return super().extra_repr() + (", peephole=True" if self.peephole else "")


class GRUCell(RNNCellBase, cells.GRUCell):
    r"""``torch.nn.GRUCell``: one step of the GRU.

        r = σ(W_ir x + b_ir + W_hr h + b_hr)
        z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ∘ (W_hn h + b_hn))     (reset="after", torch's)
        n = tanh(W_in x + b_in + W_hn (r ∘ h) + b_hn)     (reset="before", seed 002's)
        h' = (1 − z) ∘ n + z ∘ h

    ``forward(input, hx=None)``: input (N, H_in) or (H_in,); hx (N, H) or (H,) → h'.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 reset: str = "after", layer_norm: bool = False) -> None:
        with torch.device("meta"):
            super().__init__(input_size, hidden_size, reset=reset, layer_norm=layer_norm, bias=bias)
        self._finish(device, dtype)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.reset == "after" else f", reset={self.reset!r}")


class RNNCell(RNNCellBase, cells.ElmanCell):
    r"""``torch.nn.RNNCell``: one step of the Elman network.

        h' = g(W_ih x + b_ih + W_hh h + b_hh),   g = tanh or ReLU (``nonlinearity``)

    ``forward(input, hx=None)``: input (N, H_in) or (H_in,); hx (N, H) or (H,) → h'.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 layer_norm: bool = False) -> None:
        with torch.device("meta"):
            super().__init__(input_size, hidden_size, nonlinearity=nonlinearity, layer_norm=layer_norm, bias=bias)
        self._finish(device, dtype)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else f"{text}, nonlinearity={self.nonlinearity}"
