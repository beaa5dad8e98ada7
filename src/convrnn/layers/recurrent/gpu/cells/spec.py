"""What the GPU kernels need to know of a cell: its kind, its options and its parameters, in order.

A cell runs on the GPU kernels when it is exactly one of the cells of ``cells.py`` (a subclass, or
a ``step`` set on the instance, may have other equations): ``ElmanCell`` (every nonlinearity),
``LSTMCell`` (± peepholes), ``GRUCell`` (``reset`` "before" or "after"; ``z_multiplies="candidate"``
runs as its ``previous_form()``, which the engine hands over), ``MGUCell``, ``GatedCell`` and
``JordanCell`` (every nonlinearity and decision function), each with or without layer norm.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import torch
from torch import Tensor

from convrnn.layers.recurrent.cells import Cell, ElmanCell, GatedCell, GRUCell, JordanCell, LSTMCell, MGUCell

# the kernels' KIND numbers (forward.py)
ELMAN, LSTM, GRU_AFTER, GRU_BEFORE, MGU, JORDAN, GATED = range(7)
NAMES = {ELMAN: "elman", LSTM: "lstm", GRU_AFTER: "gru_after", GRU_BEFORE: "gru_before", MGU: "mgu",
         JORDAN: "jordan", GATED: "gated"}
# gate blocks of weight_hh, and those of the first product
BLOCKS = {ELMAN: 1, LSTM: 4, GRU_AFTER: 3, GRU_BEFORE: 3, MGU: 2, JORDAN: 1, GATED: 2}
FIRST_STAGE = {ELMAN: 1, LSTM: 4, GRU_AFTER: 3, GRU_BEFORE: 2, MGU: 1, JORDAN: 1, GATED: 2}


@dataclass(frozen=True)
class Spec:
    """A cell's kernel description. H hidden units; S the feedback's width (O for Jordan, else H)."""

    kind: int
    hidden: int
    feedback: int
    activation: int = 0        # Elman's and Jordan's g: the index of ElmanCell.nonlinearities
    peephole: bool = False
    layer_norm: bool = False
    decision: int = 0
    slope: float = 0.0         # the leaky ReLU's

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
        return {LSTM: 4 * H, GRU_AFTER: 4 * H, GRU_BEFORE: 4 * H, MGU: 3 * H, GATED: 2 * H}[self.kind]

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
        return Spec(ELMAN, H, H, activation=ElmanCell.nonlinearities.index(cell.nonlinearity), layer_norm=layer_norm,
                    slope=cell.negative_slope)
    if kind is LSTMCell:
        return Spec(LSTM, H, H, peephole=cell.peephole, layer_norm=layer_norm)
    if kind is GRUCell and cell.z_multiplies == "previous":   # the other form runs as its previous_form()
        return Spec(GRU_AFTER if cell.reset == "after" else GRU_BEFORE, H, H, layer_norm=layer_norm)
    if kind is MGUCell:
        return Spec(MGU, H, H, layer_norm=layer_norm)
    if kind is GatedCell:
        return Spec(GATED, H, H, layer_norm=layer_norm)
    if kind is JordanCell:
        return Spec(JORDAN, H, cell.out_features, activation=int(cell.nonlinearity == "relu"), layer_norm=layer_norm,
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


def as_tuple(spec: Spec) -> tuple[int, ...]:
    """The spec as the operators' ``int[]`` argument (the slope as its float64 bits)."""
    bits = struct.unpack("<q", struct.pack("<d", spec.slope))[0]
    return (spec.kind, spec.hidden, spec.feedback, spec.activation, spec.peephole, spec.layer_norm, spec.decision,
            bits)


def from_tuple(values: list[int] | tuple[int, ...]) -> Spec:
    kind, hidden, feedback, activation, peephole, layer_norm, decision, bits = (int(v) for v in values)
    slope = struct.unpack("<d", struct.pack("<q", bits))[0]
    return Spec(kind, hidden, feedback, activation, bool(peephole), bool(layer_norm), decision, slope)


def empty_like_none(like: Tensor) -> Tensor:
    return torch.empty(0, dtype=like.dtype, device=like.device)
