"""Recurrent layers: every cell of the seeds run by one engine that masks by length.

``RNN`` (and the conveniences ``LSTM``, ``GRU``, ``MGU``, ``Gated``, ``Elman``, ``Jordan``) stack a cell in
layers and directions with limited look-ahead, state in/out and every step's full state;
``cells`` holds the step equations, ``scan`` and ``lookahead`` the engine, ``options`` the
per-step options (layer norm, variational recurrent dropout, zoneout). ``native`` hands plain
stacks to torch's fused kernels (on a CPU with ``lengths`` they run on the compiled core
instead), ``fused`` runs the other cells on that core; ``parallel`` holds the layers that train
in parallel over time (``MinGRU``, ``MinLSTM``, ``QRNN``) on the chunked scan of ``linear_scan``,
or on the core (``parallel_fused``, ``projection_buffers``).
"""

from convrnn.layers.recurrent.cells import (
    CELLS,
    Cell,
    ElmanCell,
    GatedCell,
    GRUCell,
    JordanCell,
    LSTMCell,
    MGUCell,
    convert_z_convention,
)
from convrnn.layers.recurrent.linear_scan import linear_recurrence
from convrnn.layers.recurrent.lookahead import run_lookahead
from convrnn.layers.recurrent.parallel import QRNN, MinGRU, MinLSTM, ParallelRNN
from convrnn.layers.recurrent.rnn import GRU, LSTM, MGU, RNN, Elman, Gated, Jordan, from_torch
from convrnn.layers.recurrent.scan import run_direction, scan

__all__ = [
    "CELLS",
    "GRU",
    "LSTM",
    "MGU",
    "QRNN",
    "RNN",
    "Cell",
    "Elman",
    "ElmanCell",
    "GRUCell",
    "Gated",
    "GatedCell",
    "Jordan",
    "JordanCell",
    "LSTMCell",
    "MGUCell",
    "MinGRU",
    "MinLSTM",
    "ParallelRNN",
    "convert_z_convention",
    "from_torch",
    "linear_recurrence",
    "run_direction",
    "run_lookahead",
    "scan",
]
