"""Many → one: a whole sequence (words or feature vectors) → one class, with padding masked out.

Two of the seeds' answers to "one label per sequence":

- :class:`RecurrentClassifier` — embedding (or feature input) → a (bi)directional LSTM/GRU that
  masks by length → the final states, or a masked mean/max of the outputs over time → linear.
- :class:`ConvTextClassifier` — the 1-D convolution over words with global max pooling over
  time (Kim, 2014): filters of several widths slide over the word vectors, each keeps its
  strongest response anywhere in the sentence.

the linear baseline they are measured against, :class:`BagOfWordsClassifier`, and
:class:`EnsembleClassifier`, which averages the probabilities of several of one kind.

Both take ``lengths`` and compute for a padded batch exactly what each sequence gives alone: a
prediction never depends on how much padding follows a sequence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_choice, check_tensor
from convrnn.layers.conv import Conv1d
from convrnn.layers.recurrent import RNN

POOLINGS = ("final", "mean", "max", "max+mean")


def time_mask(lengths: Tensor | None, batch: int, steps: int, device: torch.device) -> Tensor:
    """``mask (N, T)`` bool, True at real steps t < length; all True when ``lengths`` is None."""
    if lengths is None:
        return torch.ones(batch, steps, dtype=torch.bool, device=device)
    return torch.arange(steps, device=device) < lengths.to(device).unsqueeze(1)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean over time of the real steps: ``Σ_t m_t v_t / Σ_t m_t``; values (N, T, C), mask (N, T)
    → (N, C)."""
    weights = mask.unsqueeze(-1).to(values.dtype)
    return (values * weights).sum(1) / weights.sum(1).clamp(min=1)


def masked_max(values: Tensor, mask: Tensor) -> Tensor:
    """Max over time of the real steps; values (N, T, C), mask (N, T) → (N, C)."""
    return values.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)


def static_copy(embedding: nn.Embedding) -> nn.Embedding:
    """A frozen copy of ``embedding`` (``requires_grad=False``): the static channel of a
    multichannel model, which training never changes."""
    return nn.Embedding.from_pretrained(embedding.weight.detach().clone(), freeze=True,
                                        padding_idx=embedding.padding_idx)


def embed(embedding: nn.Embedding, static: nn.Embedding | None, inputs: Tensor) -> Tensor:
    """``E[w] + S[w]`` (multichannel) or ``E[w]``: ids (N, T) → (N, T, E)."""
    x = embedding(inputs)
    return x if static is None else x + static(inputs)


def _check_inputs(inputs: Tensor, lengths: Tensor | None, embedded: bool, where: str) -> None:
    if embedded:
        check_tensor("inputs", inputs, dims=2, where=where)
        if inputs.is_floating_point() or inputs.dtype == torch.bool:
            raise TypeError(f"{where}: argument 'inputs' expected integer token ids (N, T), "
                            f"got dtype {inputs.dtype}")
    else:
        check_tensor("inputs", inputs, dims=3, floating=True, where=where)
    if lengths is not None:
        check_tensor("lengths", lengths, dims=1, where=where)
        if lengths.shape[0] != inputs.shape[0]:
            raise ValueError(f"{where}: argument 'lengths' expected shape ({inputs.shape[0]},), "
                             f"got {tuple(lengths.shape)}")


