"""Train, evaluate and use an image classifier described by a recipe (data set + model + settings).

A recipe file under ``convrnn/recipes/`` holds only an :class:`ImageRecipe`; this module does the
work shared by all of them, so ``convrnn train mnist`` and ``train_recipe(MNIST_RECIPE)`` are the
same thing. A run directory holds::

    OUT/checkpoints/last/   resumable training checkpoint (safetensors + JSON, SHA-256 manifest)
    OUT/checkpoints/best/   the checkpoint with the best validation accuracy
    OUT/model/              the final model: weights of ``best`` + config (what eval/predict load)
    OUT/log.csv             one row per epoch
    OUT/scores.json         test accuracy and loss of ``OUT/model``, wall time, settings
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from convrnn.data.image_dataset import ImageDataset
from convrnn.models import build_model
from convrnn.training.checkpoint import load_model_weights, read_config
from convrnn.training.evaluate import evaluate
from convrnn.training.files import write_json
from convrnn.training.metrics import Accuracy
from convrnn.training.run import fit_to_best
from convrnn.training.seeding import seed_everything
from convrnn.training.settings import resolve_settings

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("onecycle", "cosine", "step", "none")


@dataclass(frozen=True)
class ImageRecipe:
    """Everything that defines one image-classification task, and nothing else.

    ``dataset(split, normalize=…, random_shift=…)`` builds an :class:`ImageDataset` for
    ``"train"``, ``"validation"`` or ``"test"``; ``model`` names an entry of
    :data:`convrnn.models.MODELS`. ``target`` is the published or promised score, ``reached`` what
    this recipe measured with its defaults (stated in its docstring and the README).
    """

    name: str
    description: str
    dataset: Callable[..., ImageDataset]
    model: str
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: str = "onecycle"
    random_shift: int = 0
    label_smoothing: float = 0.0
    target: str = ""

    # The recipe protocol the CLI relies on (every recipe kind offers these three methods).
    def train(self, out: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
        """Train into the run directory ``out``; see :func:`train_recipe` for ``options``."""
        return train_recipe(self, out, **options)

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """``{"accuracy": …, "loss": …}`` of the trained model in ``run`` on ``split``."""
        return evaluate_trained(run, self.dataset(split, normalize=True), device=device)

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per image file: the ``top`` most probable classes with their probabilities."""
        from convrnn.data.image_files import read_image

        model, config = load_trained(run)
        classes = config.get("classes") or []
        lines = []
        for path in inputs:
            probabilities = predict_images(model, config, read_image(path).unsqueeze(0))[0]
            best = torch.topk(probabilities, min(top, probabilities.numel()))
            ranked = ", ".join(f"{classes[i] if i < len(classes) else i} {p:.1%}"
                               for p, i in zip(best.values.tolist(), best.indices.tolist(), strict=True))
            lines.append(f"{path}: {ranked}")
        return lines

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained model and its input shape (for ``convrnn summary RECIPE``)."""
        return build_model(self.model, **self.model_options)


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


def train_recipe(recipe: ImageRecipe, out: str | os.PathLike[str], *, epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, seed: int = 0,
                 device: str = "cpu", resume: bool = False, progress: bool = True,
                 limit: int | None = None) -> dict[str, Any]:
    """Train ``recipe`` into the run directory ``out`` and return its scores.

    ``epochs``, ``batch_size`` and ``lr`` override the recipe's defaults; ``resume=True`` continues
    from ``out/checkpoints/last`` bit for bit; ``limit`` trains on the first ``limit`` training
    images only (smoke tests).
    """
    out = Path(out)
    settings = resolve_settings(recipe, epochs, batch_size, lr, seed=seed, device=device, resume=resume,
                                progress=progress, limit=limit)
    epochs, batch_size, lr = settings.epochs, settings.batch_size, settings.lr
    seed_everything(seed)
    started = time.perf_counter()
    train = recipe.dataset("train", normalize=True, random_shift=recipe.random_shift)
    val = recipe.dataset("validation", normalize=True)
    if limit is not None:
        images, labels = train.tensors
        train = ImageDataset(images[:limit], labels[:limit], classes=train.classes,
                             random_shift=recipe.random_shift)
        train.mean, train.std, train.background = val.mean, val.std, val.background
    model, input_shape = build_model(recipe.model, **recipe.model_options)
    optimizer = make_optimizer(recipe, model, lr)
    steps_per_epoch = -(-len(train) // batch_size)
    scheduler = make_scheduler(recipe.scheduler, optimizer, lr, epochs, steps_per_epoch)
    config = {
        "recipe": recipe.name, "model": recipe.model, "model_options": recipe.model_options,
        "input_shape": list(input_shape), "classes": list(train.classes),
        "normalize": {"mean": val.mean, "std": val.std},
        "settings": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                     "optimizer": recipe.optimizer, "scheduler": recipe.scheduler,
                     "random_shift": recipe.random_shift},
    }
    last = out / "checkpoints" / "last"
    if resume and (last / "config.json").is_file():
        started_with = read_config(last)["settings"]
        if recipe.scheduler == "onecycle" and started_with["epochs"] != epochs:
            raise ValueError(
                f"train: the run in '{out}' follows a one-cycle schedule over epochs="
                f"{started_with['epochs']}; resume it with the same epochs, got {epochs}"
            )
    history = fit_to_best(model, train, val, out=out, config=config, monitor="val_accuracy", resume=resume,
                          loss=nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing), optimizer=optimizer,
                          epochs=epochs, scheduler=scheduler, batch_size=batch_size, metrics={"accuracy": Accuracy()},
                          device=device, seed=seed, progress=progress)
    test = recipe.dataset("test", normalize=True)
    scores = evaluate(model, test, loss=nn.CrossEntropyLoss(), metrics={"accuracy": Accuracy()},
                      device=device, batch_size=512)
    result = {
        "recipe": recipe.name, "test_accuracy": scores["accuracy"], "test_loss": scores["loss"],
        "best_val_accuracy": max(r.get("val_accuracy", float("nan")) for r in history.records),
        "epochs": epochs, "wall_seconds": round(time.perf_counter() - started, 1),
        "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
        "settings": config["settings"],
    }
    write_json(out / "scores.json", result)
    return result


def model_directory(path: str | os.PathLike[str]) -> Path:
    """The model directory inside a run directory, or ``path`` itself if it is one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such run or model directory: '{path}'")
    for candidate in (path, path / "model", path / "checkpoints" / "best"):
        if (candidate / "config.json").is_file():
            return candidate
    raise FileNotFoundError(f"'{path}' holds no model (no config.json in it, in model/ or in checkpoints/best/)")


