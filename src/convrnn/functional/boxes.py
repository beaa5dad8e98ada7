"""Axis-aligned boxes: area, intersection over union, non-maximum suppression, YOLO's grid coding.

A box is ``(x1, y1, x2, y2)`` in pixels of the image, x to the right and y down, with
``x1 ≤ x2`` and ``y1 ≤ y2``; pixel (row i, column j) covers ``[j, j + 1) × [i, i + 1)``, so a box
that tightly holds columns a…b has ``x1 = a, x2 = b + 1``. Coordinates are continuous (no ``+ 1``
in widths, as COCO's and torchvision's boxes)::

    area(b)    = (x2 − x1) · (y2 − y1)
    inter(a, b) = max(0, min(a.x2, b.x2) − max(a.x1, b.x1)) · max(0, min(a.y2, b.y2) − max(a.y1, b.y1))
    IoU(a, b)  = inter(a, b) / (area(a) + area(b) − inter(a, b))          (0 where both are empty)

Greedy non-maximum suppression (Felzenszwalb et al., 2010; YOLO, Faster R-CNN): visit the boxes in
order of decreasing score; keep a box unless it overlaps an already kept box with IoU > threshold.
Written as the fixed point of one vectorised step, with O[i, j] = [IoU(b_i, b_j) > t] for i
ranked before j::

    keep[j] = ¬ ∃ i < j : keep[i] ∧ O[i, j]

Iterating ``keep ← step(keep)`` from all-true fixes entry j once every entry before it is fixed,
and the equation has exactly one solution (solve it for j = 0, 1, … in turn), so it reaches the
greedy answer in at most (length of the longest suppression chain + 1) matrix steps — two or three
on a detector's output, against one Python step per box for the textbook loop.

YOLO's grid coding (Redmon & Farhadi, 2017, "YOLO9000", §2 "Direct location prediction"): a
network with stride s predicts, in grid cell (row i, column j) for anchor a of size
``(p_w, p_h)`` pixels, raw numbers ``t = (t_x, t_y, t_w, t_h)``; the box they stand for has centre
and size::

    c_x = (j + σ(t_x)) · s      c_y = (i + σ(t_y)) · s      w = p_w · e^{t_w}      h = p_h · e^{t_h}

so each cell predicts only centres inside itself. :func:`encode_grid` inverts it for training
targets: ``σ(t_x) = c_x / s − j``, ``t_w = log(w / p_w)``.

Letters: N, M boxes; ``*`` any leading batch dimensions; A anchors; G_h × G_w grid cells.
"""

from __future__ import annotations

import torch
from torch import Tensor

from convrnn.functional._checks import check_tensor

# e^{t_w} is capped at e^{MAX_LOG_SCALE} (≈ 3000 × the anchor) so an untrained network's wild
# outputs give huge boxes, not inf − inf = NaN in the IoU
MAX_LOG_SCALE = 8.0


def _check_boxes(name: str, boxes: object, where: str, *, batched: bool = False) -> Tensor:
    check_tensor(name, boxes, floating=True, where=where)
    assert isinstance(boxes, Tensor)
    if boxes.dim() < (2 if batched else 1) or boxes.shape[-1] != 4 or (not batched and boxes.dim() != 2):
        want = "(*, N, 4)" if batched else "(N, 4)"
        raise ValueError(f"{where}: argument '{name}' expected boxes of shape {want} (x1, y1, x2, y2), "
                         f"got shape {tuple(boxes.shape)}")
    return boxes


def box_area(boxes: Tensor) -> Tensor:
    """``(x2 − x1) · (y2 − y1)`` of ``boxes (*, 4)`` → ``(*)``."""
    if not isinstance(boxes, Tensor) or boxes.dim() < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"box_area: argument 'boxes' expected a tensor of shape (*, 4), "
                         f"got {tuple(boxes.shape) if isinstance(boxes, Tensor) else type(boxes).__name__}")
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection over union of every pair: ``boxes1 (*, N, 4)``, ``boxes2 (*, M, 4)`` → ``(*, N, M)``.

    Leading dimensions broadcast (one image's boxes per batch entry). A pair of empty boxes
    (union 0) has IoU 0.
    """
    _check_boxes("boxes1", boxes1, "box_iou", batched=True)
    _check_boxes("boxes2", boxes2, "box_iou", batched=True)
    a, b = boxes1.unsqueeze(-2), boxes2.unsqueeze(-3)                        # (*, N, 1, 4), (*, 1, M, 4)
    width = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    height = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = width * height
    union = box_area(boxes1).unsqueeze(-1) + box_area(boxes2).unsqueeze(-2) - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(union))


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression (see the module docstring): ``boxes (N, 4)``, ``scores (N,)`` →
    indices ``(K,) int64`` of the kept boxes, by decreasing score (ties: the earlier index first).

    A box is suppressed by a kept, higher-ranked box with IoU > ``iou_threshold`` (as ``torchvision.ops.nms``).
    """
    _check_boxes("boxes", boxes, "nms")
    check_tensor("scores", scores, dims=1, floating=True, where="nms")
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"nms: argument 'scores' expected {boxes.shape[0]} scores (one per box), "
                         f"got {scores.shape[0]}")
    if not isinstance(iou_threshold, (int, float)) or isinstance(iou_threshold, bool) or not 0 <= iou_threshold <= 1:
        raise ValueError(f"nms: argument 'iou_threshold' expected a number in [0, 1], got {iou_threshold!r}")
    order = torch.sort(scores, descending=True, stable=True).indices
    ranked = boxes[order]
    # O[i, j]: box i (ranked before j) would suppress box j
    overlaps = (box_iou(ranked, ranked) > iou_threshold).triu(diagonal=1)
    keep = torch.ones(len(order), dtype=torch.bool, device=boxes.device)
    while True:
        step = ~(overlaps & keep.unsqueeze(1)).any(0)
        if torch.equal(step, keep):
            return order[keep]
        keep = step


