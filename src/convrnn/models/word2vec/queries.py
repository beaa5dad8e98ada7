"""Querying word vectors: cosine similarity, nearest words, and analogies a − b + c by 3CosAdd or
3CosMul, optionally restricted to the N most frequent words as gensim does.

Letters: V words, E vector size, û = u/‖u‖. For query words a, b, c ("a is to b as ? is to c",
e.g. paris − france + spain → madrid), over candidates d ∉ {a, b, c}:

- 3CosAdd (Mikolov et al., 2013): argmax_d cos(d, a) − cos(d, b) + cos(d, c), i.e. the d nearest
  to â − b̂ + ĉ; the score shown is cos(d, â − b̂ + ĉ) (gensim's ``most_similar``).
- 3CosMul (Levy & Goldberg, 2014): argmax_d s(d, a) · s(d, c) / (s(d, b) + ε), with
  s = (1 + cos)/2 ∈ [0, 1] and ε = 10⁻⁶ (gensim's ``most_similar_cosmul``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from convrnn.functional._checks import check_choice

METHODS = ("3cosadd", "3cosmul")
COSMUL_EPSILON = 1e-6


class WordVectors:
    """Words (most frequent first, if ``restrict`` is to mean "the top N") and their vectors
    ``vectors`` (V, E); ``counts`` optional. What a trained model or a word2vec file is queried
    through."""

    def __init__(self, words: Sequence[str], vectors: Tensor, counts: Sequence[int] | None = None) -> None:
        vectors = torch.as_tensor(vectors)
        if vectors.dim() != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"WordVectors: argument 'vectors' expected shape ({len(words)}, E) — one row per "
                             f"word — got {tuple(vectors.shape)}")
        self.words = list(words)
        self.vectors = vectors.detach().to("cpu", torch.float32)
        self.counts = list(counts) if counts is not None else None
        self.index = {word: i for i, word in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("WordVectors: argument 'words' expected distinct words, got repeats")
        norms = self.vectors.norm(dim=1, keepdim=True)
        self.unit = self.vectors / norms.clamp(min=1e-12)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    def id_of(self, word: str) -> int:
        """The row of ``word``; ``KeyError`` naming it when it is not among the words."""
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the vocabulary of {len(self)} words") from None

    def __getitem__(self, word: str) -> Tensor:
        """The vector of ``word``: (E,)."""
        return self.vectors[self.id_of(word)]

    def similarity(self, first: str, second: str) -> float:
        """cos(u_first, u_second)."""
        return float(self.unit[self.id_of(first)] @ self.unit[self.id_of(second)])

    def _limit(self, restrict: int | None) -> int:
        if restrict is None:
            return len(self)
        if isinstance(restrict, bool) or not isinstance(restrict, int) or restrict < 1:
            raise ValueError(f"argument 'restrict' expected None or an int ≥ 1, got {restrict!r}")
        return min(restrict, len(self))

    def most_similar(self, query: str | Tensor, k: int = 10, *, restrict: int | None = None,
                     exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The ``k`` words of highest cosine with ``query`` (a word, which is itself left out, or a
        vector (E,)), among the first ``restrict`` words: ``[(word, cosine), …]``, best first."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"most_similar: argument 'k' expected an int ≥ 1, got {k!r}")
        excluded = {self.id_of(w) for w in exclude}
        if isinstance(query, str):
            excluded.add(self.id_of(query))
            direction = self.unit[self.id_of(query)]
        else:
            direction = torch.as_tensor(query, dtype=torch.float32)
            if direction.shape != (self.vector_size,):
                raise ValueError(f"most_similar: argument 'query' expected a word or a vector of shape "
                                 f"({self.vector_size},), got shape {tuple(direction.shape)}")
            direction = direction / direction.norm().clamp(min=1e-12)
        scores = self.unit[: self._limit(restrict)] @ direction
        return self._best(scores, excluded, k)

    def analogy(self, a: str, b: str, c: str, k: int = 1, *, method: str = "3cosadd",
                restrict: int | None = None) -> list[tuple[str, float]]:
        """The ``k`` best words d for a − b + c (paris − france + spain → madrid) by ``method``
        (``"3cosadd"`` or ``"3cosmul"``, see the module docstring), the query words left out."""
        check_choice("method", method, METHODS, where="analogy")
        ids = [self.id_of(w) for w in (a, b, c)]
        scores = analogy_scores(self.unit[: self._limit(restrict)], self.unit[ids].unsqueeze(0), method)[0]
        return self._best(scores, set(ids), k)

    def _best(self, scores: Tensor, excluded: set[int], k: int) -> list[tuple[str, float]]:
        scores = scores.clone()
        for i in excluded:
            if i < scores.numel():
                scores[i] = -torch.inf
        top = torch.topk(scores, min(k, scores.numel() - sum(i < scores.numel() for i in excluded)))
        return [(self.words[i], float(s)) for s, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)]


def analogy_scores(unit: Tensor, queries: Tensor, method: str = "3cosadd") -> Tensor:
    """Scores of every candidate for Q analogies: ``unit`` (V, E) unit vectors, ``queries``
    (Q, 3, E) the unit vectors of (a, b, c) → (Q, V), higher is better for a − b + c."""
    check_choice("method", method, METHODS, where="analogy_scores")
    a, b, c = queries[:, 0], queries[:, 1], queries[:, 2]
    if method == "3cosadd":
        direction = a - b + c
        direction = direction / direction.norm(dim=1, keepdim=True).clamp(min=1e-12)
        return direction @ unit.T
    shifted = (1 + queries @ unit.T) / 2  # (Q, 3, V): s(d, a), s(d, b), s(d, c)
    return shifted[:, 0] * shifted[:, 2] / (shifted[:, 1] + COSMUL_EPSILON)


__all__ = ["METHODS", "WordVectors", "analogy_scores"]
