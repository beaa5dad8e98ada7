"""What the GPU kernels need to know of a cell: its kind, its options and its parameters, in order.

A cell runs on the GPU kernels when it is exactly one of the cells of ``cells.py`` (a subclass, or
a ``step`` set on the instance, may have other equations): ``ElmanCell`` (tanh or ReLU),
``LSTMCell`` (± peepholes), ``GRUCell`` (``reset`` "before" or "after"), ``MGUCell`` and
``JordanCell`` (every nonlinearity and decision function), each with or without layer norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from convrnn.layers.recurrent.cells import Cell, ElmanCell, GRUCell, JordanCell, LSTMCell, MGUCell

# the kernels' KIND numbers (forward.py)
ELMAN, LSTM, GRU_AFTER, GRU_BEFORE, MGU, JORDAN = range(6)
NAMES = {ELMAN: "elman", LSTM: "lstm", GRU_AFTER: "gru_after", GRU_BEFORE: "gru_before", MGU: "mgu",
         JORDAN: "jordan"}
BLOCKS = {ELMAN: 1, LSTM: 4, GRU_AFTER: 3, GRU_BEFORE: 3, MGU: 2, JORDAN: 1}     # gate blocks of weight_hh
FIRST_STAGE = {ELMAN: 1, LSTM: 4, GRU_AFTER: 3, GRU_BEFORE: 2, MGU: 1, JORDAN: 1}  # blocks of the first product


@dataclass(frozen=True)
class Spec:
    """A cell's kernel description. H hidden units; S the feedback's width (O for Jordan, else H)."""

    kind: int
    hidden: int
    feedback: int
    relu: bool = False
    peephole: bool = False
    layer_norm: bool = False
    decision: int = 0

    @property
    def name(self) -> str:
        return NAMES[self.kind] + ("_layer_norm" if self.layer_norm else "")

    @property
    def blocks(self) -> int:
        return BLOCKS[self.kind]

    @property
    def chunks(self) -> int:
        """Blocks of the input projection W x + b (Jordan's one, the others' one per gate)."""
        return self.blocks

    @property
    def two_stage(self) -> bool:
        return self.kind in (GRU_BEFORE, MGU, JORDAN)

    @property
    def components(self) -> int:
        return 2 if self.kind in (LSTM, JORDAN) else 1

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden, self.feedback) if self.kind in (LSTM, JORDAN) else (self.hidden,)

    def saved_width(self, zoneout: bool) -> int:
        """Elements per step and row of SAVED: the gates (and the pre-zoneout state where the
        backward pass cannot rebuild it)."""
        H = self.hidden
        if self.kind == ELMAN:
            return H if zoneout else 0
        if self.kind == JORDAN:
            return H + self.feedback if zoneout else 0
        return {LSTM: 4 * H, GRU_AFTER: 4 * H, GRU_BEFORE: 4 * H, MGU: 3 * H}[self.kind]

    @property
    def normed_width(self) -> int:
        if not self.layer_norm:
            return 0
        return (self.blocks + (self.kind == LSTM)) * self.hidden

    @property
    def rstd_width(self) -> int:
        return self.blocks + (self.kind == LSTM) if self.layer_norm else 0

    @property
    def separate_recurrent_gradient(self) -> bool:
        """Whether ∂L/∂(U fb) differs from ∂L/∂(W x + b) (layer norm between them; torch.nn.GRU's
        reset gate multiplying U_n h)."""
        return self.layer_norm or self.kind == GRU_AFTER

    @property
    def vector_slots(self) -> int:
        """Per-unit parameter gradients summed in the backward kernel: bias/shift per block, layer
        norm gains per block, the three peepholes, the cell norm's gain and shift."""
        return self.blocks * (2 if self.layer_norm else 1) + 3 * self.peephole + 2 * (self.kind == LSTM and
                                                                                      self.layer_norm)


def spec_of(cell: Cell) -> Spec | None:
    """The kernel description of ``cell``, or None where the kernels do not run it."""
    if "step" in vars(cell):
        return None
    H, layer_norm = cell.hidden_size, cell.layer_norm
    kind = type(cell)
    if kind is ElmanCell:
        return Spec(ELMAN, H, H, relu=cell.nonlinearity == "relu", layer_norm=layer_norm)
    if kind is LSTMCell:
        return Spec(LSTM, H, H, peephole=cell.peephole, layer_norm=layer_norm)
    if kind is GRUCell:
        return Spec(GRU_AFTER if cell.reset == "after" else GRU_BEFORE, H, H, layer_norm=layer_norm)
    if kind is MGUCell:
        return Spec(MGU, H, H, layer_norm=layer_norm)
    if kind is JordanCell:
        return Spec(JORDAN, H, cell.out_features, relu=cell.nonlinearity == "relu", layer_norm=layer_norm,
                    decision=JordanCell.decisions.index(cell.decision))
    return None


def parameters_of(cell: Cell, spec: Spec) -> tuple[Tensor, ...]:
    """(weight_hh, bias_hh, peephole, gain, shift, cell gain, cell shift, weight_ho, bias_ho) as the
    kernels read them; an empty tensor for each one the cell does not have."""
    empty = cell.weight_ih.new_empty(0)
    norm = cell.recurrent_norm
    cell_norm = getattr(cell, "cell_norm", None)
    peephole = getattr(cell, "weight_peephole", None)
    return (
        cell.weight_hh,
        cell.bias_hh if spec.kind != JORDAN else empty,
        peephole if peephole is not None else empty,
        norm.weight if norm is not None else empty,
        norm.bias if norm is not None else empty,
        cell_norm.weight if cell_norm is not None else empty,
        cell_norm.bias if cell_norm is not None else empty,
        cell.weight_ho if spec.kind == JORDAN else empty,
        cell.bias_ho if spec.kind == JORDAN else empty,
    )


def epsilon_of(cell: Cell) -> float:
    norm = cell.recurrent_norm
    return norm.eps if norm is not None else 1e-5


def as_tuple(spec: Spec) -> tuple[int, int, int, bool, bool, bool, int]:
    return (spec.kind, spec.hidden, spec.feedback, spec.relu, spec.peephole, spec.layer_norm, spec.decision)


def from_tuple(values: list[int] | tuple[int, ...]) -> Spec:
    kind, hidden, feedback, relu, peephole, layer_norm, decision = (int(v) for v in values)
    return Spec(kind, hidden, feedback, bool(relu), bool(peephole), bool(layer_norm), decision)


def empty_like_none(like: Tensor) -> Tensor:
    return torch.empty(0, dtype=like.dtype, device=like.device)
