"""The word2vec vocabulary and its two sampling distributions: negative words drawn from the
unigram distribution raised to 3/4, and frequent words dropped by subsampling.

Letters: V vocabulary size, c_w the count of word w, T = Σ_w c_w the corpus words in vocabulary.

- Negative sampling (Mikolov et al., 2013b, §2.2): P_n(w) = c_w^α / Σ_v c_v^α with α = 0.75
  (``ns_exponent``). Drawn by bisection in the cumulative table, as gensim does.
- Subsampling (the word2vec.c / gensim formula, a smoothed form of the paper's 1 − √(t/f)):
  with f_w = c_w / T and threshold t (``sample``), word w is kept with probability
  p_keep(w) = min(1, (√(f_w / t) + 1) · t / f_w); ``sample = 0`` keeps every word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor


class WordVocabulary:
    """Words with their corpus counts, most frequent first (ties in order of first appearance);
    id i is ``words[i]``. Built by :meth:`build`, saved with :meth:`to_json`."""

    def __init__(self, words: Sequence[str], counts: Sequence[int]) -> None:
        words, counts = list(words), [int(c) for c in counts]
        if len(words) != len(counts):
            raise ValueError(f"WordVocabulary: expected as many counts as words, got {len(counts)} counts "
                             f"for {len(words)} words")
        if not words:
            raise ValueError("WordVocabulary: argument 'words' expected at least one word, got none "
                             "(is the corpus empty, or min_count above every count?)")
        if any(c < 1 for c in counts):
            raise ValueError(f"WordVocabulary: argument 'counts' expected positive counts, got {min(counts)}")
        self.words, self.counts = words, counts
        self.index = {word: i for i, word in enumerate(words)}
        if len(self.index) != len(words):
            repeated = sorted(w for w, n in Counter(words).items() if n > 1)
            raise ValueError(f"WordVocabulary: argument 'words' expected distinct words, got repeats {repeated[:5]}")

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], *, min_count: int = 5,
              max_vocab_size: int | None = None) -> WordVocabulary:
        """Count the words of ``sentences`` (an iterable of token lists) and keep those seen at
        least ``min_count`` times, at most ``max_vocab_size`` of them (the most frequent)."""
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"WordVocabulary.build: argument 'min_count' expected an int ≥ 1, got {min_count!r}")
        if max_vocab_size is not None and (not isinstance(max_vocab_size, int) or max_vocab_size < 1):
            raise ValueError(f"WordVocabulary.build: argument 'max_vocab_size' expected None or an int ≥ 1, "
                             f"got {max_vocab_size!r}")
        if isinstance(sentences, str):
            raise TypeError("WordVocabulary.build: argument 'sentences' expected an iterable of token lists, got a str")
        counts: Counter[str] = Counter()
        seen = 0
        for sentence in sentences:
            if isinstance(sentence, str):
                raise TypeError("WordVocabulary.build: argument 'sentences' expected token lists, got a str "
                                "among them (tokenize the text first)")
            counts.update(sentence)
            seen += len(sentence)
        if seen == 0:
            raise ValueError("WordVocabulary.build: argument 'sentences' is an empty corpus (no tokens at all)")
        kept = [(w, c) for w, c in counts.most_common() if c >= min_count][:max_vocab_size]
        if not kept:
            raise ValueError(f"WordVocabulary.build: no word occurs min_count={min_count} times in the "
                             f"{seen} tokens (the most frequent occurs {counts.most_common(1)[0][1]} times)")
        return cls([w for w, _ in kept], [c for _, c in kept])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    @property
    def total(self) -> int:
        """T: corpus words that are in the vocabulary (one epoch's raw training words)."""
        return sum(self.counts)

    def id_of(self, word: str) -> int:
        """The id of ``word``; ``KeyError`` naming it if it is not in the vocabulary."""
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the vocabulary of {len(self)} words") from None

    def encode(self, sentence: Iterable[str]) -> list[int]:
        """Ids of the in-vocabulary words of ``sentence``; other words are dropped (as word2vec does,
        before windows are formed)."""
        index = self.index
        return [i for i in map(index.get, sentence) if i is not None]

    def to_json(self) -> dict[str, Any]:
        return {"words": list(self.words), "counts": list(self.counts)}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> WordVocabulary:
        if not isinstance(document, dict) or "words" not in document or "counts" not in document:
            raise ValueError("WordVocabulary.from_json: expected {'words': [...], 'counts': [...]}, got "
                             f"{sorted(document) if isinstance(document, dict) else type(document).__name__}")
        return cls(document["words"], document["counts"])


def noise_distribution(counts: Sequence[int] | Tensor, ns_exponent: float = 0.75) -> Tensor:
    """P_n(w) = c_w^α / Σ_v c_v^α: (V,) float64, the distribution negative words are drawn from."""
    weights = torch.as_tensor(counts, dtype=torch.float64) ** ns_exponent
    return weights / weights.sum()


CUMULATIVE_DOMAIN = 2**31 - 1
"""The cumulative table's last entry: a uniform integer below it picks a word (gensim's choice)."""


def cumulative_table(counts: Sequence[int] | Tensor, ns_exponent: float = 0.75) -> Tensor:
    """(V,) int64 running sums of P_n scaled to :data:`CUMULATIVE_DOMAIN`; word w is drawn when a
    uniform integer r in [0, domain) satisfies table[w−1] ≤ r < table[w]."""
    cumulative = torch.cumsum(noise_distribution(counts, ns_exponent), 0) * CUMULATIVE_DOMAIN
    table = cumulative.round().to(torch.int64)
    table[-1] = CUMULATIVE_DOMAIN
    return table


def draw_negatives(table: Tensor, shape: tuple[int, ...], generator: torch.Generator | None = None) -> Tensor:
    """Word ids of ``shape`` drawn from P_n by bisection in ``table`` (see :func:`cumulative_table`)."""
    r = torch.randint(0, CUMULATIVE_DOMAIN, shape, generator=generator, device=table.device)
    return torch.searchsorted(table, r, right=True)


def keep_probabilities(counts: Sequence[int] | Tensor, sample: float) -> Tensor:
    """p_keep(w) = min(1, (√(f_w/t) + 1)·t/f_w) with f_w = c_w/T and t = ``sample``: (V,) float32;
    all ones when ``sample`` is 0."""
    if not sample >= 0:
        raise ValueError(f"keep_probabilities: argument 'sample' expected a number ≥ 0, got {sample!r}")
    counts = torch.as_tensor(counts, dtype=torch.float64)
    if sample == 0:
        return torch.ones(counts.shape, dtype=torch.float32)
    threshold = sample * counts.sum()  # t·T, so f_w/t = c_w/(t·T)
    keep = (torch.sqrt(counts / threshold) + 1) * threshold / counts
    return keep.clamp(max=1.0).to(torch.float32)
