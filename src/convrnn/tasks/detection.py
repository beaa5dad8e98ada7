"""Object detection: a single-stage :class:`YOLO` grid detector (``mnist-detect``).

Besides the run directory every task writes (:mod:`convrnn.tasks.runs`)::

    OUT/detections-<split>.png          the split's first canvases with their detections drawn
    OUT/predictions/<name>.boxes.png    an image with its boxes, classes and scores (``convrnn predict``)

Scores (:mod:`convrnn.training.metrics_detection`, COCO's definitions): ``map`` (mAP@0.5:0.95),
``map_50``, ``map_75`` and each class's AP, over every canvas of the split, from detections with
score ≥ 0.01 after non-maximum suppression (IoU 0.5) — COCO's practice of scoring the whole
ranking. ``convrnn predict`` shows only detections with score ≥ 0.5.
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
from convrnn.models.yolo import YOLO, Detections, detect
from convrnn.models.yolo_loss import YOLOLoss
from convrnn.tasks.fitting import fit_model
from convrnn.tasks.image import generated_examples
from convrnn.tasks.protocol import ExportSignature, Task
from convrnn.tasks.runs import Run
from convrnn.training.distributed import is_main_process
from convrnn.training.metrics_detection import mean_average_precision

GRID_EXAMPLES = 8
EVAL_SCORE_THRESHOLD = 0.01
SHOW_SCORE_THRESHOLD = 0.5
NMS_IOU = 0.5


@dataclass(frozen=True)
class DetectRecipe(Task):
    """A detection task: ``dataset(split, size=…, seed=…)`` yields ``(image (C, H, W), targets (M, 5))``,
    rows ``(class, x1, y1, x2, y2)`` with class −1 for padding; ``classes`` names the K classes.
    The model is a :class:`YOLO` trained with :class:`YOLOLoss`."""

    kind = "detection"
    capabilities = frozenset({"export"})

    name: str
    description: str
    dataset: Callable[..., Dataset]
    classes: tuple[str, ...]
    input_shape: tuple[int, int, int]
    sizes: dict[str, int] = field(default_factory=lambda: {"train": 20_000, "validation": 1_000, "test": 2_000})
    data_seed: int = 0
    model_options: dict[str, Any] = field(default_factory=dict)
    loss_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    scheduler: str = "onecycle"
    target: str = ""

    def data(self, split: str, size: int | None = None) -> Dataset:
        """The recipe's canvases of ``split`` (the same for every training seed)."""
        return self.dataset(split, size=self.sizes[split] if size is None else size, seed=self.data_seed)

    def build(self, **overrides: Any) -> YOLO:
        """The untrained detector of this recipe (``overrides`` replace model options)."""
        return YOLO(in_channels=self.input_shape[0], num_classes=len(self.classes),
                    **{**self.model_options, **overrides})

    def fit(self, run: Run) -> dict[str, Any]:
        """Train into ``run.out`` (the epoch of least validation loss is kept) and return the test
        scores; ``limit`` caps the number of training canvases."""
        settings = run.settings
        train_size = self.sizes["train"] if settings.limit is None else min(settings.limit, self.sizes["train"])
        train, val = self.data("train", train_size), self.data("validation")
        model = self.build()
        config = {"recipe": self.name, "model": "yolo", "model_options": {**self.model_options,
                                                                           "anchors": [list(a) for a in model.anchors]},
                  "input_shape": list(self.input_shape), "classes": list(self.classes),
                  "settings": {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                               "seed": settings.seed, "optimizer": self.optimizer, "scheduler": self.scheduler,
                               "train_canvases": train_size, "data_seed": self.data_seed,
                               "loss": self.loss_options}}
        loss = YOLOLoss(model.anchors, model.stride, **self.loss_options)
        history = fit_model(self, run, model, train, val, loss=loss, metrics={}, monitor="val_loss", mode="min",
                            config=config)
        test = self.data("test")
        scores = detection_scores(model, test, self.classes, device=settings.device)
        if is_main_process():
            write_grid(run.out / "detections-test.png", model, test, self.classes)
        # a class absent from every test canvas has no AP: null in the JSON
        return run.finish({**{f"test_{key}": None if math.isnan(value) else value for key, value in scores.items()},
                           "best_val_loss": min(r.get("val_loss", float("inf")) for r in history.records),
                           "test_canvases": len(test)}, config["settings"])

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The YOLO a saved config describes."""
        if config.get("model") != "yolo":
            raise ValueError(f"expected a detection (yolo) config, got model {config.get('model')!r}")
        return YOLO(in_channels=config["input_shape"][0], num_classes=len(config["classes"]),
                    **config.get("model_options", {}))

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """mAP@0.5:0.95 (``map``), ``map_50``, ``map_75`` and per-class AP on ``split``; also writes
        ``run/detections-<split>.png``."""
        model = self.load(run)
        data = self.data(split)
        scores = detection_scores(model, data, self.classes, device=device)
        write_grid(Path(run) / f"detections-{split}.png", model, data, self.classes)
        return scores

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per image (grey or RGB PNG/PGM/NPY, any size): the digits found with score ≥ 0.5,
        each with its score and box ``[x1, y1, x2, y2]`` in pixels, best first (all of them; ``top``
        is not used), and where the picture went: ``run/predictions/<name>.boxes.png``, the image
        enlarged 4 times with each box drawn and captioned with its class and score."""
        from convrnn.data.image_files import read_image, write_png
        from convrnn.inspect.boxes import draw_detections

        model, config = self.load_model(run)
        classes = tuple(config.get("classes", self.classes))
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
            found = detect(model, image.unsqueeze(0), score_threshold=SHOW_SCORE_THRESHOLD, iou_threshold=NMS_IOU)[0]
            captions = [f"{classes[int(k)]} {float(s):.2f}" for k, s in zip(found.classes, found.scores,
                                                                                  strict=True)]
            target = folder / f"{Path(path).stem}.boxes.png"
            write_png(target, draw_detections(image[0], found.boxes, found.classes.tolist(), captions))
            listed = ", ".join(f"{classes[int(k)]} ({float(s):.2f}) at [{', '.join(f'{v:.1f}' for v in box)}]"
                               for box, s, k in zip(found.boxes.tolist(), found.scores, found.classes, strict=True))
            height, width = image.shape[-2:]
            count = len(found.scores)
            lines.append(f"{path}: {height}×{width}, {count} digit{'' if count == 1 else 's'}"
                         f"{': ' + listed if listed else ''}; boxes → {target}")
        return lines

    def load(self, run: str | os.PathLike[str]) -> YOLO:
        """The trained detector of a run or model directory (or its exported file), in eval mode."""
        return self.load_model(run)[0]

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """Canvases ``(N, C, H, W)`` in, raw grid outputs ``(N, A, H/s, W/s, 5 + K)`` out (the network up
        to YOLO's raw numbers; decoding and non-maximum suppression, which keep a data-dependent
        number of boxes, run in predict); N, H and W dynamic (predict pads H and W to multiples of
        the stride s, so every cell lies on the image)."""
        shape = self.input_shape
        stride = int(model.stride)
        return ExportSignature((torch.zeros(2, shape[0], 2 * stride, 3 * stride),),
                               {"images": ["N", None, "H", "W"]}, ["images"], ["grid"],
                               attributes={"stride": stride, "anchors": [list(a) for a in model.anchors],
                                           "num_classes": model.num_classes})

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained detector and its input shape."""
        return self.build(), self.input_shape

    def examples(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """``batch_size`` generated validation canvases and their padded box targets."""
        return generated_examples(self.dataset, batch_size)


Truth = tuple[Tensor, Tensor]   # one image's true boxes (G, 4) and classes (G,)


def truth_of(targets: Tensor) -> tuple[Tensor, Tensor]:
    """One image's padded ``targets (M, 5)`` → ``boxes (G, 4)``, ``classes (G,) int64`` (rows with class ≥ 0)."""
    real = targets[:, 0] >= 0
    return targets[real, 1:], targets[real, 0].long()


