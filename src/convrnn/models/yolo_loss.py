"""The loss a :class:`convrnn.models.yolo.YOLO` trains with: which cell and anchor answer for a box, what they learn.

Assignment (YOLOv2): a true box of size (w, h) with centre (c_x, c_y) belongs to the cell holding
its centre, ``(i, j) = (⌊c_y/s⌋, ⌊c_x/s⌋)``, and there to the anchor whose shape fits it best,
``a = argmax_a IoU((w, h), (p_w, p_h))`` with both boxes centred on one point. That cell-anchor is
a positive; the others are negatives, except that a negative whose predicted box already overlaps
some true box with IoU > ``ignore_iou`` is not pushed towards "no object" (YOLOv3, §2.1), since it
may be a fair second answer that non-maximum suppression will remove.

With targets ``(x̂, ŷ, ŵ, ĥ)`` from :func:`convrnn.functional.boxes.encode_grid` and class k̂, the loss of a
batch of N images, summed over cells and averaged over images, is::

    L = 1/N [ λ_box Σ_pos ((σ(t_x) − x̂)² + (σ(t_y) − ŷ)² + (t_w − ŵ)² + (t_h − ĥ)²)     (YOLOv1's λ_coord = 5)
            + Σ_{pos ∪ unignored neg} BCE(t_o, [pos])
            + Σ_pos CE(z, k̂) ]

Letters: N images, M true boxes per image at most (padded), A anchors, K classes, G_h × G_w cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.functional.boxes import box_iou, decode_grid, encode_grid


def shape_iou(sizes: Tensor, anchors: Tensor) -> Tensor:
    """IoU of boxes and anchors centred on one point: ``sizes (P, 2)``, ``anchors (A, 2)`` as (w, h) → ``(P, A)``."""
    inter = torch.minimum(sizes[:, None, :], anchors[None, :, :]).prod(-1)
    return inter / (sizes.prod(1)[:, None] + anchors.prod(1)[None, :] - inter)


class YOLOLoss(nn.Module):
    """The loss of the module docstring: ``loss(raw, targets)`` with ``raw (N, A, G_h, G_w, 5 + K)`` (a
    :class:`YOLO`'s output) and ``targets (N, M, 5)`` rows ``(class, x1, y1, x2, y2)`` in pixels, class
    −1 for padding → a 0-d tensor.

    Args:
        anchors: the model's A anchor sizes ``(p_w, p_h)``. stride: its s.
        box_weight: λ_box. ignore_iou: negatives whose box overlaps a true box more are not penalised.
    """

    def __init__(self, anchors: Sequence[Sequence[float]], stride: int, *, box_weight: float = 5.0,
                 ignore_iou: float = 0.5) -> None:
        super().__init__()
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32).view(-1, 2), persistent=False)
        self.stride, self.box_weight, self.ignore_iou = stride, box_weight, ignore_iou

    def forward(self, raw: Tensor, targets: Tensor) -> Tensor:
        check_tensor("raw", raw, dims=5, floating=True, where="YOLOLoss")
        check_tensor("targets", targets, dims=3, floating=True, where="YOLOLoss")
        n, num_anchors, grid_height, grid_width, _ = raw.shape
        if num_anchors != len(self.anchors) or targets.shape[0] != n or targets.shape[2] != 5:
            raise ValueError(f"YOLOLoss: arguments 'raw' (N, {len(self.anchors)}, G_h, G_w, 5 + K) and 'targets' "
                             f"(N, M, 5) expected, got shapes {tuple(raw.shape)} and {tuple(targets.shape)}")
        anchors = self.anchors.to(raw.device)
        real = targets[..., 0] >= 0                                              # (N, M)
        image, row = real.nonzero(as_tuple=True)
        boxes, classes = targets[image, row, 1:], targets[image, row, 0].long()  # (P, 4), (P,)
        best = shape_iou(boxes[:, 2:] - boxes[:, :2], anchors).argmax(1)         # (P,)
        cells, wanted = encode_grid(boxes, anchors[best], self.stride)
        i = cells[:, 0].clamp(0, grid_height - 1)
        j = cells[:, 1].clamp(0, grid_width - 1)
        wanted = torch.cat((wanted[:, :2].clamp(0, 1), wanted[:, 2:]), dim=1)
        positive = torch.zeros(raw.shape[:4], dtype=torch.bool, device=raw.device)
        positive[image, best, i, j] = True

        with torch.no_grad():   # negatives already on a true box are not pushed to "no object"
            predicted = decode_grid(raw[..., :4].detach().float(), anchors, self.stride).flatten(1, 3)
            overlap = box_iou(predicted, targets[..., 1:].float()).masked_fill(~real[:, None, :], 0)
            ignored = (overlap.amax(-1) > self.ignore_iou).view(positive.shape) if targets.shape[1] else \
                torch.zeros_like(positive)
        weight = (positive | ~ignored).to(raw.dtype)
        objectness = nn.functional.binary_cross_entropy_with_logits(raw[..., 4], positive.to(raw.dtype),
                                                                    weight=weight, reduction="sum")
        chosen = raw[image, best, i, j]                                          # (P, 5 + K)
        box = ((chosen[:, :2].sigmoid() - wanted[:, :2]).square().sum()
               + (chosen[:, 2:4] - wanted[:, 2:]).square().sum())
        classification = nn.functional.cross_entropy(chosen[:, 5:], classes, reduction="sum")
        return (self.box_weight * box + objectness + classification) / n


__all__ = ["YOLOLoss", "shape_iou"]
