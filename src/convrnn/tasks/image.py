"""Image classification: a data set of ``(image (C, H, W), label)`` and a model of the registry
(:data:`convrnn.models.MODELS`) — ``mnist``, ``lenet5``, ``fashion-mnist``, ``digits``.

A recipe file holds only an :class:`ImageRecipe`, so ``convrnn train mnist`` and
``train_recipe(RECIPE)`` are the same thing. Besides the run directory every task writes
(:mod:`convrnn.tasks.runs`), the model's config holds the classes and the normalisation.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from convrnn.data.image_dataset import ImageDataset
from convrnn.models import build_model
from convrnn.tasks.fitting import fit_model
from convrnn.tasks.protocol import Task
from convrnn.tasks.runs import Run, load_saved_model
from convrnn.training.checkpoint import read_config
from convrnn.training.evaluate import evaluate
from convrnn.training.metrics import Accuracy


@dataclass(frozen=True)
class ImageRecipe(Task):
    """Everything that defines one image-classification task, and nothing else.

    ``dataset(split, normalize=…, random_shift=…)`` builds an :class:`ImageDataset` for
    ``"train"``, ``"validation"`` or ``"test"``; ``model`` names an entry of
    :data:`convrnn.models.MODELS`. ``target`` is the published or promised score, ``reached`` what
    this recipe measured with its defaults (stated in its docstring and the README).
    """

    kind = "image"

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

    def fit(self, run: Run) -> dict[str, Any]:
        """Train on the training split (its first ``limit`` images with ``--limit``), keep the epoch
        with the best validation accuracy, and score it on the test split."""
        settings = run.settings
        train = self.dataset("train", normalize=True, random_shift=self.random_shift)
        val = self.dataset("validation", normalize=True)
        if settings.limit is not None:
            images, labels = train.tensors
            train = ImageDataset(images[:settings.limit], labels[:settings.limit], classes=train.classes,
                                 random_shift=self.random_shift)
            train.mean, train.std, train.background = val.mean, val.std, val.background
        model, input_shape = build_model(self.model, **self.model_options)
        config = {
            "recipe": self.name, "model": self.model, "model_options": self.model_options,
            "input_shape": list(input_shape), "classes": list(train.classes),
            "normalize": {"mean": val.mean, "std": val.std},
            "settings": {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                         "seed": settings.seed, "optimizer": self.optimizer, "scheduler": self.scheduler,
                         "random_shift": self.random_shift},
        }
        last = run.out / "checkpoints" / "last"
        if settings.resume and (last / "config.json").is_file():
            started_with = read_config(last)["settings"]
            if self.scheduler == "onecycle" and started_with["epochs"] != settings.epochs:
                raise ValueError(
                    f"train: the run in '{run.out}' follows a one-cycle schedule over epochs="
                    f"{started_with['epochs']}; resume it with the same epochs, got {settings.epochs}"
                )
        loss = nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
        history = fit_model(self, run, model, train, val, loss=loss, metrics={"accuracy": Accuracy()},
                            monitor="val_accuracy", config=config)
        scores = classification_scores(model, self.dataset("test", normalize=True), device=settings.device)
        return run.finish({"test_accuracy": scores["accuracy"], "test_loss": scores["loss"],
                           "best_val_accuracy": max(r.get("val_accuracy", float("nan")) for r in history.records)},
                          config["settings"])

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The registry model a saved config names, with its options."""
        return registry_model(config)

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

    def examples(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """The first ``batch_size`` validation images, normalised as in training, and their labels."""
        images, labels = self.dataset("validation", normalize=True).tensors
        return images[:batch_size], labels[:batch_size]


def train_recipe(recipe: ImageRecipe, out: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
    """``recipe.train(out, **options)`` (see :meth:`convrnn.tasks.protocol.Task.train`)."""
    return recipe.train(out, **options)


def registry_model(config: dict[str, Any]) -> nn.Module:
    """The untrained model of the registry (:data:`convrnn.models.MODELS`) a saved config names."""
    if "model" not in config:
        raise ValueError("its config names no model, so it cannot be rebuilt")
    model, _ = build_model(config["model"], **config.get("model_options", {}))
    return model


def classification_scores(model: nn.Module, data: Any, *, device: str = "cpu",
                          batch_size: int = 512) -> dict[str, float]:
    """Cross-entropy and accuracy of ``model`` (moved to ``device``) over ``data`` (a data set or a loader)."""
    model.to(device)  # evaluate moves batches, not the model
    return evaluate(model, data, loss=nn.CrossEntropyLoss(), metrics={"accuracy": Accuracy()}, device=device,
                    batch_size=batch_size)


def load_trained(path: str | os.PathLike[str]) -> tuple[nn.Module, dict[str, Any]]:
    """The registry model of a run or model directory, its weights loaded, in eval mode; and its config."""
    return load_saved_model(path, registry_model)


def evaluate_trained(path: str | os.PathLike[str], dataset: ImageDataset, *,
                     device: str = "cpu") -> dict[str, float]:
    """Test loss and accuracy of a trained model on ``dataset``."""
    model, _ = load_trained(path)
    return classification_scores(model, dataset, device=device)


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


def generated_examples(dataset: Callable[..., Dataset], batch_size: int) -> tuple[Tensor, Tensor]:
    """A batch ``(inputs, labels)`` of ``batch_size`` examples generated by ``dataset("validation",
    size=batch_size)`` (without its progress bar where it has one)."""
    quiet = {"progress": False} if "progress" in inspect.signature(dataset).parameters else {}
    examples = dataset("validation", size=batch_size, **quiet)
    inputs, labels = zip(*(examples[i][:2] for i in range(len(examples))), strict=True)
    return torch.stack([torch.as_tensor(x) for x in inputs]), torch.stack([torch.as_tensor(y) for y in labels])


__all__ = ["ImageRecipe", "classification_scores", "evaluate_trained", "generated_examples", "load_trained",
           "predict_images", "registry_model", "train_recipe"]
