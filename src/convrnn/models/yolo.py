"""A single-stage detector in YOLO's form (Redmon et al., 2016; anchors and offsets as YOLOv2, 2017).

A fully convolutional backbone brings the image down by a stride s = 2^L to a grid of
G_h × G_w = ⌈H/s⌉ × ⌈W/s⌉ cells; a 1×1 convolution gives every cell, for each of A anchor boxes
of size ``(p_w, p_h)``, the numbers ``(t_x, t_y, t_w, t_h, t_o, z_1 … z_K)``::

    e_0 = stem(x)                           3×3 conv                 (N, c_0, H, W)
    e_i = block_i(down_i(e_{i−1}))          3×3 conv, stride 2 (+ 3×3 convs)   (N, c_i, ⌈H/2^i⌉, …)
    y   = head(e_L)                         1×1 conv → (N, A·(5 + K), G_h, G_w) → (N, A, G_h, G_w, 5 + K)

    box         = decode_grid(t, anchors, s)            (centre in the cell, size relative to the anchor;
                                                         see :mod:`convrnn.functional.boxes`)
    objectness  P(object)            = σ(t_o)
    class       P(class k | object)  = softmax(z)_k
    score(k)    = σ(t_o) · softmax(z)_k                 (YOLO's class-specific confidence)

Every conv but the head is followed by batch norm and ReLU. :func:`detect` turns the grid into
detections: each cell-anchor proposes its best class with that score, proposals below a score
threshold are dropped, and non-maximum suppression within each class removes duplicates.
Training targets and the loss are in :mod:`convrnn.models.yolo_loss`.

Letters: N images, C channels, H × W pixels, A anchors, K classes, G_h × G_w grid cells, D detections.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.functional.boxes import batched_nms, decode_grid
from convrnn.layers.blocks import BatchNorm2d
from convrnn.layers.conv import Conv

# (p_w, p_h) in pixels: the digits' boxes on the 64×64 canvases cluster around these shapes
# (k-medians with 1 − IoU of the shapes as the distance, as YOLOv2 picks its anchors by k-means,
# on the boxes of 2,000 validation canvases: mean best IoU 0.76)
DEFAULT_ANCHORS = ((11.0, 17.0), (17.0, 22.0), (25.0, 31.0))


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(Conv(in_channels, out_channels, 3, stride=stride, padding=1, bias=False, dims=2),
                         BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class Detections(NamedTuple):
    """One image's detections: ``boxes (D, 4)`` as (x1, y1, x2, y2) pixels, ``scores (D,)`` in [0, 1]
    and ``classes (D,) int64``, by decreasing score."""

    boxes: Tensor
    scores: Tensor
    classes: Tensor


class YOLO(nn.Module):
    """Single-stage grid detector (see the module docstring for the equations).

    Args:
        in_channels: C of the input.
        num_classes: K.
        channels: ``(c_0, …, c_L)``, the width at each scale; stride s = 2^L.
        convs_per_scale: 3×3 convolutions after each stride-2 step, ≥ 1.
        anchors: A anchor sizes ``(p_w, p_h)`` in pixels.

    Shapes: ``x: (N, C, H, W)`` → ``(N, A, G_h, G_w, 5 + K)`` raw outputs for any H, W ≥ 1;
    G = ⌈H / s⌉. A box's centre lies in the image's part of its cell, so H and W should be
    multiples of s (:func:`detect` pads to one).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, channels: Sequence[int] = (16, 32, 64, 128),
                 convs_per_scale: int = 1, anchors: Sequence[Sequence[float]] = DEFAULT_ANCHORS) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("convs_per_scale", convs_per_scale)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"YOLO: argument '{name}' expected an int ≥ 1, got {value!r}")
        channels = tuple(channels)
        if len(channels) < 1 or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in channels):
            raise ValueError(f"YOLO: argument 'channels' expected one or more ints ≥ 1, got {channels!r}")
        anchors = tuple(tuple(float(v) for v in anchor) for anchor in anchors)
        if not anchors or any(len(a) != 2 or min(a) <= 0 for a in anchors):
            raise ValueError(f"YOLO: argument 'anchors' expected one or more (width, height) > 0, got {anchors!r}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.channels, self.convs_per_scale = channels, convs_per_scale
        self.anchors = anchors
        self.stride = 2 ** (len(channels) - 1)
        layers: list[nn.Module] = [_conv_bn_relu(in_channels, channels[0])]
        for before, after in pairwise(channels):
            layers.append(_conv_bn_relu(before, after, stride=2))
            layers.extend(_conv_bn_relu(after, after) for _ in range(convs_per_scale))
        self.backbone = nn.Sequential(*layers)
        self.head = Conv(channels[-1], len(anchors) * (5 + num_classes), 1, dims=2)
        # objectness starts near the share of cell-anchors holding an object (≈ 1 %), as RetinaNet
        # initialises its classifier, so the first steps are not spent unlearning 0.5 everywhere
        with torch.no_grad():
            bias = self.head.bias.view(len(anchors), 5 + num_classes)
            bias[:, 4] = -4.6

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x, dims=4, floating=True, where="YOLO")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"YOLO: argument 'x' expected {self.in_channels} channels, got shape {tuple(x.shape)}")
        y = self.head(self.backbone(x))
        n, _, grid_height, grid_width = y.shape
        return y.view(n, len(self.anchors), 5 + self.num_classes, grid_height, grid_width).permute(0, 1, 3, 4, 2)

    def extra_repr(self) -> str:
        return f"stride={self.stride}, anchors={self.anchors}, num_classes={self.num_classes}"


