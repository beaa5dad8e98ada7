"""Semantic segmentation: a per-pixel labeller, an :class:`FCN` (``mnist-segment``).

Besides the run directory every task writes (:mod:`convrnn.tasks.runs`)::

    OUT/segmentation-<split>.png   input / truth / prediction of the split's first canvases
    OUT/predictions/<name>.labels.png   label maps written by ``convrnn predict`` (palette colours)

Scores come from one confusion matrix over every pixel of the split
(:mod:`convrnn.training.metrics_segmentation`): mean IoU over the 11 classes, pixel accuracy and
the IoU of each class.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from convrnn.export import is_exported
from convrnn.models.fcn import FCN
from convrnn.tasks.fitting import fit_model
from convrnn.tasks.image import generated_examples
from convrnn.tasks.protocol import ExportSignature, Task
from convrnn.tasks.runs import Run
from convrnn.training.distributed import is_main_process
from convrnn.training.metrics import Accuracy
from convrnn.training.metrics_segmentation import (
    MeanIoU,
    intersection_over_union,
    mean_iou,
    pixel_accuracy,
)

GRID_EXAMPLES = 8


@dataclass(frozen=True)
class SegmentRecipe(Task):
    """A segmentation task: ``dataset(split, size=…, seed=…)`` yields ``(image (1, H, W), labels (H, W))``
    and has ``classes`` (K names; the last one the background). The model is an :class:`FCN`."""

    kind = "segmentation"
    capabilities = frozenset({"export"})

    name: str
    description: str
    dataset: Callable[..., Dataset]
    classes: tuple[str, ...]
    input_shape: tuple[int, int, int]
    sizes: dict[str, int] = field(default_factory=lambda: {"train": 20_000, "validation": 1_000, "test": 2_000})
    data_seed: int = 0
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-3
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    scheduler: str = "onecycle"
    target: str = ""

    def data(self, split: str, size: int | None = None) -> Dataset:
        """The recipe's canvases of ``split`` (the same for every training seed)."""
        return self.dataset(split, size=self.sizes[split] if size is None else size, seed=self.data_seed)

    def build(self, **overrides: Any) -> FCN:
        """The untrained FCN of this recipe (``overrides`` replace model options)."""
        return FCN(in_channels=self.input_shape[0], num_classes=len(self.classes),
                   **{**self.model_options, **overrides})

    def fit(self, run: Run) -> dict[str, Any]:
        """Train into ``run.out`` and return the test scores; ``limit`` caps the number of training canvases."""
        settings = run.settings
        train_size = self.sizes["train"] if settings.limit is None else min(settings.limit, self.sizes["train"])
        train, val = self.data("train", train_size), self.data("validation")
        model = self.build()
        config = {"recipe": self.name, "model": "fcn", "model_options": self.model_options,
                  "input_shape": list(self.input_shape), "classes": list(self.classes),
                  "settings": {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                               "seed": settings.seed, "optimizer": self.optimizer, "scheduler": self.scheduler,
                               "train_canvases": train_size, "data_seed": self.data_seed}}
        history = fit_model(self, run, model, train, val, loss=nn.CrossEntropyLoss(), metrics=self._metrics(),
                            monitor="val_mean_iou", config=config)
        test = self.data("test")
        scores = segmentation_scores(model, test, self.classes, device=settings.device)
        if is_main_process():
            write_grid(run.out / "segmentation-test.png", model, test, device=settings.device)
        # a class absent from every test canvas and prediction has no IoU: null in the JSON
        return run.finish({**{f"test_{key}": None if math.isnan(value) else value for key, value in scores.items()},
                           "best_val_mean_iou": max(r.get("val_mean_iou", float("nan")) for r in history.records),
                           "test_canvases": len(test)}, config["settings"])

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The FCN a saved config describes."""
        return FCN(in_channels=config["input_shape"][0], num_classes=len(config["classes"]),
                   **config.get("model_options", {}))

    def _metrics(self) -> dict[str, Any]:
        return {"mean_iou": MeanIoU(len(self.classes)), "pixel_accuracy": Accuracy()}

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Loss, mean IoU, pixel accuracy and per-class IoU on ``split``; also writes
        ``run/segmentation-<split>.png`` (input / truth / prediction)."""
        model = self.load(run)
        data = self.data(split)
        scores = segmentation_scores(model, data, self.classes, device=device)
        write_grid(Path(run) / f"segmentation-{split}.png", model, data, device=device)
        return scores

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per image (grey or RGB PNG/PGM/NPY, any size): the digit classes found with
        their pixel counts (all of them; ``top`` is not used), the background's count, and where
        the colour label map went (``run/predictions/<name>.labels.png``, palette of
        :mod:`convrnn.inspect.segmentation`)."""
        from convrnn.data.image_files import read_image, write_png
        from convrnn.inspect.segmentation import colorize

        model = self.load(run)
        folder = (Path(run).parent if is_exported(run) else Path(run)) / "predictions"
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for path in inputs:
            image = read_image(path)
            if image.shape[0] == 3:  # a grey canvas saved as RGB
                image = image.mean(0, keepdim=True)
            if image.shape[0] != self.input_shape[0]:
                raise ValueError(f"predict: '{path}' expected a grey image ({self.input_shape[0]} channel), "
                                 f"got {image.shape[0]} channels")
            labels = predict_labels(model, image.unsqueeze(0))[0]
            counts = torch.bincount(labels.reshape(-1), minlength=len(self.classes)).tolist()
            found = ", ".join(f"{self.classes[k]}: {counts[k]} px"
                              for k in sorted(range(len(counts) - 1), key=lambda k: -counts[k]) if counts[k])
            target = folder / f"{Path(path).stem}.labels.png"
            write_png(target, colorize(labels.numpy()))
            height, width = labels.shape
            lines.append(f"{path}: {height}×{width}, digits {found or 'none'}; "
                         f"{self.classes[-1]} {counts[-1]} px; label map → {target}")
        return lines

    def load(self, run: str | os.PathLike[str]) -> FCN:
        """The trained FCN of a run or model directory, in eval mode."""
        return self.load_model(run)[0]

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """Canvases ``(N, C, H, W)`` in, per-pixel class scores ``(N, classes, H, W)`` out; N, H and W
        dynamic (the network is fully convolutional)."""
        return ExportSignature((torch.zeros(2, *self.input_shape),), {"images": ["N", None, "H", "W"]}, ["images"],
                               ["scores"])

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained FCN and its input shape."""
        return self.build(), self.input_shape

    def examples(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """``batch_size`` generated validation canvases and their label maps."""
        return generated_examples(self.dataset, batch_size)


@torch.no_grad()
def predict_labels(model: nn.Module, images: Tensor, *, device: str | torch.device = "cpu") -> Tensor:
    """Most probable class per pixel: ``images (B, C, H, W)`` in [0, 1] → ``labels (B, H, W) int64`` (on CPU)."""
    was_training = model.training
    model.eval()
    try:
        return model(images.to(device).float()).argmax(1).cpu()
    finally:
        model.train(was_training)


@torch.no_grad()
def segmentation_scores(model: nn.Module, data: Dataset, classes: tuple[str, ...], *,
                        device: str | torch.device = "cpu", batch_size: int = 256) -> dict[str, float]:
    """``{"loss", "mean_iou", "pixel_accuracy", "iou_<class>"…}`` over every pixel of ``data``
    (one confusion matrix; cross-entropy averaged over pixels)."""
    model = model.to(device)
    metric = MeanIoU(len(classes))
    loss_sum, pixels = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        for images, labels in DataLoader(data, batch_size):  # the whole data set, on every process
            images, labels = images.to(device), labels.to(device)
            scores = model(images)
            loss_sum += float(nn.functional.cross_entropy(scores, labels, reduction="sum"))
            pixels += labels.numel()
            metric.update(scores, labels)
    finally:
        model.train(was_training)
    confusion = metric.confusion.cpu()
    iou = intersection_over_union(confusion).tolist()
    return {"loss": loss_sum / max(pixels, 1), "mean_iou": mean_iou(confusion),
            "pixel_accuracy": pixel_accuracy(confusion),
            **{f"iou_{name}": value for name, value in zip(classes, iou, strict=True)}}


def write_grid(path: str | os.PathLike[str], model: nn.Module, data: Dataset, *,
               device: str | torch.device = "cpu", count: int = GRID_EXAMPLES) -> Path | None:
    """Draw the first ``count`` items of ``data`` as input / truth / prediction rows into ``path``,
    each captioned with its own mean IoU and the share of its stroke pixels (truth ≠ background,
    the last class) labelled right; ``None`` (nothing written) without matplotlib."""
    from convrnn.inspect._plot import has_matplotlib
    from convrnn.inspect.segmentation import write_segmentations
    from convrnn.training.metrics_segmentation import confusion_matrix

    if not has_matplotlib():
        return None
    images, truth = data[list(range(min(count, len(data))))]
    predicted = predict_labels(model, images, device=device)
    classes = int(getattr(model, "num_classes", int(truth.max()) + 1))
    background = classes - 1
    # one canvas holds few classes, so a stray pixel of an absent class (IoU 0) weighs heavily
    # in its mean IoU; the share of its stroke pixels labelled right is shown beside it
    titles = []
    for p, t in zip(predicted, truth, strict=True):
        strokes = t != background
        right = float((p[strokes] == t[strokes]).float().mean()) if bool(strokes.any()) else float("nan")
        titles.append(f"mIoU {mean_iou(confusion_matrix(p, t, classes)):.0%}\nstrokes {right:.0%} right")
    return write_segmentations(path, images, truth.numpy().astype(np.int64), predicted.numpy(), titles=titles)


__all__ = ["SegmentRecipe", "predict_labels", "segmentation_scores", "write_grid"]