@torch.no_grad()
def detections_of(model: Any, data: Dataset, *, device: str | torch.device = "cpu", batch_size: int = 256,
                  score_threshold: float = EVAL_SCORE_THRESHOLD) -> tuple[list[Detections], list[Truth]]:
    """The detections of every canvas of ``data`` (on CPU) and the true boxes and classes of each."""
    model = model.to(device)
    found: list[Detections] = []
    truths: list[Truth] = []
    for images, targets in DataLoader(data, batch_size):  # the whole data set, on every process
        for item in detect(model, images.to(device), score_threshold=score_threshold, iou_threshold=NMS_IOU):
            found.append(Detections(*(t.cpu() for t in item)))
        truths.extend(truth_of(t) for t in targets)
    return found, truths


def detection_scores(model: Any, data: Dataset, classes: tuple[str, ...], *,
                     device: str | torch.device = "cpu") -> dict[str, float]:
    """``{"map", "map_50", "map_75", "ap_50_<class>", "ap_<class>"…}`` over every canvas of ``data``
    (see :func:`convrnn.training.metrics_detection.mean_average_precision`)."""
    found, truths = detections_of(model, data, device=device)
    scores = mean_average_precision(found, truths, len(classes))
    named = {key: value for key, value in scores.items() if not key.startswith("ap_")}
    for k, name in enumerate(classes):
        named[f"ap_50_{name}"] = scores[f"ap_50_{k}"]
        named[f"ap_{name}"] = scores[f"ap_{k}"]
    return named


def write_grid(path: str | os.PathLike[str], model: Any, data: Dataset, classes: tuple[str, ...], *,
               count: int = GRID_EXAMPLES, columns: int = 4) -> Path:
    """Draw the first ``count`` canvases of ``data`` with their detections of score ≥ 0.5 (as predict
    shows them) in a grid of ``columns``, into the PNG ``path`` (atomically)."""
    from convrnn.data.image_files import write_png
    from convrnn.inspect.boxes import draw_detections

    images, _ = data[list(range(min(count, len(data))))]
    found = detect(model, images, score_threshold=SHOW_SCORE_THRESHOLD, iou_threshold=NMS_IOU)
    tiles = [draw_detections(image[0], item.boxes, item.classes.tolist(),
                             [f"{classes[int(k)]} {float(s):.2f}" for k, s in zip(item.classes, item.scores,
                                                                                  strict=True)])
             for image, item in zip(images, found, strict=True)]
    height, width, _ = tiles[0].shape
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * (height + 4), min(columns, len(tiles)) * (width + 4), 3), 255, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        top, left = (index // columns) * (height + 4) + 2, (index % columns) * (width + 4) + 2
        sheet[top:top + height, left:left + width] = tile
    write_png(path, sheet)
    return Path(path)


__all__ = ["DetectRecipe", "detection_scores", "detections_of", "truth_of", "write_grid"]
