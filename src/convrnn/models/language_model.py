"""A recurrent language model: embedding → stacked recurrent layers → dropout → linear.

    p(x_{t+1} | x_0 … x_t) = softmax(W_o · dropout(h_t^{(L)}) + b_o)
    h_t^{(l)} = cell(h_{t−1}^{(l)}, dropout(h_t^{(l−1)})),   h_t^{(0)} = E[x_t]

E is the (V, E_dim) embedding table; with ``tie_weights=True`` the output matrix W_o is E itself
(Press & Wolf, 2017; Inan et al., 2017), which needs E_dim = H. Dropout on the non-recurrent
connections only is Zaremba et al.'s (2014) regularisation of LSTM language models.

The recurrent layers are either any cell of the engine (``RNN``: "lstm", "gru", …) or a layer
that trains in parallel over time ("mingru", "minlstm", "qrnn": ``layers.recurrent.parallel``).

Letters: N batch, T steps, V vocabulary size, H hidden units, L layers, F_l layer l's input size.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrnn.functional._checks import check_choice, check_tensor
from convrnn.layers.recurrent.cells import CELLS
from convrnn.layers.recurrent.parallel import QRNN, MinGRU, MinLSTM, ParallelRNN
from convrnn.layers.recurrent.rnn import RNN, StateArg, check_lengths

PARALLEL_LAYERS: dict[str, type[ParallelRNN]] = {"mingru": MinGRU, "minlstm": MinLSTM, "qrnn": QRNN}
CELL_NAMES = (*sorted(CELLS), *PARALLEL_LAYERS)


class LanguageModel(nn.Module):
    """Token ids in, next-token logits out, with the recurrent state in and out.

    Args:
        vocab_size: V.
        embedding_size: E_dim, the size of a token's vector.
        hidden_size: H.
        num_layers: L.
        cell: a name in ``CELL_NAMES`` ("lstm", "gru", "mgu", "elman", …, "mingru", "minlstm",
            "qrnn"), or a cell class or instance of :class:`convrnn.layers.recurrent.RNN`.
        dropout: probability on the embeddings, between layers and before the output layer.
        tie_weights: share the embedding table with the output matrix (needs E_dim = H).
        init_range: if given, every weight is drawn from U(−r, r) (Zaremba et al.'s 0.1 for
            the SGD recipe); otherwise the layers' own initialisation is kept and the embedding
            and output layer get U(−0.1, 0.1).
        **rnn_options: passed to :class:`RNN` (``recurrent_dropout``, ``zoneout``, cell options)
            or to the parallel layer (``window``; QRNN ``pooling``, default "fo", window 2).

    Shapes:
        tokens: (N, T) integer ids; lengths: (N,) or None (see :class:`RNN`);
        state: None for zeros, or the previous call's state — passing it continues the text
        where the previous call stopped. It is what the layers carry: (L, N, H) tensors (a tuple
        (h, c) for an LSTM); for a parallel layer whose gates read a window of k > 1 steps (QRNN)
        the tuple (h (L, N, H), context_1, …, context_L) with context_l (k−1, N, F_l) layer l's
        last k − 1 inputs, so that a continuation sees what one long call would.
        Returns ``(logits (N, T, V), state)``.
    """

    def __init__(self, vocab_size: int, embedding_size: int = 64, hidden_size: int = 512, num_layers: int = 2, *,
                 cell: Any = "lstm", dropout: float = 0.0, tie_weights: bool = False,
                 init_range: float | None = None, **rnn_options: Any) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("embedding_size", embedding_size),
                            ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LanguageModel: argument '{name}' expected a positive int, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"LanguageModel: argument 'dropout' expected a probability in [0, 1), got {dropout!r}")
        if tie_weights and embedding_size != hidden_size:
            raise ValueError(f"LanguageModel: tie_weights=True needs embedding_size == hidden_size, "
                             f"got {embedding_size} and {hidden_size}")
        self.vocab_size, self.tie_weights = vocab_size, tie_weights
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        if isinstance(cell, str):
            cell = check_choice("cell", cell.lower(), CELL_NAMES, where="LanguageModel")
        if isinstance(cell, str) and cell in PARALLEL_LAYERS:
            if rnn_options.get("bidirectional"):
                raise ValueError("LanguageModel: a language model reads left to right; got bidirectional=True")
            self.rnn = PARALLEL_LAYERS[cell](embedding_size, hidden_size, num_layers, dropout=dropout, **rnn_options)
        else:
            self.rnn = RNN(cell, embedding_size, hidden_size, num_layers, dropout=dropout, **rnn_options)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(self.rnn.output_size, vocab_size)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.output.weight, -0.1, 0.1)
        nn.init.zeros_(self.output.bias)
        if init_range is not None:
            for parameter in self.parameters():
                nn.init.uniform_(parameter, -init_range, init_range)
        if tie_weights:
            self.output.weight = self.embedding.weight

    def forward(self, tokens: Tensor, lengths: Tensor | None = None,
                state: StateArg | None = None) -> tuple[Tensor, StateArg]:
        where = "LanguageModel.forward"
        check_tensor("tokens", tokens, dims=2, where=where)
        if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
            raise TypeError(f"{where}: argument 'tokens' expected an integer tensor of ids, got dtype {tokens.dtype}")
        embedded = self.dropout(self.embedding(tokens))
        if isinstance(self.rnn, ParallelRNN) and self.rnn.window > 1:
            outputs, state = run_with_context(self.rnn, embedded, lengths, state)
        else:
            outputs, state = self.rnn(embedded, lengths=lengths, state=state)
        return self.output(self.dropout(outputs)), state


def run_with_context(rnn: ParallelRNN, x: Tensor, lengths: Tensor | None,
                     state: tuple[Tensor, ...] | None) -> tuple[Tensor, tuple[Tensor, ...]]:
    """A one-direction parallel stack whose gates read k = ``rnn.window`` steps, continuing a text.

    The layer alone sees zeros before its first step, so carrying h only would change the gates
    of every continuation's first k − 1 steps (and of every token when sampling one at a time).
    Here layer l runs on [context_l; x_l] and keeps the steps of x_l: x (N, T, F_1), lengths (N,)
    or None, state None (zeros) or (h (L, N, H), context_1 … context_L), context_l (k−1, N, F_l).
    Returns outputs (N, T, H), zero at padded steps, and the state after each row's last step.
    """
    where, k = "LanguageModel.forward", rnn.window
    batch, steps = x.shape[:2]
    lengths = check_lengths(lengths, batch, steps, x.device, where)
    sizes = [rnn.input_size] + [rnn.hidden_size] * (rnn.num_layers - 1)
    if state is None:
        h0, contexts = None, [x.new_zeros(k - 1, batch, size) for size in sizes]
    else:
        expected = [(rnn.num_layers, batch, rnn.hidden_size)] + [(k - 1, batch, size) for size in sizes]
        if not isinstance(state, tuple) or [tuple(s.shape) for s in state] != expected:
            shapes = [tuple(s.shape) for s in state] if isinstance(state, tuple) else type(state).__name__
            raise ValueError(f"{where}: argument 'state' expected tensors of shapes {expected} "
                             f"(h, then each layer's last {k - 1} inputs), got {shapes}")
        h0, contexts = state[0], state[1:]
    padded = None if lengths is None else (torch.arange(steps, device=x.device)[:, None] >= lengths)[..., None]
    ends = torch.full((batch,), steps, device=x.device) if lengths is None else lengths
    last = ends + torch.arange(k - 1, device=x.device)[:, None]     # row n's last k − 1 inputs in [context; x]
    layer_input, finals, kept = x.transpose(0, 1), [], []
    for layer in range(rnn.num_layers):
        inputs = F.dropout(layer_input, rnn.dropout, rnn.training) if layer else layer_input
        full = torch.cat([contexts[layer], inputs])                   # (k − 1 + T, N, F_l)
        kept.append(full.gather(0, last[..., None].expand(-1, -1, full.shape[-1])))
        layer_input, h = rnn.recur(rnn.project(layer, full)[k - 1:], None if h0 is None else h0[layer], padded)
        finals.append(h[-1])
    return layer_input.transpose(0, 1), (torch.stack(finals), *kept)


__all__ = ["CELL_NAMES", "LanguageModel", "run_with_context"]