class RecurrentClassifier(nn.Module):
    r"""Sequence → class scores through a recurrent network that masks by length.

        e_t = E[w_t]  (or the features x_t);  (y_t, s_T) = RNN(e_1 … e_T, lengths)
            (multichannel: e_t = E[w_t] + S[w_t], S a second embedding kept frozen — as in
             :class:`ConvTextClassifier`)
        z = [h_T^→ ; h_1^←]          (pooling="final": each direction's state after its last read)
          | Σ_{t<length} y_t / length (pooling="mean")
          | max_{t<length} y_t        (pooling="max")
          | [max_{t<length} y_t ; Σ_{t<length} y_t / length]   (pooling="max+mean")
        logits = W · dropout(z) + b

    Args:
        num_classes: K.
        vocab_size: V for token input (an embedding, row ``padding_index`` kept at zero);
            ``None`` for feature input, then ``input_size`` = F is required.
        embedding_dim: E (token input only).
        hidden_size: H; num_layers: L; cell: ``"lstm"``, ``"gru"`` or any cell of
            :mod:`convrnn.layers.recurrent`; bidirectional: D = 2 directions.
        pooling: ``"final"``, ``"mean"``, ``"max"`` or ``"max+mean"`` (both, concatenated).
        dropout: on the embeddings, between layers and before the linear layer.
        multichannel: token input only — add the frozen ``static_embedding`` (V, E), a copy of
            ``embedding`` that a caller with pretrained vectors sets from them.

    Shapes: inputs (N, T) int64 token ids or (N, T, F) features; lengths (N,) in [1, T] or None
    → logits (N, K).
    """

    def __init__(self, num_classes: int, *, vocab_size: int | None = None, input_size: int | None = None,
                 embedding_dim: int = 100, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", bidirectional: bool = True, pooling: str = "final",
                 dropout: float = 0.0, padding_index: int = 0, multichannel: bool = False) -> None:
        super().__init__()
        where = "RecurrentClassifier"
        self.pooling = check_choice("pooling", pooling, POOLINGS, where=where)
        if (vocab_size is None) == (input_size is None):
            raise ValueError(f"{where}: expected exactly one of 'vocab_size' (token input) and "
                             f"'input_size' (feature input), got vocab_size={vocab_size!r}, "
                             f"input_size={input_size!r}")
        if multichannel and vocab_size is None:
            raise ValueError(f"{where}: argument 'multichannel' expected False for feature input "
                             f"(it adds a second word embedding), got True with vocab_size=None")
        self.embedding = (nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_index)
                          if vocab_size is not None else None)
        self.static_embedding = static_copy(self.embedding) if multichannel and self.embedding is not None else None
        features = embedding_dim if vocab_size is not None else input_size
        self.input_dropout = nn.Dropout(dropout)
        self.rnn = RNN(cell, features, hidden_size, num_layers, bidirectional=bidirectional,
                       dropout=dropout)
        self.output_dropout = nn.Dropout(dropout)
        pooled_size = self.rnn.output_size * (2 if self.pooling == "max+mean" else 1)
        self.classifier = nn.Linear(pooled_size, num_classes)

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        where = "RecurrentClassifier.forward"
        _check_inputs(inputs, lengths, self.embedding is not None, where)
        x = embed(self.embedding, self.static_embedding, inputs) if self.embedding is not None else inputs
        outputs, final = self.rnn(self.input_dropout(x), lengths)
        if self.pooling == "final":
            h = final[0] if isinstance(final, tuple) else final      # (L·D, N, H)
            h = h[-self.rnn.directions:]                              # the last layer's directions
            pooled = h.transpose(0, 1).flatten(1)                     # (N, D·H)
        else:
            mask = time_mask(lengths, outputs.shape[0], outputs.shape[1], outputs.device)
            pooled = torch.cat([masked_max(outputs, mask), masked_mean(outputs, mask)], dim=1) \
                if self.pooling == "max+mean" else \
                masked_mean(outputs, mask) if self.pooling == "mean" else masked_max(outputs, mask)
        return self.classifier(self.output_dropout(pooled))


class ConvTextClassifier(nn.Module):
    r"""Kim's (2014) 1-D CNN over words: filters of several widths, max over time, linear.

        e_t = E[w_t] for t < length, 0 beyond   (padding is zeroed, whatever its id)
            (multichannel: e_t = E[w_t] + S[w_t], S a second embedding kept frozen)
        c^k_j = ReLU(Σ_{i<k} W^k_i e_{j−k+1+i} + b^k)   ("full" convolution: zero boundary)
        z^k = max_{j < length + k − 1} c^k_j             (every window touching a real word)
        logits = W · dropout([z^{k_1}; …; z^{k_m}]) + b

    Windows that hang over either end see zeros — the seeds' zero boundary — so a sentence
    shorter than a filter still has responses, and the windows made only of padding are masked
    out of the max: appended padding never changes a prediction.

    Kim's "multichannel" variant reads two copies of the word vectors, a fine-tuned ``E`` and a
    static ``S`` that training never changes (``static_embedding``, its weight has
    ``requires_grad=False``); each filter reads both channels and adds them,
    ``W ∗ E[w] + W ∗ S[w] + b = W ∗ (E[w] + S[w]) + b``, so one convolution of the sum computes it.
    Fine-tuning then moves words away from the pretrained vectors only as far as the data asks,
    while the static channel keeps what the vectors knew about words the training texts lack.

    Args:
        num_classes: K; vocab_size: V; embedding_dim: E;
        channels: filters per width, C; kernel_sizes: the widths k_1 … k_m (words);
        dropout: on the pooled features.
        multichannel: add the frozen ``static_embedding`` (V, E), a copy of ``embedding`` that
            a caller with pretrained vectors sets from them.

    Shapes: inputs (N, T) int64; lengths (N,) or None → logits (N, K); conv outputs
    (N, C, T + k − 1) per width.
    """

    def __init__(self, num_classes: int, *, vocab_size: int, embedding_dim: int = 100,
                 channels: int = 100, kernel_sizes: Sequence[int] = (3, 4, 5), dropout: float = 0.5,
                 padding_index: int = 0, multichannel: bool = False) -> None:
        super().__init__()
        if not kernel_sizes:
            raise ValueError(f"ConvTextClassifier: argument 'kernel_sizes' expected at least one "
                             f"width, got {kernel_sizes!r}")
        self.kernel_sizes = tuple(kernel_sizes)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_index)
        self.static_embedding = static_copy(self.embedding) if multichannel else None
        self.convolutions = nn.ModuleList(Conv1d(embedding_dim, channels, k, padding="full")
                                          for k in self.kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels * len(self.kernel_sizes), num_classes)

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        _check_inputs(inputs, lengths, True, "ConvTextClassifier.forward")
        batch, steps = inputs.shape
        mask = time_mask(lengths, batch, steps, inputs.device)
        x = embed(self.embedding, self.static_embedding, inputs)
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0).transpose(1, 2)                  # (N, E, T)
        real = lengths.to(inputs.device) if lengths is not None else torch.full((batch,), steps, device=inputs.device)
        pooled = []
        for k, convolution in zip(self.kernel_sizes, self.convolutions, strict=True):
            responses = torch.relu(convolution(x)).transpose(1, 2)                    # (N, T+k−1, C)
            windows = torch.arange(responses.shape[1], device=inputs.device) < (real + k - 1).unsqueeze(1)
            pooled.append(masked_max(responses, windows))
        return self.classifier(self.dropout(torch.cat(pooled, dim=1)))


