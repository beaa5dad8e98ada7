"""Word-vector benchmarks as gensim scores them: analogy accuracy (``questions-words.txt``, per
section and in total) and Spearman correlation with human word-similarity scores (WordSim-353,
SimLex-999).

Both are case-insensitive and restricted to the ``restrict`` most frequent words (gensim's
``restrict_vocab``, 300,000 by default): a question or pair with a word outside them is skipped,
and how many were skipped is reported — on a small corpus most are. An analogy a : b :: c : d
counts as correct when the best word for b − a + c (other than a, b, c) is d.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from convrnn.models.word2vec.queries import WordVectors, analogy_scores

Analogy = tuple[str, str, str, str]


@dataclass
class AnalogyResult:
    """``sections``: {name: (correct, asked)}; ``questions``: all questions given; ``asked``:
    those whose four words are in the restricted vocabulary."""

    sections: dict[str, tuple[int, int]] = field(default_factory=dict)
    questions: int = 0
    restrict: int = 0
    method: str = "3cosadd"

    @property
    def correct(self) -> int:
        return sum(c for c, _ in self.sections.values())

    @property
    def asked(self) -> int:
        return sum(n for _, n in self.sections.values())

    @property
    def accuracy(self) -> float:
        """correct / asked (0 when nothing could be asked)."""
        return self.correct / self.asked if self.asked else 0.0

    def table(self) -> str:
        lines = [f"{'section':32s} {'correct':>8s} {'asked':>6s} {'accuracy':>8s}"]
        for name, (correct, asked) in self.sections.items():
            lines.append(f"{name:32s} {correct:8d} {asked:6d} {correct / asked if asked else 0:8.1%}")
        lines.append(f"{'total':32s} {self.correct:8d} {self.asked:6d} {self.accuracy:8.1%}")
        lines.append(f"({self.method}; {self.questions - self.asked} of {self.questions} questions skipped: a word "
                     f"outside the {self.restrict:,} most frequent)")
        return "\n".join(lines)


def _lowercase_lookup(vectors: WordVectors, restrict: int) -> dict[str, int]:
    lookup: dict[str, int] = {}
    for i, word in enumerate(vectors.words[:restrict]):
        lookup.setdefault(word.lower(), i)  # the most frequent spelling wins, as in gensim
    return lookup


def evaluate_analogies(vectors: WordVectors, sections: dict[str, Sequence[Analogy]], *, restrict: int = 300_000,
                       method: str = "3cosadd", batch_size: int = 1024) -> AnalogyResult:
    """Accuracy on analogy ``sections`` ({name: [(a, b, c, d), …]}); see the module docstring."""
    restrict = min(restrict, len(vectors))
    lookup = _lowercase_lookup(vectors, restrict)
    unit = vectors.unit[:restrict]
    result = AnalogyResult(questions=sum(len(q) for q in sections.values()), restrict=restrict, method=method)
    for name, questions in sections.items():
        ids = [[lookup.get(w.lower()) for w in question] for question in questions]
        ids = torch.tensor([q for q in ids if None not in q], dtype=torch.long).reshape(-1, 4)
        correct = 0
        for start in range(0, ids.shape[0], batch_size):
            batch = ids[start:start + batch_size]
            # b − a + c in the a − b + c order of analogy_scores: (b, a, c)
            scores = analogy_scores(unit, unit[batch[:, [1, 0, 2]]], method)
            scores.scatter_(1, batch[:, :3], -torch.inf)
            correct += int((scores.argmax(1) == batch[:, 3]).sum())
        result.sections[name] = (correct, ids.shape[0])
    return result


@dataclass
class SimilarityResult:
    """Spearman's ρ (and Pearson's r) between cosine similarity and the human scores over the
    ``used`` pairs of ``pairs`` whose words are both in the restricted vocabulary."""

    spearman: float
    pearson: float
    used: int
    pairs: int


def rank(values: np.ndarray) -> np.ndarray:
    """Ranks 1 … n, ties given their average rank (the ranks Spearman's ρ correlates)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    while start < len(values):
        stop = start
        while stop + 1 < len(values) and sorted_values[stop + 1] == sorted_values[start]:
            stop += 1
        ranks[order[start:stop + 1]] = (start + stop) / 2 + 1
        start = stop + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """ρ = Pearson correlation of the ranks of x and y (ties averaged)."""
    return float(np.corrcoef(rank(np.asarray(x)), rank(np.asarray(y)))[0, 1])


def evaluate_word_pairs(vectors: WordVectors, pairs: Sequence[tuple[str, str, float]], *,
                        restrict: int = 300_000) -> SimilarityResult:
    """Correlation of cos(word1, word2) with the human score over ``pairs`` (see the module docstring)."""
    lookup = _lowercase_lookup(vectors, min(restrict, len(vectors)))
    model, human = [], []
    for first, second, score in pairs:
        i, j = lookup.get(first.lower()), lookup.get(second.lower())
        if i is None or j is None:
            continue
        model.append(float(vectors.unit[i] @ vectors.unit[j]))
        human.append(score)
    if len(model) < 3:
        return SimilarityResult(float("nan"), float("nan"), len(model), len(pairs))
    return SimilarityResult(spearman(model, human), float(np.corrcoef(model, human)[0, 1]), len(model), len(pairs))


def evaluate_benchmarks(vectors: WordVectors, benchmarks: dict[str, object], *, restrict: int = 300_000,
                        method: str = "3cosadd") -> dict[str, float]:
    """The scores a run reports, from ``convrnn.data.lexicons.embedding_benchmarks()``:
    ``analogy_accuracy`` (and the questions asked/total), ``wordsim353_spearman``,
    ``simlex999_spearman`` (and the pairs used)."""
    analogies = evaluate_analogies(vectors, benchmarks["analogies"], restrict=restrict, method=method)
    scores: dict[str, float] = {"analogy_accuracy": analogies.accuracy, "analogy_asked": float(analogies.asked),
                                "analogy_questions": float(analogies.questions)}
    for name in ("wordsim353", "simlex999"):
        result = evaluate_word_pairs(vectors, benchmarks[name], restrict=restrict)
        scores[f"{name}_spearman"] = result.spearman
        scores[f"{name}_pairs_used"] = float(result.used)
    return scores


__all__ = ["AnalogyResult", "SimilarityResult", "evaluate_analogies", "evaluate_benchmarks", "evaluate_word_pairs",
           "rank", "spearman"]