def load_trained(path: str | os.PathLike[str]) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a run or model directory from its config and load its weights."""
    directory = model_directory(path)
    config = read_config(directory)
    if "model" not in config:
        raise ValueError(f"'{directory}': its config names no model, so it cannot be rebuilt")
    model, _ = build_model(config["model"], **config.get("model_options", {}))
    load_model_weights(directory, model)
    return model.eval(), config


def evaluate_trained(path: str | os.PathLike[str], dataset: ImageDataset, *,
                     device: str = "cpu") -> dict[str, float]:
    """Test loss and accuracy of a trained model on ``dataset``."""
    model, _ = load_trained(path)
    return evaluate(model, dataset, loss=nn.CrossEntropyLoss(), metrics={"accuracy": Accuracy()},
                    device=device, batch_size=512)


def predict_images(model: nn.Module, config: dict[str, Any], images: Tensor) -> Tensor:
    """Class probabilities ``(B, classes)`` for raw images ``(B, C, H, W)`` in [0, 1]."""
    expected = tuple(config["input_shape"])
    if tuple(images.shape[1:]) != expected:
        raise ValueError(
            f"predict: expected images of shape {expected} (C, H, W), got {tuple(images.shape[1:])}"
        )
    stats = config.get("normalize") or {}
    if stats.get("mean") is not None:
        images = (images - stats["mean"]) / stats["std"]
    with torch.no_grad():
        return torch.softmax(model(images.float()), dim=-1)
