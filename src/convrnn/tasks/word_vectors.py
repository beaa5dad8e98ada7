"""Word vectors: word2vec (CBOW or skip-gram with negative sampling, hierarchical softmax or both)
on a text corpus, scored on the word-analogy and word-similarity benchmarks (``word2vec``); a
trained run can ``embed``.

Training is word2vec's own loop (:func:`convrnn.models.word2vec.train_word2vec`), not ``fit``: the
command line's ``--epochs``, ``--batch-size`` and ``--lr`` set the recipe's ``epochs``,
``batch_words`` and ``alpha``, ``--architecture`` (cbow, skipgram) its architecture and
``--objective`` what replaces the softmax over the vocabulary: ``negative`` (negative sampling
with the recipe's ``negative`` words, at least 5 if the recipe has none), ``hs`` (hierarchical
softmax alone: ``hs=True, negative=0``) or ``hs+negative``; a run keeps no resumable checkpoints. Besides ``model/`` and
``scores.json`` a run directory holds ``vectors.bin`` (the word2vec binary format).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

import torch
from torch import nn

from convrnn.data.lexicons import embedding_benchmarks
from convrnn.data.text_stream import TextStream
from convrnn.functional._checks import check_choice
from convrnn.models.word2vec import (
    ARCHITECTURES,
    Word2Vec,
    Word2VecSettings,
    WordVectors,
    WordVocabulary,
    evaluate_analogies,
    evaluate_benchmarks,
    save_word2vec_format,
    train_word2vec,
)
from convrnn.tasks.protocol import Task
from convrnn.tasks.runs import Run, machine
from convrnn.tasks.sequence import TokenInput
from convrnn.tasks.settings import Settings, resolve_settings
from convrnn.training.checkpoint import save_model

OBJECTIVES = ("negative", "hs", "hs+negative")
"""What replaces the softmax over the vocabulary (``--objective``): negative sampling, hierarchical
softmax, or both."""


class _FirstSentences:
    """The first ``limit`` sentences of a stream, re-iterable."""

    def __init__(self, stream: TextStream, limit: int | None) -> None:
        self.stream, self.limit = stream, limit

    def __iter__(self) -> Iterator[list[str]]:
        for count, sentence in enumerate(self.stream):
            if self.limit is not None and count >= self.limit:
                return
            yield sentence


def load_vectors(run: str | os.PathLike[str]) -> tuple[WordVectors, dict[str, Any]]:
    """The word vectors of a word2vec run or model directory, and its config."""
    model, config = Word2VecRecipe.load_model(run)
    vocabulary = WordVocabulary.from_json(config["vocabulary"])
    return WordVectors(vocabulary.words, model.input, vocabulary.counts), config


@dataclass(frozen=True)
class Word2VecRecipe(Task):
    """Train word vectors on ``sources`` (see :class:`TextStream`) with ``settings``."""

    name: str
    description: str
    target: str
    sources: tuple[str, ...] = ("sotu",)
    settings: Word2VecSettings = dataclasses.field(default_factory=Word2VecSettings)

    kind = "word-vectors"
    capabilities = frozenset({"embed"})
    train_options: ClassVar[Mapping[str, tuple[str, ...]]] = {"architecture": ARCHITECTURES, "objective": OBJECTIVES}
    data_parallel = False
    parallelism = "its compiled Hogwild loop already runs `workers` threads over the corpus, without locks"

    def run_settings(self, *, epochs: int | None, batch_size: int | None, lr: float | None, seed: int, device: str,
                     resume: bool, progress: bool, limit: int | None) -> Settings:
        """``--epochs``, ``--batch-size`` (words per batch) and ``--lr`` (α) override the word2vec
        settings' ``epochs``, ``batch_words`` and ``alpha``; there is nothing to resume."""
        if resume:
            raise ValueError("train: word2vec keeps no resumable checkpoints (a run takes seconds to minutes); "
                             "run it again without --resume")
        defaults = SimpleNamespace(epochs=self.settings.epochs, batch_size=self.settings.batch_words,
                                   lr=self.settings.alpha)
        return resolve_settings(defaults, epochs, batch_size, lr, seed=seed, device=device, progress=progress,
                                limit=limit)

    def fit(self, run: Run, architecture: str | None = None, objective: str | None = None) -> dict[str, Any]:
        """Count the vocabulary, train, save the model and ``vectors.bin``, and score the vectors.
        ``architecture`` (one of ``ARCHITECTURES``) and ``objective`` (one of ``OBJECTIVES``)
        override the recipe's settings."""
        given, limit, device = run.settings, run.settings.limit, run.settings.device
        changes: dict[str, Any] = {"seed": given.seed + 1}  # gensim's default seed is 1; --seed 0 keeps it
        if architecture is not None:
            changes["architecture"] = check_choice("architecture", architecture, ARCHITECTURES, where="train")
        if objective is not None:
            check_choice("objective", objective, OBJECTIVES, where="train")
            changes["hs"] = objective.startswith("hs")
            changes["negative"] = max(self.settings.negative, 5) if objective.endswith("negative") else 0
        if run.given["epochs"] is not None:
            changes["epochs"] = given.epochs
        if run.given["batch_size"] is not None:
            changes["batch_words"] = given.batch_size
        if run.given["lr"] is not None:
            changes["alpha"] = run.given["lr"]
        if torch.device(device).type != "cpu":
            changes["engine"] = "torch"
        settings = dataclasses.replace(self.settings, **changes)
        corpus = _FirstSentences(TextStream(list(self.sources)), limit)
        vocabulary = WordVocabulary.build(corpus, min_count=settings.min_count,
                                          max_vocab_size=settings.max_vocab_size)
        model = Word2Vec(len(vocabulary), settings.vector_size, seed=settings.seed, hierarchical=settings.hs).to(device)
        report = train_word2vec(model, vocabulary, corpus, settings, progress=run.settings.progress)
        config = {"recipe": self.name, "sources": list(self.sources), "limit": limit,
                  "settings": settings.to_json(), "vocabulary": vocabulary.to_json()}
        model.cpu()
        save_model(run.out / "model", model, config, metadata={"words": report.words,
                                                                 "effective_words": report.effective_words})
        save_word2vec_format(run.out / "vectors.bin", vocabulary.words, model.input, binary=True)
        scores = self._scores(WordVectors(vocabulary.words, model.input, vocabulary.counts))
        return run.write({"recipe": self.name, **scores, "vocabulary_size": len(vocabulary),
                          "corpus_words": vocabulary.total, "train_seconds": round(report.seconds, 2),
                          "words_per_second": round(report.words_per_second), "engine": report.engine,
                          "wall_seconds": run.seconds(), "threads": settings.workers, "machine": machine(),
                          "settings": settings.to_json()})

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The (untrained) word2vec model a saved config describes."""
        if "vector_size" not in config.get("settings", {}) or "vocabulary" not in config:
            raise ValueError(f"it holds a {config.get('recipe')!r} model, not word vectors (a word2vec run)")
        return Word2Vec(len(WordVocabulary.from_json(config["vocabulary"])), config["settings"]["vector_size"],
                        hierarchical=bool(config["settings"].get("hs", False)))  # runs saved before hs: False

    def embed(self, run: str | os.PathLike[str]) -> WordVectors:
        """The word vectors of a trained run (the ``embed`` capability: ``convrnn embed RUN``)."""
        return load_vectors(run)[0]

    @staticmethod
    def _scores(vectors: WordVectors) -> dict[str, float]:
        benchmarks = embedding_benchmarks()
        scores = {f"test_{key}": value for key, value in evaluate_benchmarks(vectors, benchmarks).items()}
        cosmul = evaluate_analogies(vectors, benchmarks["analogies"], method="3cosmul")
        scores["test_analogy_accuracy_3cosmul"] = cosmul.accuracy
        # a correlation over fewer than 3 pairs is undefined (NaN), which JSON cannot hold: left out
        return {key: value for key, value in scores.items() if value == value}

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """The benchmark scores of a run (word vectors have only this one, test, evaluation)."""
        if split != "test":
            raise ValueError(f"evaluate: word2vec is scored on the analogy and similarity benchmarks only; "
                             f"expected split 'test', got {split!r}")
        vectors, _ = load_vectors(run)
        return self._scores(vectors)

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """Per input: a word's ``top`` nearest words, or for "a b c" the best words for a − b + c."""
        vectors, _ = load_vectors(run)
        return [describe_query(vectors, text.lower().split(), top) for text in inputs]

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """CBOW's forward over a 10,000-word vocabulary fed 2W = 10 context ids."""
        return TokenInput(Word2Vec(10_000, self.settings.vector_size)), (2 * self.settings.window,)


def describe_query(vectors: WordVectors, words: Sequence[str], top: int) -> str:
    """One line: neighbours of one word, or the analogy a − b + c of three."""
    if len(words) == 1:
        found = vectors.most_similar(words[0], top)
        return f"{words[0]}: " + ", ".join(f"{w} {s:.3f}" for w, s in found)
    if len(words) == 3:
        found = vectors.analogy(*words, k=top)
        return f"{words[0]} − {words[1]} + {words[2]}: " + ", ".join(f"{w} {s:.3f}" for w, s in found)
    raise ValueError(f"predict: expected one word (neighbours) or three (a − b + c), got {len(words)}: {words}")


__all__ = ["OBJECTIVES", "Word2VecRecipe", "describe_query", "load_vectors"]
