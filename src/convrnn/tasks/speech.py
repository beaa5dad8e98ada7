"""Speech recognition: utterances of digit strings in, their words out, by CTC (``spoken-digits``).

Scores, each with greedy (best-path) and prefix-beam decoding, on voices never heard in training,
clean and with white noise at stated signal-to-noise ratios:

- *word error rate* ``WER = Σ_n d(ĥ_n, r_n) / Σ_n |r_n|``, d the Levenshtein distance between the
  recognised and the true word sequence (substitutions + deletions + insertions), summed over the
  test set before dividing — the standard corpus-level WER (it can exceed 1);
- *string accuracy*: the share of utterances recognised exactly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from convrnn.data.batching import LengthBucketSampler
from convrnn.data.spoken_digits import WORDS, SpokenDigits, collate_spoken_digits, words_to_digits
from convrnn.layers.ctc import CTCLoss, ctc_beam_decode, ctc_beam_search, ctc_best_path
from convrnn.models.speech_recognizer import SpeechRecognizer
from convrnn.tasks.fitting import fit_model
from convrnn.tasks.protocol import ExportSignature, Task
from convrnn.tasks.runs import Run
from convrnn.training.metrics import Metric, edit_distance
from convrnn.training.steps import StepOutput

__all__ = ["SpeechRecipe", "WordErrorRate", "recognition_scores", "recognize", "snr_name", "speech_loader",
           "speech_step", "word_error_rate"]

PRUNE_BELOW = math.log(1e-4)  # beam search ignores words this improbable at a step


def word_error_rate(hypotheses: Sequence[Sequence[Any]], references: Sequence[Sequence[Any]]) -> float:
    """Corpus word error rate ``Σ_n d(h_n, r_n) / Σ_n |r_n|`` (d: Levenshtein distance over words).

    ``hypotheses`` and ``references``: one word sequence per utterance, paired in order; the
    references must hold at least one word in all."""
    if len(hypotheses) != len(references):
        raise ValueError(f"word_error_rate: expected as many hypotheses as references, got {len(hypotheses)} "
                         f"and {len(references)}")
    words = sum(len(r) for r in references)
    if words == 0:
        raise ValueError("word_error_rate: argument 'references' expected at least one word in all, got none")
    return sum(edit_distance(h, r) for h, r in zip(hypotheses, references, strict=True)) / words


def _truths(targets: Tensor, lengths: Tensor) -> list[list[int]]:
    return [row[:n] for row, n in zip(targets.tolist(), lengths.tolist(), strict=True)]


def speech_step(model: nn.Module, batch: dict[str, Tensor], loss: Any) -> StepOutput:
    """``fit``'s step for a recognizer: CTC loss of a :func:`collate_spoken_digits` batch; the outputs
    for metrics are ``(log_probs, steps)``, the targets ``(words (N, S) padded with −1, lengths)``."""
    log_probs, steps = model(batch["waveforms"], batch["lengths"])
    value = loss(log_probs, steps, (batch["targets"] + 1).clamp_min(0), batch["target_lengths"])
    return StepOutput(value, (log_probs.detach(), steps), (batch["targets"], batch["target_lengths"]),
                      batch["waveforms"].shape[0])


class WordErrorRate(Metric):
    """Corpus word error rate of best-path decoding: ``(Σ edit distances, Σ reference words)``.

    ``outputs = (log_probs (N, T, K), steps (N,))``; ``targets = (words (N, S) padded with −1,
    lengths (N,))``; symbol s ≥ 1 is word s − 1.
    """

    def batch(self, outputs: tuple[Tensor, Tensor], targets: tuple[Tensor, Tensor]) -> tuple[float, float]:
        log_probs, steps = outputs
        symbols, counts = ctc_best_path(log_probs, steps)
        read = [[s - 1 for s in row[:n]] for row, n in zip(symbols.tolist(), counts.tolist(), strict=True)]
        truths = _truths(*targets)
        return float(sum(edit_distance(h, r) for h, r in zip(read, truths, strict=True))), \
            float(sum(map(len, truths)))


def speech_loader(data: SpokenDigits, batch_size: int, *, shuffle: bool, seed: int = 0,
                  workers: int = 0) -> DataLoader[Any]:
    """Batches of utterances of similar length (little padding), shuffled by ``(seed, epoch)``."""
    sampler = LengthBucketSampler(data.lengths.tolist(), batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(data, batch_sampler=sampler, collate_fn=collate_spoken_digits, num_workers=workers,
                      persistent_workers=workers > 0)


def snr_name(snr_db: float | None) -> str:
    """How scores name a noise level: ``"clean"``, ``"20db"``, ``"-5db"``."""
    return "clean" if snr_db is None else f"{snr_db:g}db"


@torch.no_grad()
def recognition_scores(model: nn.Module, data: SpokenDigits, *, device: str = "cpu", batch_size: int = 64,
                       beam_width: int = 8) -> dict[str, float]:
    """Word error rate and string accuracy of ``model`` on ``data``, greedy and prefix-beam decoding
    (keys ``word_error_rate``, ``string_accuracy``, ``beam_word_error_rate``, ``beam_string_accuracy``)."""
    model = model.to(device).eval()
    found: dict[str, list[list[int]]] = {"greedy": [], "beam": []}
    truths: list[list[int]] = []
    for batch in speech_loader(data, batch_size, shuffle=False):
        log_probs, steps = model(batch["waveforms"].to(device), batch["lengths"])
        truths += _truths(batch["targets"], batch["target_lengths"])
        symbols, counts = ctc_best_path(log_probs, steps)
        found["greedy"] += [row[:n] for row, n in zip(symbols.tolist(), counts.tolist(), strict=True)]
        found["beam"] += ctc_beam_decode(log_probs, steps, beam_width=beam_width, min_log_prob=PRUNE_BELOW)
    scores = {}
    for name, prefix in (("greedy", ""), ("beam", "beam_")):
        read = [[s - 1 for s in symbols] for symbols in found[name]]
        scores[f"{prefix}word_error_rate"] = word_error_rate(read, truths)
        scores[f"{prefix}string_accuracy"] = sum(h == r for h, r in zip(read, truths, strict=True)) / len(truths)
    return scores


def recognize(model: nn.Module, waveform: Tensor | np.ndarray, *, beam_width: int = 8,
              top: int = 1) -> list[tuple[list[str], float]]:
    """The ``top`` most probable word sequences in one utterance ``waveform (T,)`` at the model's
    sample rate, with their probabilities (prefix beam search). ``model`` is a trained
    :class:`SpeechRecognizer` or its export."""
    samples = torch.as_tensor(np.asarray(waveform, dtype=np.float32))
    if samples.dim() != 1:
        raise ValueError(f"recognize: argument 'waveform' expected one channel (T,), got shape {tuple(samples.shape)}")
    least = int(model.least_samples)
    if samples.shape[0] < least:
        raise ValueError(f"recognize: argument 'waveform' expected at least {least} samples "
                         f"({1000 * least / model.sample_rate:.0f} ms), got {samples.shape[0]}")
    with torch.no_grad():
        log_probs, _ = model(samples.reshape(1, 1, -1))
    ranked = ctc_beam_search(log_probs[0], beam_width=max(beam_width, top), top=top)
    return [([WORDS[s - 1] for s in symbols], math.exp(score)) for symbols, score in ranked]


@dataclass(frozen=True)
class SpeechRecipe(Task):
    """A speech recognition task: synthesized digit strings (``data``: options of :class:`SpokenDigits`
    for the training split), a :class:`SpeechRecognizer` (``model_options``), training settings, and
    the noise levels ``test_snrs`` (dB; None: clean) the held-out voices are scored at."""

    kind = "speech"
    capabilities = frozenset({"export"})

    name: str
    description: str
    target: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=lambda: {"train": 12_000, "validation": 300, "test": 1_000})
    data_seed: int = 0
    test_snrs: tuple[float | None, ...] = (None, 20.0, 10.0)
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 2e-3
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    scheduler: str = "onecycle"
    clip_grad_norm: float = 5.0
    beam_width: int = 8

    def utterances(self, split: str, count: int | None = None, *, progress: bool = False) -> SpokenDigits:
        """The ``split``'s utterances (``count`` of them, default ``sizes[split]``), fixed by ``data_seed``;
        training takes ``data``'s options, validation and test the held-out voices spoken whole."""
        options = self.data if split == "train" else {}
        return SpokenDigits(split, size=self.sizes[split] if count is None else count, seed=self.data_seed,
                            progress=progress, **options)

    def fit(self, run: Run) -> dict[str, Any]:
        """Train into ``run.out``; ``limit`` caps the number of training utterances."""
        settings = run.settings
        train_count = self.sizes["train"] if settings.limit is None else min(settings.limit, self.sizes["train"])
        train = speech_loader(self.utterances("train", train_count, progress=settings.progress), settings.batch_size,
                              shuffle=True, seed=settings.seed)
        val = speech_loader(self.utterances("validation", progress=settings.progress), 64, shuffle=False)
        model = SpeechRecognizer(**self.model_options)
        config = {"recipe": self.name, "model": "speech-recognizer", "model_options": self.model_options,
                  "input_shape": [1, model.sample_rate], "classes": list(WORDS),
                  "data": {**self.data, "seed": self.data_seed, "sizes": self.sizes},
                  "settings": {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                               "seed": settings.seed, "optimizer": self.optimizer, "scheduler": self.scheduler,
                               "train_utterances": train_count}}
        history = fit_model(self, run, model, train, val, loss=CTCLoss(zero_infinity=True),
                            metrics={"word_error_rate": WordErrorRate()}, monitor="val_word_error_rate", mode="min",
                            config=config, clip_grad_norm=self.clip_grad_norm, step_fn=speech_step)
        scores = self._test_scores(model, self.utterances("test", progress=settings.progress), settings.device)
        return run.finish({**{f"test_{key}": value for key, value in scores.items()},
                           "best_val_word_error_rate": min(r.get("val_word_error_rate", float("nan"))
                                                           for r in history.records)}, config["settings"])

    def _test_scores(self, model: nn.Module, data: SpokenDigits, device: str) -> dict[str, float]:
        scores: dict[str, float] = {}
        for snr in self.test_snrs:
            measured = recognition_scores(model, data.at_snr(snr), device=device, beam_width=self.beam_width)
            scores.update({f"{snr_name(snr)}_{key}": value for key, value in measured.items()})
        return scores

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The recognizer (a :class:`SpeechRecognizer`) a saved config describes."""
        if config.get("model") != "speech-recognizer":
            raise ValueError(f"expected a speech recognizer (model 'speech-recognizer'), its config names "
                             f"{config.get('model')!r}")
        return SpeechRecognizer(**config.get("model_options", {}))

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Word error rate and string accuracy (greedy and beam) of the recognizer in ``run`` on ``split``,
        at every noise level of ``test_snrs`` (keys ``clean_word_error_rate``, ``20db_string_accuracy``, …)."""
        model, _ = self.load_model(run)
        return self._test_scores(model, self.utterances(split), device)

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per WAV file (16-bit PCM at the model's sample rate): the digits heard, then the ``top``
        most probable word sequences with their probabilities."""
        from convrnn.data.speech import read_wav

        model, _ = self.load_model(run)
        lines = []
        for path in inputs:
            samples, rate = read_wav(path)
            if rate != model.sample_rate:
                raise ValueError(f"predict: '{path}' is sampled at {rate} Hz, expected {model.sample_rate} Hz "
                                 f"(convert it with e.g. `sox {path} -r {model.sample_rate} out.wav`)")
            ranked = recognize(model, samples, beam_width=self.beam_width, top=top)
            alternatives = ", ".join(f"{' '.join(words) or '∅'} {p:.1%}" for words, p in ranked)
            lines.append(f"{path}: {words_to_digits(ranked[0][0]) or '∅'}  ({alternatives})")
        return lines

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """Waveforms ``(N, 1, T)`` in; per-step log-probabilities ``(N, T', words + 1)`` and their counts
        ``(N,)`` out; N and T dynamic (the prefix beam search runs after)."""
        waveform = torch.zeros(2, 1, 8 * model.hop_length)
        return ExportSignature((waveform,), {"waveform": ["N", None, "T"]}, ["waveform"], ["log_probs", "steps"],
                               attributes={"sample_rate": model.sample_rate, "hop_length": model.hop_length,
                                           "least_samples": model.least_samples},
                               minimums={"T": model.least_samples},
                               refused={"pt2": "torch.export's program keeps a guard from its decomposition of "
                                               "linear (T' mod N·T' ≠ 0, as for the mnist-ocr reader) that one "
                                               "utterance alone (N = 1) fails; the ONNX exporter keeps both axes "
                                               "free"})

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained recognizer and an input shape (one second of audio)."""
        model = SpeechRecognizer(**self.model_options)
        return model, (1, model.sample_rate)