def batched_nms(boxes: Tensor, scores: Tensor, classes: Tensor, iou_threshold: float) -> Tensor:
    """:func:`nms` within each class: boxes of different ``classes (N,)`` never suppress each other.

    Each class's boxes are shifted by ``class · (span + 1)`` along both axes, where span is the
    extent of all the boxes, so boxes of two classes cannot overlap; one :func:`nms` then does every
    class at once. Returns kept indices by decreasing score.
    """
    _check_boxes("boxes", boxes, "batched_nms")
    check_tensor("classes", classes, dims=1, where="batched_nms")
    if classes.shape[0] != boxes.shape[0] or classes.is_floating_point():
        raise ValueError(f"batched_nms: argument 'classes' expected {boxes.shape[0]} integer classes, "
                         f"got shape {tuple(classes.shape)} {classes.dtype}")
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    span = boxes.max() - boxes.min()
    shifted = boxes - boxes.min() + (classes.to(boxes.dtype) * (span + 1)).unsqueeze(1)
    return nms(shifted, scores, iou_threshold)


def _grid(grid_height: int, grid_width: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    rows = torch.arange(grid_height, device=device, dtype=dtype).view(grid_height, 1)
    columns = torch.arange(grid_width, device=device, dtype=dtype).view(1, grid_width)
    return rows, columns


def decode_grid(raw: Tensor, anchors: Tensor, stride: float) -> Tensor:
    """Boxes from YOLO's raw offsets (module docstring): ``raw (*, A, G_h, G_w, 4)`` holding
    ``(t_x, t_y, t_w, t_h)``, ``anchors (A, 2)`` holding ``(p_w, p_h)`` in pixels → boxes
    ``(*, A, G_h, G_w, 4)`` as ``(x1, y1, x2, y2)`` in pixels (``t_w, t_h`` capped at
    :data:`MAX_LOG_SCALE`)."""
    check_tensor("raw", raw, floating=True, where="decode_grid")
    check_tensor("anchors", anchors, dims=2, floating=True, where="decode_grid")
    if raw.dim() < 4 or raw.shape[-1] != 4 or anchors.shape != (raw.shape[-4], 2):
        raise ValueError(f"decode_grid: arguments 'raw' (*, A, G_h, G_w, 4) and 'anchors' (A, 2) expected matching "
                         f"A, got shapes {tuple(raw.shape)} and {tuple(anchors.shape)}")
    rows, columns = _grid(raw.shape[-3], raw.shape[-2], raw.device, raw.dtype)
    centre_x = (columns + raw[..., 0].sigmoid()) * stride
    centre_y = (rows + raw[..., 1].sigmoid()) * stride
    size = anchors.view(-1, 1, 1, 2).to(raw.dtype) * raw[..., 2:4].clamp(max=MAX_LOG_SCALE).exp()
    centre = torch.stack((centre_x, centre_y), dim=-1)
    return torch.cat((centre - size / 2, centre + size / 2), dim=-1)


def encode_grid(boxes: Tensor, anchors: Tensor, stride: float) -> tuple[Tensor, Tensor]:
    """The cell and targets YOLO trains for each box: ``boxes (N, 4)`` with their assigned
    ``anchors (N, 2)`` → ``cells (N, 2) int64`` as (row i, column j) of the cell holding the box's
    centre, and ``targets (N, 4)`` = ``(σ(t_x), σ(t_y), t_w, t_h)`` = ``(c_x/s − j, c_y/s − i,
    log(w/p_w), log(h/p_h))``. Boxes need positive width and height; a box whose centre lies
    outside the grid gets a cell outside it (the caller decides what that means)."""
    _check_boxes("boxes", boxes, "encode_grid")
    check_tensor("anchors", anchors, dims=2, floating=True, where="encode_grid")
    if anchors.shape != (boxes.shape[0], 2):
        raise ValueError(f"encode_grid: argument 'anchors' expected one (p_w, p_h) per box, shape "
                         f"({boxes.shape[0]}, 2), got {tuple(anchors.shape)}")
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = boxes[:, 2:] - boxes[:, :2]
    if bool((size <= 0).any()):
        raise ValueError("encode_grid: argument 'boxes' expected positive widths and heights (x2 > x1, y2 > y1)")
    cell_xy = torch.floor(centre / stride)
    offsets = centre / stride - cell_xy
    targets = torch.cat((offsets, torch.log(size / anchors.to(size.dtype))), dim=1)
    return cell_xy.flip(1).long(), targets


__all__ = ["MAX_LOG_SCALE", "batched_nms", "box_area", "box_iou", "decode_grid", "encode_grid", "nms"]
