"""Train, evaluate and use the sequence tasks: many → one classification (feature sequences and
texts), many → many tagging, and forecasting — the recipe protocol of ``convrnn train/eval/predict``.

A recipe file under ``convrnn/recipes/`` holds one of the four recipe classes — ``feature_recipe``,
``text_recipe``, ``tagging_recipe``, ``forecast_recipe`` — filled with its data loader and settings;
this module holds what they share (settings, fitting one model into the run directory, reloading).
A run directory holds::

    OUT/checkpoints/{last,best}/   resumable checkpoints of the main model (safetensors + JSON)
    OUT/model/                     the main model: best weights + config (vocabulary, classes, …)
    OUT/<other>/                   further models of the recipe (``cnn``, ``baseline``)
    OUT/log.csv                    one row per epoch (``<other>_log.csv`` for the others)
    OUT/scores.json                test scores, wall time, settings

Every model here takes ``lengths`` and masks by them, so a padded batch computes exactly what
each sequence gives alone.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from convrnn.data.batching import LengthBucketSampler, SequenceCollate
from convrnn.models.forecaster import Forecaster
from convrnn.models.sequence_classifier import (
    BagOfWordsClassifier,
    ConvTextClassifier,
    EnsembleClassifier,
    RecurrentClassifier,
)
from convrnn.models.tagger import Tagger
from convrnn.training.callbacks import Callback
from convrnn.training.checkpoint import load_model_weights, read_config
from convrnn.training.evaluate import evaluate
from convrnn.training.files import write_json
from convrnn.training.fit_state import FitState, History
from convrnn.training.image_recipe import model_directory
from convrnn.training.metrics import Accuracy
from convrnn.training.run import fit_to_best
from convrnn.training.settings import Settings

MODEL_CLASSES: dict[str, Callable[..., nn.Module]] = {
    "recurrent-classifier": RecurrentClassifier, "conv-text-classifier": ConvTextClassifier,
    "bag-of-words": BagOfWordsClassifier, "tagger": Tagger, "forecaster": Forecaster,
    "classifier-ensemble": EnsembleClassifier,
}


# ----------------------------------------------------------------------------------------------
# Shared machinery: settings, atomic JSON, fitting one model into the run directory, reloading.
# ----------------------------------------------------------------------------------------------

class _BucketEpochs(Callback):
    """Tell a :class:`LengthBucketSampler` the epoch, so each epoch's batches differ (``fit``
    sets the epoch of ``loader.sampler``, not of a ``batch_sampler``)."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        self.sampler = loader.batch_sampler

    def on_epoch_start(self, state: FitState) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(state.epoch)


def sequence_loader(examples: Sequence[tuple[Any, Any]], batch_size: int, *, shuffle: bool, seed: int = 0,
                    collate: Callable[..., Any] | None = None) -> DataLoader[Any]:
    """Batches of ``(sequence, target)`` examples of similar length, padded, with lengths."""
    lengths = [len(sequence) for sequence, _ in examples]
    sampler = LengthBucketSampler(lengths, batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(list(examples), batch_sampler=sampler, collate_fn=collate or SequenceCollate())


def fit_into_run(model: nn.Module, train: DataLoader[Any], val: DataLoader[Any], *, out: Path, name: str,
                 settings: Settings, loss: Callable[..., Tensor], metrics: dict[str, Any], monitor: str,
                 mode: str, config: dict[str, Any], weight_decay: float = 0.0,
                 clip_grad_norm: float | None = 5.0) -> History:
    """Train ``model`` with AdamW and a one-cycle learning rate, keep the best epoch by
    ``monitor``, and save it as ``out/name`` (the main model ``"model"`` logs to ``log.csv`` and
    checkpoints to ``checkpoints/``; another to ``<name>_log.csv`` and ``<name>_checkpoints/``)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.lr, epochs=settings.epochs,
                                                    steps_per_epoch=max(len(train), 1))
    bucketed = [_BucketEpochs(train)] if isinstance(train.batch_sampler, LengthBucketSampler) else []
    return fit_to_best(model, train, val, out=out, config=config, monitor=monitor, mode=mode, name=name,
                       resume=settings.resume, missing_ok=True, callbacks=bucketed, loss=loss, optimizer=optimizer,
                       epochs=settings.epochs, scheduler=scheduler, clip_grad_norm=clip_grad_norm, metrics=metrics,
                       device=settings.device, seed=settings.seed, progress=settings.progress)


def build_sequence_model(config: dict[str, Any]) -> nn.Module:
    """The (untrained) model a saved config describes."""
    kind = config.get("model")
    if kind not in MODEL_CLASSES:
        raise ValueError(f"a saved config expected 'model' in {sorted(MODEL_CLASSES)}, got {kind!r}")
    return MODEL_CLASSES[kind](**config.get("model_options", {}))


def load_sequence_model(run: str | os.PathLike[str], name: str = "model") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild model ``name`` of a run directory (``"model"``, ``"cnn"``, ``"baseline"``) with
    its weights, in eval mode, and its config."""
    directory = model_directory(run) if name == "model" else Path(run) / name
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"'{run}' holds no '{name}' model (no {directory / 'config.json'})")
    config = read_config(directory)
    model = build_sequence_model(config)
    load_model_weights(directory, model)
    return model.eval(), config


def _finish(out: Path, name: str, started: float, settings: Settings, scores: dict[str, Any]) -> dict[str, Any]:
    result = {"recipe": name, **scores, "epochs": settings.epochs,
              "wall_seconds": round(time.perf_counter() - started, 1), "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(),
              "settings": {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                           "seed": settings.seed, "limit": settings.limit}}
    write_json(out / "scores.json", result)
    return result


def _ranked(probabilities: Tensor, classes: Sequence[str], top: int) -> str:
    best = torch.topk(probabilities, min(top, probabilities.numel()))
    return ", ".join(f"{classes[i]} {p:.1%}" for p, i in zip(best.values.tolist(), best.indices.tolist(), strict=True))


def _classification_scores(model: nn.Module, loader: DataLoader[Any], device: str) -> dict[str, float]:
    model.to(device)  # evaluate moves batches, not the model
    return evaluate(model, loader, loss=nn.CrossEntropyLoss(), metrics={"accuracy": Accuracy()}, device=device)


class TokenInput(nn.Module):
    """Feeds a token model the integer ids that ``convrnn summary``'s all-zero float input stands
    for (id 0, padding): only so the summary can run a token model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x.long())


__all__ = ["MODEL_CLASSES", "TokenInput", "build_sequence_model", "fit_into_run", "load_sequence_model",
           "sequence_loader"]
