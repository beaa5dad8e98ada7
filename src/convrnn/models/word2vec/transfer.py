"""Reusing trained word vectors (the seeds' "proxy task"): an ``nn.Embedding`` for another
model's vocabulary, initialised from word2vec rows where the word is known."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from convrnn.models.word2vec.queries import WordVectors


def embedding_from_vectors(vectors: WordVectors, tokens: Sequence[str], *, padding_idx: int | None = 0,
                           freeze: bool = False, seed: int = 0) -> tuple[nn.Embedding, int]:
    """An embedding (len(tokens), E) whose row i is the vector of ``tokens[i]`` (looked up as
    written, then lower-cased); rows of unknown tokens are drawn from N(0, σ²) with σ the
    standard deviation of the known vectors' entries, and the ``padding_idx`` row is zero.
    Returns ``(embedding, number of tokens found)``."""
    if not tokens:
        raise ValueError("embedding_from_vectors: argument 'tokens' expected at least one token, got none")
    generator = torch.Generator().manual_seed(seed)
    weight = torch.empty(len(tokens), vectors.vector_size)
    found = torch.zeros(len(tokens), dtype=torch.bool)
    for i, token in enumerate(tokens):
        row = vectors.index.get(token, vectors.index.get(token.lower()))
        if row is not None and i != padding_idx:
            weight[i] = vectors.vectors[row]
            found[i] = True
    std = float(weight[found].std()) if int(found.sum()) > 1 else float(vectors.vectors.std())
    weight[~found] = torch.randn(int((~found).sum()), vectors.vector_size, generator=generator) * std
    if padding_idx is not None:
        weight[padding_idx] = 0.0
    embedding = nn.Embedding.from_pretrained(weight, freeze=freeze, padding_idx=padding_idx)
    return embedding, int(found.sum())


__all__ = ["embedding_from_vectors"]
