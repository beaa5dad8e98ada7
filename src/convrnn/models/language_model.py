"""A recurrent language model: embedding → stacked recurrent layers → dropout → linear.

    p(x_{t+1} | x_0 … x_t) = softmax(W_o · dropout(h_t^{(L)}) + b_o)
    h_t^{(l)} = cell(h_{t−1}^{(l)}, dropout(h_t^{(l−1)})),   h_t^{(0)} = E[x_t]

E is the (V, E_dim) embedding table; with ``tie_weights=True`` the output matrix W_o is E itself
(Press & Wolf, 2017; Inan et al., 2017), which needs E_dim = H. Dropout on the non-recurrent
connections only is Zaremba et al.'s (2014) regularisation of LSTM language models.

Letters: N batch, T steps, V vocabulary size, H hidden units, L layers.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.layers.recurrent.rnn import RNN, StateArg


class LanguageModel(nn.Module):
    """Token ids in, next-token logits out, with the recurrent state in and out.

    Args:
        vocab_size: V.
        embedding_size: E_dim, the size of a token's vector.
        hidden_size: H.
        num_layers: L.
        cell: any cell of :class:`convrnn.layers.recurrent.RNN` ("lstm", "gru", "mgu", "elman", …).
        dropout: probability on the embeddings, between layers and before the output layer.
        tie_weights: share the embedding table with the output matrix (needs E_dim = H).
        init_range: if given, every weight is drawn from U(−r, r) (Zaremba et al.'s 0.1 for
            the SGD recipe); otherwise the cells' own initialisation is kept and the embedding
            and output layer get U(−0.1, 0.1).
        **rnn_options: passed to :class:`RNN` (``recurrent_dropout``, ``zoneout``, cell options).

    Shapes:
        tokens: (N, T) integer ids; lengths: (N,) or None (see :class:`RNN`);
        state: None for zeros, or the previous call's state ((L, N, H) tensors; a tuple (h, c)
        for an LSTM) — passing it continues the text where the previous call stopped.
        Returns ``(logits (N, T, V), state)``.
    """

    def __init__(self, vocab_size: int, embedding_size: int = 64, hidden_size: int = 512, num_layers: int = 2, *,
                 cell: str = "lstm", dropout: float = 0.0, tie_weights: bool = False,
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
        outputs, state = self.rnn(embedded, lengths=lengths, state=state)
        return self.output(self.dropout(outputs)), state


__all__ = ["LanguageModel"]
