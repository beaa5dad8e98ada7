"""The YOLO detector and its loss: output shapes at any image size, detections decoded from a
grid set by hand, the loss's assignment (the centre's cell, the best-shaped anchor) checked through
its gradient, a loss of nearly zero for outputs that encode the truth, and a gradcheck."""

import pytest
import torch

from convrnn.functional.boxes import box_iou, encode_grid
from convrnn.models.yolo import YOLO, detect, grid_detections
from convrnn.models.yolo_loss import YOLOLoss, shape_iou

ANCHORS = ((8.0, 12.0), (16.0, 24.0))


def test_output_is_one_row_per_cell_and_anchor_at_any_size():
    model = YOLO(num_classes=3, channels=(4, 8, 8), anchors=ANCHORS).eval()
    assert model.stride == 4
    for height, width in [(16, 16), (17, 30), (3, 5)]:
        y = model(torch.rand(2, 1, height, width))
        assert y.shape == (2, 2, -(-height // 4), -(-width // 4), 5 + 3)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="YOLO: argument 'num_classes' expected an int ≥ 1, got 0"):
        YOLO(num_classes=0)
    with pytest.raises(ValueError, match="YOLO: argument 'anchors' expected one or more"):
        YOLO(anchors=((1.0, -2.0),))
    with pytest.raises(ValueError, match="YOLO: argument 'x' expected 1 channels"):
        YOLO()(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r"YOLOLoss: arguments 'raw' \(N, 2, G_h, G_w, 5 \+ K\)"):
        YOLOLoss(ANCHORS, 4)(torch.zeros(1, 3, 2, 2, 8), torch.zeros(1, 1, 5))


def hand_grid(boxes, classes, anchors, stride, grid, num_classes, anchor_of):
    """Raw outputs that say "nothing" everywhere but encode ``boxes`` exactly in their cells."""
    raw = torch.zeros(1, len(anchors), grid, grid, 5 + num_classes, dtype=torch.float64)
    raw[..., 4] = -20.0
    anchor_sizes = torch.tensor(anchors, dtype=torch.float64)[anchor_of]
    cells, targets = encode_grid(boxes, anchor_sizes, stride)
    for (i, j), a, t, c in zip(cells.tolist(), anchor_of, targets, classes, strict=True):
        raw[0, a, i, j, :2] = torch.logit(t[:2])
        raw[0, a, i, j, 2:4] = t[2:]
        raw[0, a, i, j, 4] = 20.0
        raw[0, a, i, j, 5 + c] = 20.0
    return raw


def test_grid_detections_decode_the_boxes_a_grid_encodes_and_drop_duplicates():
    boxes = torch.tensor([[3.0, 2.0, 12.0, 15.0], [17.0, 9.0, 30.0, 31.0]], dtype=torch.float64)
    raw = hand_grid(boxes, [2, 0], ANCHORS, 8, 4, 3, anchor_of=[0, 1])
    (found,) = grid_detections(raw, torch.tensor(ANCHORS, dtype=torch.float64), 8, score_threshold=0.5)
    torch.testing.assert_close(found.boxes, boxes)
    assert found.classes.tolist() == [2, 0] and (found.scores > 0.99).all()
    # the same box proposed by the other anchor too, a little less sure: suppressed by NMS
    raw[0, 1, 1, 0] = raw[0, 0, 1, 0]
    raw[0, 1, 1, 0, 2:4] += torch.log(torch.tensor([8 / 16, 12 / 24], dtype=torch.float64))
    raw[0, 1, 1, 0, 4] = 3.0
    (again,) = grid_detections(raw, torch.tensor(ANCHORS, dtype=torch.float64), 8, score_threshold=0.5)
    assert again.classes.tolist() == [2, 0]
    (lenient,) = grid_detections(raw, torch.tensor(ANCHORS, dtype=torch.float64), 8, score_threshold=0.5,
                                 iou_threshold=1.0)
    assert len(lenient.boxes) == 3


def test_detect_pads_to_the_stride_and_clips_boxes_to_the_image():
    model = YOLO(num_classes=2, channels=(4, 8), anchors=((40.0, 40.0),))
    with torch.no_grad():   # every cell says "a huge box of class 1, surely"
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 10.0, 0.0, 5.0]))
    (found,) = detect(model, torch.rand(1, 1, 7, 9), iou_threshold=1.0)
    assert len(found.boxes) == 4 * 5   # ⌈7/2⌉ × ⌈9/2⌉ cells
    assert found.boxes[:, 0].min() == 0 and found.boxes[:, 2].max() == 9 and found.boxes[:, 3].max() == 7
    assert (found.classes == 1).all() and model.training   # the mode is restored


