"""Line reading (OCR): images of digit strings in, the digits out, by CTC (``mnist-ocr``).

Scores: *string accuracy*, the share of strings read
exactly, and the *character error rate* Σ edit distance(read, truth) / Σ len(truth), each with
greedy (best-path) and prefix-beam decoding.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from convrnn.data.batching import LengthBucketSampler
from convrnn.data.digit_strings import DigitStrings, collate_digit_strings
from convrnn.layers.ctc import CTCLoss, ctc_beam_decode, ctc_beam_search, ctc_best_path
from convrnn.models.ocr import CRNN
from convrnn.tasks.fitting import fit_model
from convrnn.tasks.protocol import Task
from convrnn.tasks.runs import Run
from convrnn.training.metrics import Metric, edit_distance
from convrnn.training.steps import StepOutput

__all__ = ["OCRRecipe", "StringAccuracy", "ctc_step", "edit_distance", "load_reader", "read_strings",
           "string_loader", "string_scores"]

PRUNE_BELOW = math.log(1e-4)  # beam search ignores symbols this improbable at a step (scores barely move)


def _symbols(targets: Tensor) -> Tensor:
    """Class labels (padded with −1) → CTC symbols (class c ↦ c + 1; the padding, never read, ↦ 0)."""
    return (targets + 1).clamp_min(0)


def ctc_step(model: nn.Module, batch: dict[str, Tensor], loss: Callable[..., Tensor]) -> StepOutput:
    """``fit``'s step for a reader: ``loss(log_probs, lengths, symbols, target_lengths)`` on a
    :func:`collate_digit_strings` batch; the outputs for metrics are ``(log_probs, lengths)``."""
    log_probs, lengths = model(batch["images"], batch["widths"])
    value = loss(log_probs, lengths, _symbols(batch["targets"]), batch["target_lengths"])
    return StepOutput(value, (log_probs.detach(), lengths), (batch["targets"], batch["target_lengths"]),
                      batch["images"].shape[0])


class StringAccuracy(Metric):
    """Share of strings whose best-path decoding equals the target exactly, counted on the device.

    ``outputs = (log_probs (N, T, K), lengths (N,))``; ``targets = (labels (N, S) padded with −1,
    target_lengths (N,))``; symbol s ≥ 1 is class s − 1.
    """

    def batch(self, outputs: tuple[Tensor, Tensor], targets: tuple[Tensor, Tensor]) -> tuple[Tensor, float]:
        log_probs, lengths = outputs
        labels, _ = targets
        symbols, _ = ctc_best_path(log_probs, lengths)
        read = torch.where(symbols > 0, symbols - 1, -1)
        width = max(read.shape[1], labels.shape[1])
        read = nn.functional.pad(read, (0, width - read.shape[1]), value=-1)
        truth = nn.functional.pad(labels.to(read.device), (0, width - labels.shape[1]), value=-1)
        return (read == truth).all(dim=1).sum(), float(labels.shape[0])


def string_loader(strings: DigitStrings, batch_size: int, *, shuffle: bool, seed: int = 0, workers: int = 0,
                  pin_memory: bool = False) -> DataLoader[Any]:
    """Batches of strings of similar width (little padding), shuffled by ``(seed, epoch)``."""
    sampler = LengthBucketSampler(strings.widths.tolist(), batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(strings, batch_sampler=sampler, collate_fn=collate_digit_strings, num_workers=workers,
                      pin_memory=pin_memory, persistent_workers=workers > 0)


@torch.no_grad()
def string_scores(model: nn.Module, strings: DigitStrings, *, device: str = "cpu", batch_size: int = 256,
                  beam_width: int = 8, workers: int = 0) -> dict[str, float]:
    """String accuracy and character error rate of ``model`` on ``strings``, greedy and beam."""
    model = model.to(device).eval()
    counts = {"greedy": [0, 0], "beam": [0, 0]}  # [strings read exactly, edit operations]
    characters = 0
    for batch in string_loader(strings, batch_size, shuffle=False, workers=workers):
        log_probs, lengths = model(batch["images"].to(device), batch["widths"])
        truths = [row[:n] for row, n in zip(batch["targets"].tolist(), batch["target_lengths"].tolist(), strict=True)]
        characters += sum(map(len, truths))
        greedy_symbols, greedy_counts = ctc_best_path(log_probs, lengths)
        greedy = [row[:n] for row, n in zip(greedy_symbols.tolist(), greedy_counts.tolist(), strict=True)]
        beam = ctc_beam_decode(log_probs, lengths, beam_width=beam_width, min_log_prob=PRUNE_BELOW)
        for name, decoded in (("greedy", greedy), ("beam", beam)):
            for symbols, truth in zip(decoded, truths, strict=True):
                read = [s - 1 for s in symbols]
                counts[name][0] += read == truth
                counts[name][1] += edit_distance(read, truth)
    total = len(strings)
    return {"string_accuracy": counts["greedy"][0] / total,
            "character_error_rate": counts["greedy"][1] / max(characters, 1),
            "beam_string_accuracy": counts["beam"][0] / total,
            "beam_character_error_rate": counts["beam"][1] / max(characters, 1)}


def load_reader(run: str | os.PathLike[str]) -> tuple[CRNN, dict[str, Any]]:
    """The trained reader of a run or model directory (eval mode) and its config."""
    return OCRRecipe.load_model(run)


def read_strings(model: CRNN, image: Tensor, *, beam_width: int = 8, top: int = 1) -> list[tuple[str, float]]:
    """The ``top`` most probable digit strings in one image ``(C, H, W)`` in [0, 1] and their
    probabilities (prefix beam search). Dark ink on a light background is inverted first, since
    the reader learnt MNIST's bright ink on black."""
    if image.dim() != 3:
        raise ValueError(f"read_strings: argument 'image' expected (C, H, W), got shape {tuple(image.shape)}")
    if image.shape[0] in (3, 4):
        image = image[:3].mean(dim=0, keepdim=True)
    if image.shape[0] != model.in_channels or image.shape[1] != model.height:
        raise ValueError(f"read_strings: argument 'image' expected a grayscale image {model.height} pixels high "
                         f"(the height the reader was trained on), got (C, H, W) = {tuple(image.shape)}")
    if float(image.mean()) > 0.5:
        image = 1 - image
    with torch.no_grad():
        log_probs, _ = model(image.unsqueeze(0).float())
    ranked = ctc_beam_search(log_probs[0], beam_width=beam_width, top=top)
    return [("".join(str(s - 1) for s in symbols), math.exp(score)) for symbols, score in ranked]


