"""What ``torch.load(weights_only=True)`` needs to unpickle a whole convrnn.nn module.

``torch.load`` refuses, since torch 2.6, to unpickle any class it does not allow, and allows no
module class at all: a whole pickled ``torch.nn.LSTM`` fails alike. convrnn never adds to that
allow-list on its own; :func:`safe_globals` names the classes a pickled convrnn.nn module
refers to, for the caller to allow where they trust the file:

    with torch.serialization.safe_globals(convrnn.nn.safe_globals() + [MyModel, torch.nn.Linear]):
        model = torch.load(path, weights_only=True)

A convrnn.nn stack pickles only its own class (its engine is rebuilt on loading); a cell with
``layer_norm=True`` also its ``BlockLayerNorm`` modules; a stack given ``cell=`` a Cell subclass
of yours also that class, which you add. The state dict (``torch.save(model.state_dict())``)
needs none of this.
"""

from __future__ import annotations

from convrnn.layers.recurrent.options import BlockLayerNorm


def safe_globals() -> list[type]:
    """The classes a whole pickled convrnn.nn module may refer to: its six modules, their bases
    and the layer norm of ``layer_norm=True`` cells. Pass them (with the rest of your model's
    classes) to ``torch.serialization.safe_globals`` or ``add_safe_globals`` yourself."""
    from convrnn.nn.cells import GRUCell, LSTMCell, RNNCell
    from convrnn.nn.rnn import GRU, LSTM, RNN

    return [LSTM, GRU, RNN, LSTMCell, GRUCell, RNNCell, BlockLayerNorm]