def test_the_loss_teaches_the_centres_cell_and_the_best_shaped_anchor_only():
    boxes = torch.tensor([[2.0, 3.0, 9.0, 14.0], [14.0, 2.0, 30.0, 27.0]])
    targets = torch.tensor([[[1.0, *boxes[0]], [0.0, *boxes[1]], [-1.0, 0, 0, 0, 0]]])
    assert shape_iou(boxes[:, 2:] - boxes[:, :2], torch.tensor(ANCHORS)).argmax(1).tolist() == [0, 1]
    raw = torch.zeros(1, 2, 4, 4, 7, requires_grad=True)
    YOLOLoss(ANCHORS, 8, ignore_iou=1.0)(raw, targets).backward()
    grad = raw.grad[0]
    box_and_class = grad[..., [0, 1, 2, 3, 5, 6]].abs().sum(-1)
    taught = {tuple(index) for index in box_and_class.nonzero().tolist()}
    assert taught == {(0, 1, 0), (1, 1, 2)}   # (anchor, row, column) of each box's centre
    assert (grad[..., 4] > 0).sum() == 2 * 4 * 4 - 2 and (grad[..., 4] < 0).sum() == 2   # objectness


def test_a_negative_already_on_a_true_box_is_not_pushed_to_no_object():
    boxes = torch.tensor([[2.0, 3.0, 9.0, 14.0]], dtype=torch.float64)
    raw = hand_grid(boxes, [1], ANCHORS, 8, 4, 2, anchor_of=[0]).float()
    raw[0, 1, 1, 0] = raw[0, 0, 1, 0]   # anchor 1 predicts the same box, scaled to its own size
    raw[0, 1, 1, 0, 2:4] += torch.log(torch.tensor([8 / 16, 12 / 24]))
    raw[0, 1, 1, 0, 4] = 0.0
    raw.requires_grad_()
    targets = torch.tensor([[[1.0, *boxes[0].tolist()]]])
    YOLOLoss(ANCHORS, 8, ignore_iou=0.5)(raw, targets).backward()
    assert raw.grad[0, 1, 1, 0, 4] == 0 and raw.grad[0, 1, 2, 2, 4] > 0


def test_outputs_that_encode_the_truth_have_almost_no_loss():
    boxes = torch.tensor([[3.0, 2.0, 12.0, 15.0], [17.0, 9.0, 30.0, 31.0]], dtype=torch.float64)
    targets = torch.tensor([[[2.0, *boxes[0].tolist()], [0.0, *boxes[1].tolist()]]])
    raw = hand_grid(boxes, [2, 0], ANCHORS, 8, 4, 3, anchor_of=[0, 1]).float()
    assert YOLOLoss(ANCHORS, 8)(raw, targets) < 1e-5
    raw[0, 0, 1, 0, 5:] = torch.tensor([20.0, 0.0, 0.0])   # a wrong class costs
    assert YOLOLoss(ANCHORS, 8)(raw, targets) > 1.0


def test_the_loss_passes_gradcheck_in_float64():
    loss = YOLOLoss(ANCHORS[:1], 8, ignore_iou=1.0)
    loss.anchors = loss.anchors.double()
    targets = torch.tensor([[[1.0, 2.0, 3.0, 9.0, 14.0], [0.0, 6.0, 9.0, 15.0, 13.0]]], dtype=torch.float64)
    raw = torch.randn(1, 1, 2, 2, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda r: loss(r, targets), (raw,))


def test_a_batch_without_any_box_teaches_no_object_everywhere():
    raw = torch.zeros(2, 2, 3, 3, 7, requires_grad=True)
    targets = torch.full((2, 3, 5), 0.0)
    targets[..., 0] = -1
    value = YOLOLoss(ANCHORS, 8)(raw, targets)
    value.backward()
    assert value.item() == pytest.approx(2 * 3 * 3 * torch.log(torch.tensor(2.0)).item())
    assert (raw.grad[..., 4] > 0).all() and (raw.grad[..., [0, 1, 2, 3, 5, 6]] == 0).all()
    # and an empty target list (M = 0) is the same
    assert YOLOLoss(ANCHORS, 8)(raw.detach(), torch.zeros(2, 0, 5)).item() == pytest.approx(value.item())
    assert box_iou(torch.zeros(2, 0, 4), torch.zeros(2, 3, 4)).shape == (2, 0, 3)
