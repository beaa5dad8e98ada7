"""Fitting a recipe's model into its run directory — the optimizer, schedule and ``fit_to_best`` call
that every task kind trained by ``convrnn.training.fit`` shares.

A recipe names its ``optimizer`` (``adam``, ``adamw``, ``sgd``), ``weight_decay``, ``momentum`` and
``scheduler`` (``onecycle``, ``cosine``, ``step``, ``none``); kinds that do not let a recipe choose
set them as class attributes (the sequence kinds: AdamW with a one-cycle rate).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from convrnn.data.batching import LengthBucketSampler
from convrnn.tasks.runs import Run
from convrnn.tasks.settings import Settings
from convrnn.training.callbacks import Callback
from convrnn.training.fit_state import FitState, History
from convrnn.training.metrics import Metric
from convrnn.training.run import fit_to_best

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("onecycle", "cosine", "step", "none")


def make_optimizer(recipe: Any, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """The recipe's optimizer (``adam``, ``adamw`` or ``sgd`` with Nesterov momentum) over ``model``."""
    if recipe.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=recipe.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=recipe.momentum,
                           weight_decay=recipe.weight_decay, nesterov=True)


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, lr: float, epochs: int,
                   steps_per_epoch: int) -> Any:
    """A ``torch.optim.lr_scheduler`` by name: ``onecycle`` (per step), ``cosine``, ``step`` or ``none``."""
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs,
                                                   steps_per_epoch=steps_per_epoch)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(epochs // 3, 1), gamma=0.1)
    return None


class BucketEpochs(Callback):
    """Tell a :class:`LengthBucketSampler` the epoch, so each epoch's batches differ (``fit``
    sets the epoch of ``loader.sampler``, not of a ``batch_sampler``)."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        self.sampler = loader.batch_sampler

    def on_epoch_start(self, state: FitState) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(state.epoch)


def bucket_epochs(loader: DataLoader[Any]) -> list[Callback]:
    """``[BucketEpochs(loader)]`` if ``loader`` batches by length, else ``[]``."""
    return [BucketEpochs(loader)] if isinstance(loader.batch_sampler, LengthBucketSampler) else []


def fit_model(recipe: Any, run: Run, model: nn.Module, train: DataLoader[Any] | Dataset[Any],
              val: DataLoader[Any] | Dataset[Any], *, loss: Callable[..., Tensor], metrics: dict[str, Metric],
              monitor: str, mode: str = "max", config: dict[str, Any], name: str = "model", out: Path | None = None,
              settings: Settings | None = None, missing_ok: bool = False, callbacks: Sequence[Callback] = (),
              **fit_options: Any) -> History:
    """Train ``model`` with the recipe's optimizer and schedule under ``settings`` (default
    ``run.settings``), keep the best epoch by ``monitor`` and save it with ``config`` as
    ``out/name`` (default ``run.out/model``), through :func:`convrnn.training.run.fit_to_best`.

    ``train``/``val`` are loaders, or data sets batched by ``settings.batch_size``; a one-cycle
    schedule spans ``epochs × batches per epoch`` steps. Batches are global: under torchrun each
    process takes its share (see ``fit_to_best``), so the steps, the schedule and the learning
    rate are those of one process. The saved config records the launch (``config["launch"]``).
    ``missing_ok``: ``--resume`` without a checkpoint starts afresh. ``fit_options`` go to ``fit``
    (``clip_grad_norm``, ``step_fn``, …).
    """
    settings = settings or run.settings
    config = {**config, "launch": settings.launch()}
    loader = isinstance(train, DataLoader)
    batches = len(train) if loader else -(-len(train) // settings.batch_size)
    optimizer = make_optimizer(recipe, model, settings.lr)
    scheduler = make_scheduler(recipe.scheduler, optimizer, settings.lr, settings.epochs, max(batches, 1))
    return fit_to_best(model, train, val, out=out or run.out, config=config, monitor=monitor, mode=mode, name=name,
                       resume=settings.resume, missing_ok=missing_ok, callbacks=callbacks, loss=loss,
                       optimizer=optimizer, epochs=settings.epochs, scheduler=scheduler, metrics=metrics,
                       batch_size=None if loader else settings.batch_size, device=settings.device, seed=settings.seed,
                       progress=settings.progress, **fit_options)


__all__ = ["OPTIMIZERS", "SCHEDULERS", "BucketEpochs", "bucket_epochs", "fit_model", "make_optimizer",
           "make_scheduler"]
