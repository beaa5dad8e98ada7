"""torch.nn with convrnn's recurrent modules: change ``import torch.nn as nn`` to ``from convrnn import nn``.

``LSTM``, ``GRU``, ``RNN``, ``LSTMCell``, ``GRUCell``, ``RNNCell`` (and ``RNNBase``,
``RNNCellBase``) are torch.nn's to the letter — arguments, defaults, parameter names, order and
initialisation, state dicts, outputs — running on convrnn's recurrent engine, with convrnn's
extras as keyword-only arguments (``peephole``, ``layer_norm``, ``zoneout``,
``recurrent_dropout``, ``lookahead``, ``cell=``; ``lengths=`` and ``return_states=`` at call time).
Every other name is torch.nn's own (``nn.Linear``, ``nn.Module``, ``nn.functional``, ``nn.utils``,
…), looked up there, so the rest of a script runs unchanged.

Saving: ``torch.save(model.state_dict(), path)`` and ``model.load_state_dict(torch.load(path))``
work as with torch (the keys are torch's, both ways); convrnn's safetensors files
(``convrnn.training.save_model`` / ``load_model_weights``) hold the same state dict. A whole
pickled module (``torch.save(model)``) loads with ``torch.load(path, weights_only=False)`` from a
trusted file, or with ``weights_only=True`` once you allow its classes yourself, as for a pickled
``torch.nn.LSTM``: ``with torch.serialization.safe_globals(convrnn.nn.safe_globals()):`` — see
:func:`safe_globals`; convrnn never widens torch's allow-list on its own.
"""

from __future__ import annotations

from typing import Any

import torch.nn as _torch_nn

from convrnn.nn.cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from convrnn.nn.rnn import GRU, LSTM, RNN, RNNBase
from convrnn.nn.serialization import safe_globals

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase", "safe_globals"]


def __getattr__(name: str) -> Any:
    """Every other name is torch.nn's (``nn.Linear``, ``nn.functional``, …)."""
    try:
        return getattr(_torch_nn, name)
    except AttributeError:
        raise AttributeError(f"module 'convrnn.nn' has no attribute {name!r} (nor has torch.nn)") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(dir(_torch_nn)))