ENSEMBLE_MEMBERS: dict[str, type[nn.Module]] = {
    "recurrent-classifier": RecurrentClassifier, "conv-text-classifier": ConvTextClassifier}
"""The kinds an :class:`EnsembleClassifier` may hold, by the names the saved configs use."""


class EnsembleClassifier(nn.Module):
    r"""M classifiers of one kind, trained apart (e.g. from different seeds), averaging their
    probabilities:

        p(k | x) = (1/M) Σ_m softmax(f_m(x))_k,      returned as log p(k | x)

    Log-probabilities are valid logits — ``softmax(log p) = p`` because Σ_k p = 1 — so argmax,
    ``CrossEntropyLoss`` (the negative log of the averaged probability) and ``predict``'s
    probabilities read them like any single model's scores.

    Args:
        member: the members' kind, a key of :data:`ENSEMBLE_MEMBERS`
            (``"recurrent-classifier"`` or ``"conv-text-classifier"``).
        members: M ≥ 1.
        options: each member's keyword arguments (``num_classes`` included).

    Shapes: inputs (N, T) or (N, T, F); lengths (N,) or None → log-probabilities (N, K).
    """

    def __init__(self, member: str, members: int, options: dict[str, Any]) -> None:
        super().__init__()
        check_choice("member", member, tuple(ENSEMBLE_MEMBERS), where="EnsembleClassifier")
        if not isinstance(members, int) or members < 1:
            raise ValueError(f"EnsembleClassifier: argument 'members' expected an int ≥ 1, got {members!r}")
        self.members = nn.ModuleList(ENSEMBLE_MEMBERS[member](**options) for _ in range(members))

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        log_probabilities = torch.stack([torch.log_softmax(m(inputs, lengths), dim=-1) for m in self.members])
        return torch.logsumexp(log_probabilities, dim=0) - math.log(len(self.members))  # log mean p, stably


class BagOfWordsClassifier(nn.Module):
    r"""The linear baseline: logistic regression on which words a text contains.

        logits_k = Σ_{w ∈ set(text)} W_{w,k} + b_k        (a binary bag of words)

    — ``W`` applied to the text's binary word-presence vector, computed as a sum of rows (an
    ``EmbeddingBag``), so the V-wide vector is never built. Padding (id ``padding_index``) and
    repeated words count nothing extra: the caller passes each text's distinct word ids.

    Shapes: inputs (N, T) int64 distinct ids per row, padded with ``padding_index``;
    lengths ignored (padding contributes the zero row) → logits (N, K).
    """

    def __init__(self, num_classes: int, *, vocab_size: int, padding_index: int = 0) -> None:
        super().__init__()
        self.weight = nn.EmbeddingBag(vocab_size, num_classes, mode="sum", padding_idx=padding_index)
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        _check_inputs(inputs, lengths, True, "BagOfWordsClassifier.forward")
        return self.weight(inputs) + self.bias


__all__ = [
    "ENSEMBLE_MEMBERS",
    "BagOfWordsClassifier",
    "ConvTextClassifier",
    "EnsembleClassifier",
    "RecurrentClassifier",
    "embed",
    "masked_max",
    "masked_mean",
    "static_copy",
    "time_mask",
]