def anchor_tensor(model: Any, like: Tensor) -> Tensor:
    """``model.anchors`` (a module's or an exported model's attribute) as ``(A, 2)`` on ``like``'s device."""
    return torch.tensor(model.anchors, dtype=like.dtype, device=like.device).view(-1, 2)


def grid_detections(raw: Tensor, anchors: Tensor, stride: float, *, score_threshold: float = 0.01,
                    iou_threshold: float = 0.5, max_detections: int = 100,
                    size: tuple[int, int] | None = None) -> list[Detections]:
    """Detections of each image from raw outputs ``raw (N, A, G_h, G_w, 5 + K)`` (see the module
    docstring): every cell-anchor proposes its best class k with score σ(t_o)·softmax(z)_k; those
    with a score ≥ ``score_threshold`` go through :func:`batched_nms` at ``iou_threshold``; the
    ``max_detections`` best remain. ``size = (H, W)`` clips boxes to the image."""
    check_tensor("raw", raw, dims=5, floating=True, where="grid_detections")
    if not 0 <= score_threshold <= 1:
        raise ValueError(f"grid_detections: argument 'score_threshold' expected a number in [0, 1], "
                         f"got {score_threshold!r}")
    if isinstance(max_detections, bool) or not isinstance(max_detections, int) or max_detections < 1:
        raise ValueError(f"grid_detections: argument 'max_detections' expected an int ≥ 1, got {max_detections!r}")
    boxes = decode_grid(raw[..., :4], anchors, stride).flatten(1, 3)              # (N, P, 4)
    class_probability, classes = raw[..., 5:].softmax(-1).max(-1)
    scores = (raw[..., 4].sigmoid() * class_probability).flatten(1)              # (N, P)
    classes = classes.flatten(1)
    if size is not None:
        limit = torch.tensor([size[1], size[0], size[1], size[0]], dtype=boxes.dtype, device=boxes.device)
        boxes = torch.minimum(boxes.clamp(min=0), limit)
    found = []
    for image_boxes, image_scores, image_classes in zip(boxes, scores, classes, strict=True):
        chosen = image_scores >= score_threshold
        image_boxes, image_scores, image_classes = image_boxes[chosen], image_scores[chosen], image_classes[chosen]
        keep = batched_nms(image_boxes, image_scores, image_classes, iou_threshold)[:max_detections]
        found.append(Detections(image_boxes[keep], image_scores[keep], image_classes[keep]))
    return found


@torch.no_grad()
def detect(model: Any, images: Tensor, *, score_threshold: float = 0.01, iou_threshold: float = 0.5,
           max_detections: int = 100) -> list[Detections]:
    """Run ``model`` (a :class:`YOLO` or its exported file) on ``images (N, C, H, W)`` and return each
    image's :class:`Detections` (see :func:`grid_detections`), on the model's device. Images are
    moved there, padded with zeros on the right and bottom to a multiple of the model's stride, and
    boxes clipped to the image."""
    check_tensor("images", images, dims=4, floating=True, where="detect")
    height, width = images.shape[-2:]
    stride = int(model.stride)
    weights = next(iter(model.parameters()), None) if isinstance(model, nn.Module) else None
    padded = nn.functional.pad(images, (0, -width % stride, 0, -height % stride))
    padded = padded.to(weights.device if weights is not None else "cpu")
    was_training = model.training
    model.eval()
    try:
        raw = model(padded).float()
    finally:
        model.train(was_training)
    return grid_detections(raw, anchor_tensor(model, raw), stride, score_threshold=score_threshold,
                           iou_threshold=iou_threshold, max_detections=max_detections, size=(height, width))


__all__ = ["DEFAULT_ANCHORS", "YOLO", "Detections", "anchor_tensor", "detect", "grid_detections"]
