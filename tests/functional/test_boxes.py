"""Box utilities against brute-force references: IoU pair by pair, greedy NMS box by box, class-wise
NMS class by class; YOLO's grid coding inverts itself; bad arguments are named."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.functional.boxes import batched_nms, box_area, box_iou, decode_grid, encode_grid, nms


def random_boxes(count: int, seed: int, *, span: float = 20.0, integer: bool = False) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    corner = torch.rand(count, 2, generator=generator, dtype=torch.float64) * span
    size = torch.rand(count, 2, generator=generator, dtype=torch.float64) * span / 2
    if integer:   # many exact ties and duplicates
        corner, size = corner.round(), size.round()
    return torch.cat((corner, corner + size), dim=1)


def reference_iou(a, b):
    """One pair at a time, from the definition."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reference_nms(boxes, scores, threshold):
    """The textbook loop: take the best remaining box, drop every remaining box overlapping it more."""
    remaining = sorted(range(len(boxes)), key=lambda i: (-float(scores[i]), i))
    kept = []
    while remaining:
        best = remaining.pop(0)
        kept.append(best)
        remaining = [i for i in remaining if reference_iou(boxes[best].tolist(), boxes[i].tolist()) <= threshold]
    return kept


@given(st.integers(0, 12), st.integers(0, 12), st.integers(0, 10_000), st.booleans())
@settings(max_examples=40, deadline=None)
def test_box_iou_matches_the_pairwise_definition(n, m, seed, integer):
    a, b = random_boxes(n, seed, integer=integer), random_boxes(m, seed + 1, integer=integer)
    got = box_iou(a, b)
    assert got.shape == (n, m)
    for i in range(n):
        for j in range(m):
            assert got[i, j].item() == pytest.approx(reference_iou(a[i].tolist(), b[j].tolist()), abs=1e-12)


def test_box_iou_broadcasts_over_leading_dimensions_and_gives_zero_for_empty_pairs():
    a, b = random_boxes(12, 0).view(3, 4, 4), random_boxes(15, 1).view(3, 5, 4)
    got = box_iou(a, b)
    assert got.shape == (3, 4, 5)
    for k in range(3):
        torch.testing.assert_close(got[k], box_iou(a[k], b[k]))
    point = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    assert box_iou(point, point).item() == 0.0 and box_iou(point, torch.tensor([[0.0, 0, 2, 2]])).item() == 0.0
    assert box_area(torch.tensor([[1.0, 2.0, 4.0, 7.0]])).tolist() == [15.0]


def test_box_iou_gradient_passes_gradcheck_in_float64():
    a = random_boxes(4, 3).requires_grad_()
    b = random_boxes(3, 4).requires_grad_()
    assert torch.autograd.gradcheck(box_iou, (a, b))


@given(st.integers(0, 40), st.integers(0, 10_000), st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]), st.booleans())
@settings(max_examples=60, deadline=None)
def test_nms_keeps_what_the_greedy_loop_keeps(n, seed, threshold, integer):
    boxes = random_boxes(n, seed, integer=integer)
    generator = torch.Generator().manual_seed(seed)
    scores = torch.rand(n, generator=generator, dtype=torch.float64)
    if integer:
        scores = (scores * 4).round()   # tied scores: the earlier index ranks first
    assert nms(boxes, scores, threshold).tolist() == reference_nms(boxes, scores, threshold)


def test_nms_follows_a_long_suppression_chain():
    # each box overlaps the next one only: kept, dropped, kept, dropped, … (the fixed point needs many steps)
    boxes = torch.tensor([[float(k), 0.0, k + 1.5, 1.0] for k in range(9)])
    scores = torch.linspace(1.0, 0.1, 9)
    assert nms(boxes, scores, 0.1).tolist() == reference_nms(boxes, scores, 0.1) == [0, 2, 4, 6, 8]


@given(st.integers(0, 30), st.integers(0, 10_000), st.integers(1, 4))
@settings(max_examples=40, deadline=None)
def test_batched_nms_is_nms_within_each_class(n, seed, num_classes):
    boxes = random_boxes(n, seed)
    generator = torch.Generator().manual_seed(seed)
    scores = torch.rand(n, generator=generator, dtype=torch.float64)
    classes = torch.randint(num_classes, (n,), generator=generator)
    expected = []
    for c in range(num_classes):
        members = torch.nonzero(classes == c).flatten()
        expected.extend(members[reference_nms(boxes[members], scores[members], 0.4)].tolist())
    expected.sort(key=lambda i: -float(scores[i]))
    assert batched_nms(boxes, scores, classes, 0.4).tolist() == expected


def test_decode_grid_follows_yolos_equations_and_encode_grid_inverts_it():
    generator = torch.Generator().manual_seed(0)
    raw = torch.randn(2, 3, 4, 5, 4, generator=generator, dtype=torch.float64)
    anchors = torch.tensor([[10.0, 14.0], [16.0, 22.0], [24.0, 30.0]], dtype=torch.float64)
    boxes = decode_grid(raw, anchors, 8)
    n, a, i, j = 1, 2, 3, 4
    t = raw[n, a, i, j]
    cx, cy = (j + torch.sigmoid(t[0])) * 8, (i + torch.sigmoid(t[1])) * 8
    w, h = anchors[a, 0] * math.exp(t[2]), anchors[a, 1] * math.exp(t[3])
    torch.testing.assert_close(boxes[n, a, i, j], torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)))
    flat = boxes.reshape(-1, 4)
    cells, targets = encode_grid(flat, anchors[None, :, None, None].expand(2, 3, 4, 5, 2).reshape(-1, 2), 8)
    rows, columns = torch.meshgrid(torch.arange(4), torch.arange(5), indexing="ij")
    assert torch.equal(cells, torch.stack((rows, columns), -1).expand(2, 3, 4, 5, 2).reshape(-1, 2))
    torch.testing.assert_close(targets, torch.cat((raw[..., :2].sigmoid(), raw[..., 2:]), -1).reshape(-1, 4))


def test_decode_grid_caps_the_log_scale_so_wild_outputs_stay_finite():
    raw = torch.full((1, 1, 1, 1, 4), 1e4)
    assert torch.isfinite(decode_grid(raw, torch.ones(1, 2), 8)).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"box_iou: argument 'boxes1' expected boxes of shape \(\*, N, 4\)"):
        box_iou(torch.zeros(3, 5), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="nms: argument 'boxes' expected a floating-point tensor"):
        nms(torch.zeros(3, 4, dtype=torch.long), torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="nms: argument 'scores' expected 3 scores"):
        nms(torch.zeros(3, 4), torch.zeros(2), 0.5)
    with pytest.raises(ValueError, match=r"nms: argument 'iou_threshold' expected a number in \[0, 1\], got 1.5"):
        nms(torch.zeros(3, 4), torch.zeros(3), 1.5)
    with pytest.raises(ValueError, match="batched_nms: argument 'classes' expected 3 integer classes"):
        batched_nms(torch.zeros(3, 4), torch.zeros(3), torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="decode_grid: arguments 'raw'"):
        decode_grid(torch.zeros(1, 2, 3, 3, 4), torch.ones(3, 2), 8)
    with pytest.raises(ValueError, match="encode_grid: argument 'boxes' expected positive widths"):
        encode_grid(torch.tensor([[1.0, 1.0, 1.0, 3.0]]), torch.ones(1, 2), 8)