@dataclass(frozen=True)
class OCRRecipe(Task):
    """A digit-string reading task: generated strings (``data``: options of :class:`DigitStrings`),
    a :class:`CRNN` (``model_options``) and the training settings."""

    kind = "ocr"

    name: str
    description: str
    target: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=lambda: {"train": 100_000, "validation": 2_000, "test": 10_000})
    data_seed: int = 0
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    scheduler: str = "onecycle"
    clip_grad_norm: float = 5.0
    beam_width: int = 8
    workers: int | None = None  # data-loading processes; None: 0 on the CPU, up to 8 beside a GPU

    def strings(self, split: str, count: int | None = None) -> DigitStrings:
        """The ``split``'s strings (``count`` of them, default ``sizes[split]``), fixed by ``data_seed``."""
        return DigitStrings(split, self.sizes[split] if count is None else count, seed=self.data_seed,
                            **self.data)

    def _workers(self, device: str) -> int:
        if self.workers is not None:
            return self.workers
        return 0 if torch.device(device).type == "cpu" else max(0, min(8, (os.cpu_count() or 1) - 1))

    def fit(self, run: Run) -> dict[str, Any]:
        """Train into ``run.out``; ``limit`` caps the number of training strings."""
        settings = run.settings
        train_count = self.sizes["train"] if settings.limit is None else min(settings.limit, self.sizes["train"])
        workers, pin = self._workers(settings.device), torch.device(settings.device).type == "cuda"
        train = string_loader(self.strings("train", train_count), settings.batch_size, shuffle=True,
                              seed=settings.seed, workers=workers, pin_memory=pin)
        val = string_loader(self.strings("validation"), 256, shuffle=False, workers=workers, pin_memory=pin)
        model = CRNN(**self.model_options)
        # input_shape: a representative canvas (widths vary) for `convrnn summary RUN`
        config = {"recipe": self.name, "model": "crnn", "model_options": self.model_options,
                  "input_shape": [model.in_channels, model.height, 128], "classes": [str(d) for d in range(10)],
                  "data": {**self.data, "seed": self.data_seed, "sizes": self.sizes},
                  "settings": {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                               "seed": settings.seed, "optimizer": self.optimizer, "scheduler": self.scheduler,
                               "train_strings": train_count}}
        # No BucketEpochs: the length-bucketed batches repeat epoch 0's order every epoch, as in the runs
        # the recipe's scores were measured with (the sequence kinds reshuffle them each epoch).
        history = fit_model(self, run, model, train, val, loss=CTCLoss(), metrics={"string_accuracy": StringAccuracy()},
                            monitor="val_string_accuracy", config=config, clip_grad_norm=self.clip_grad_norm,
                            step_fn=ctc_step)
        scores = string_scores(model, self.strings("test"), device=settings.device, beam_width=self.beam_width,
                               workers=workers)
        return run.finish({**{f"test_{key}": value for key, value in scores.items()},
                           "best_val_string_accuracy": max(r.get("val_string_accuracy", float("nan"))
                                                           for r in history.records)}, config["settings"])

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The reader (a :class:`CRNN`) a saved config describes."""
        if config.get("model") != "crnn":
            raise ValueError(f"expected a reader (model 'crnn'), its config names {config.get('model')!r}")
        return CRNN(**config.get("model_options", {}))

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """String accuracy and character error rate (greedy and beam) of the reader in ``run``."""
        model, _ = load_reader(run)
        return string_scores(model, self.strings(split), device=device, beam_width=self.beam_width,
                             workers=self._workers(device))

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per image file (PNG, PGM or .npy, as high as the training canvases): the digits
        read, then the ``top`` most probable readings with their probabilities."""
        from convrnn.data.image_files import read_image

        model, _ = load_reader(run)
        lines = []
        for path in inputs:
            ranked = read_strings(model, read_image(path), beam_width=max(self.beam_width, top), top=top)
            alternatives = ", ".join(f"{text or '∅'} {p:.1%}" for text, p in ranked)
            lines.append(f"{path}: {ranked[0][0]}  ({alternatives})")
        return lines

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained reader and an input shape (a canvas 128 columns wide)."""
        model = CRNN(**self.model_options)
        return model, (model.in_channels, model.height, 128)
