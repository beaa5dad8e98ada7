"""Many → many, one output per input: a part-of-speech tagger.

Each word is a word embedding joined to a character-level CNN's view of its spelling (so an
unknown word still shows its suffix, capital or digits — Ma & Hovy, 2016); a bidirectional LSTM
reads the sentence, with limited ``lookahead`` for a real-time tagger (seed 002's real-time
BiLSTM); a linear layer scores the tags of every word.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.layers.conv import Conv1d
from convrnn.layers.recurrent import RNN
from convrnn.models.sequence_classifier import masked_max


class CharacterEncoder(nn.Module):
    r"""A word's characters → one vector: embedding, 1-D convolution, max over the characters.

        c_j = E_c[char_j] (0 past the word's end);  r_i = ReLU(Σ_k W_k c_{i−k+1} + b)
        v = max_{i < word length + k − 1} r_i

    Shapes: characters (N, T, W) int64 character ids, 0 = padding (past the end of a word or a
    sentence) → (N, T, C).
    """

    def __init__(self, alphabet_size: int, embedding_dim: int = 30, channels: int = 50,
                 kernel_size: int = 3) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.embedding = nn.Embedding(alphabet_size, embedding_dim, padding_idx=0)
        self.convolution = Conv1d(embedding_dim, channels, kernel_size, padding="full")
        self.output_size = channels

    def forward(self, characters: Tensor) -> Tensor:
        batch, steps, width = characters.shape
        flat = characters.reshape(batch * steps, width)
        real = flat != 0
        x = self.embedding(flat).masked_fill(~real.unsqueeze(-1), 0.0).transpose(1, 2)
        responses = torch.relu(self.convolution(x)).transpose(1, 2)          # (N·T, W+k−1, C)
        word_lengths = real.sum(1)
        windows = (torch.arange(responses.shape[1], device=flat.device)
                   < (word_lengths + self.kernel_size - 1).unsqueeze(1))
        pooled = masked_max(responses, windows)
        # a padding word (no characters) has no window: the zero vector, not −∞
        pooled = pooled.masked_fill((word_lengths == 0).unsqueeze(1), 0.0)
        return pooled.reshape(batch, steps, self.output_size)   # (not -1: a chunk may hold no word)


def _check_ids(name: str, ids: Tensor, where: str) -> None:
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{where}: argument '{name}' expected int64 (or int32) ids, got {ids.dtype}")


class Tagger(nn.Module):
    r"""Word ids + characters → tag scores for every word.

        x_t = [E_w[w_t] ; CharacterEncoder(chars_t)]
        (y_1 … y_T) = BiLSTM(x_1 … x_T, lengths, lookahead=L_a)
        logits_t = V · dropout(y_t) + c

    With ``lookahead`` L_a the backward direction at word t has read only words t … t + L_a, so
    with one layer the tag of word t depends on no word after t + L_a (``None``: the whole
    sentence). Stacked layers add up: with ``num_layers`` = L the reach is L·L_a words.

    Args:
        num_tags: K; vocab_size: V words (0 = padding, 1 = unknown); alphabet_size: characters
            (0 = padding); word_dim, char_dim, char_channels, char_kernel: embedding and
            character CNN sizes (``char_channels=0`` turns the character model off);
        hidden_size: H per direction; num_layers; cell; lookahead; dropout (on x_t, between
            layers, on y_t).

    Shapes: words (N, T) int64; characters (N, T, W) int64; lengths (N,) or None
    → logits (N, T, K), zero rows beyond each length are not meaningful (mask them).
    """

    def __init__(self, num_tags: int, *, vocab_size: int, alphabet_size: int, word_dim: int = 100,
                 char_dim: int = 30, char_channels: int = 50, char_kernel: int = 3,
                 hidden_size: int = 128, num_layers: int = 1, cell: str = "lstm",
                 lookahead: int | None = None, dropout: float = 0.3) -> None:
        super().__init__()
        self.lookahead = lookahead
        self.words = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        self.characters = (CharacterEncoder(alphabet_size, char_dim, char_channels, char_kernel)
                           if char_channels > 0 else None)
        features = word_dim + (char_channels if self.characters is not None else 0)
        self.dropout = nn.Dropout(dropout)
        self.rnn = RNN(cell, features, hidden_size, num_layers, bidirectional=True,
                       lookahead=lookahead, dropout=dropout)
        self.classifier = nn.Linear(self.rnn.output_size, num_tags)

    def word_features(self, words: Tensor, characters: Tensor | None = None) -> Tensor:
        """x_t of every word: words (N, T), characters (N, T, W) → (N, T, F); each word on its own."""
        where = "Tagger.forward"
        check_tensor("words", words, dims=2, where=where)
        _check_ids("words", words, where)
        x = self.words(words)
        if self.characters is not None:
            check_tensor("characters", characters, dims=3, where=where)
            _check_ids("characters", characters, where)
            if characters.shape[:2] != words.shape:
                raise ValueError(f"{where}: argument 'characters' expected shape (N, T, W) with "
                                 f"(N, T) = {tuple(words.shape)}, got {tuple(characters.shape)}")
            x = torch.cat([x, self.characters(characters)], dim=-1)
        return x

    def forward(self, words: Tensor, characters: Tensor | None = None,
                lengths: Tensor | None = None) -> Tensor:
        outputs, _ = self.rnn(self.dropout(self.word_features(words, characters)), lengths)
        return self.classifier(self.dropout(outputs))

    def stream_layers(self) -> list[nn.Module | Callable[..., Tensor]]:
        """What :meth:`forward` composes, in order, for :func:`convrnn.stream`: chunks are ``(words,
        characters)`` (words alone without the character model); the tag of word t is final once word
        t + num_layers · lookahead is in (``lookahead=None`` reads the whole sentence: not causal)."""
        return [self.word_features, self.dropout, self.rnn, self.dropout, self.classifier]


__all__ = ["CharacterEncoder", "Tagger"]
