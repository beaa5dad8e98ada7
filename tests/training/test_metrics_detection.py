"""COCO-style mean average precision against two independent references: a brute-force reading of
COCO's definition written here loop by loop, and pycocotools' own COCOeval where it is installed
(the test extra); plus the cases small enough to work out by hand."""

import contextlib
import io

import numpy as np
import pytest
import torch

from convrnn.training.metrics_detection import COCO_IOU_THRESHOLDS, average_precision, mean_average_precision


def random_scene(seed: int, images: int = 12, classes: int = 3):
    """Random true boxes, and detections that are jittered copies of them (some misclassified,
    some missing) plus pure false positives, with random scores."""
    rng = np.random.default_rng(seed)
    detections, truths = [], []
    for _ in range(images):
        g = int(rng.integers(0, 6))
        xy = rng.uniform(0, 50, (g, 2))
        truth = np.concatenate((xy, xy + rng.uniform(4, 20, (g, 2))), 1)
        truth_classes = rng.integers(0, classes, g)
        keep = rng.random(g) < 0.8
        copies = truth[keep] + rng.normal(0, 1.0, (int(keep.sum()), 4))
        copy_classes = np.where(rng.random(int(keep.sum())) < 0.85, truth_classes[keep], rng.integers(0, classes))
        f = int(rng.integers(0, 4))
        xy = rng.uniform(0, 50, (f, 2))
        false = np.concatenate((xy, xy + rng.uniform(4, 20, (f, 2))), 1)
        boxes = np.concatenate((copies, false))
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.5)
        detections.append((torch.tensor(boxes), torch.tensor(rng.random(len(boxes))),
                           torch.tensor(np.concatenate((copy_classes, rng.integers(0, classes, f))))))
        truths.append((torch.tensor(truth), torch.tensor(truth_classes)))
    return detections, truths


def brute_force_map(detections, truths, num_classes, thresholds=COCO_IOU_THRESHOLDS):
    """COCO's definition, one loop per step, sharing no code with convrnn."""
    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    table = {}
    for c in range(num_classes):
        total = sum(int((t[1] == c).sum()) for t in truths)
        if total == 0:
            continue
        for threshold in thresholds:
            ranked = []   # (score, image order, is true positive)
            for image, ((boxes, scores, classes), (truth, truth_classes)) in enumerate(zip(detections, truths)):
                mine = sorted([k for k in range(len(boxes)) if int(classes[k]) == c], key=lambda k: -float(scores[k]))
                gts = [truth[k].tolist() for k in range(len(truth)) if int(truth_classes[k]) == c]
                used = [False] * len(gts)
                for k in mine:
                    best, best_iou = None, threshold
                    for g, gt in enumerate(gts):
                        value = iou(boxes[k].tolist(), gt)
                        if not used[g] and value >= best_iou:
                            best, best_iou = g, value
                    if best is not None:
                        used[best] = True
                    ranked.append((float(scores[k]), image, best is not None))
            ranked.sort(key=lambda r: (-r[0], r[1]))
            points = []   # (recall, precision) after each detection
            hits = 0
            for n, (_, _, hit) in enumerate(ranked, start=1):
                hits += hit
                points.append((hits / total, hits / n))
            interpolated = []
            # COCO's recall points are np.linspace(0, 1, 101) as floats: 0.01 · 30 = 0.30000000000000004 is
            # not reached by a recall of 3/10 = 0.3 (a quirk of pycocotools that its AP numbers carry)
            for r in np.linspace(0.0, 1.0, 101):
                reachable = [p for recall, p in points if recall >= r]
                interpolated.append(max(reachable) if reachable else 0.0)
            table[c, threshold] = sum(interpolated) / 101
    classes_present = sorted({c for c, _ in table})
    per_threshold = {t: np.mean([table[c, t] for c in classes_present]) for t in thresholds}
    return float(np.mean(list(per_threshold.values()))), per_threshold


@pytest.mark.parametrize("seed", range(6))
def test_map_matches_a_brute_force_reading_of_cocos_definition(seed):
    detections, truths = random_scene(seed)
    expected, per_threshold = brute_force_map(detections, truths, 3)
    got = mean_average_precision(detections, truths, 3)
    assert got["map"] == pytest.approx(expected, abs=1e-9)
    assert got["map_50"] == pytest.approx(per_threshold[0.5], abs=1e-9)
    assert got["map_75"] == pytest.approx(per_threshold[0.75], abs=1e-9)
    assert 0.05 < got["map"] < 0.95   # the scenes are neither trivial nor hopeless


@pytest.mark.parametrize("seed", range(6))
def test_map_matches_pycocotools(seed):
    pytest.importorskip("pycocotools", reason="pycocotools is in the test extra: pip install 'convrnn[test]'")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    detections, truths = random_scene(seed)
    annotations, results = [], []
    for image, ((boxes, scores, classes), (truth, truth_classes)) in enumerate(zip(detections, truths)):
        for box, c in zip(truth.tolist(), truth_classes.tolist()):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append({"id": len(annotations) + 1, "image_id": image, "category_id": c,
                                "bbox": [box[0], box[1], w, h], "area": w * h, "iscrowd": 0})
        for box, s, c in zip(boxes.tolist(), scores.tolist(), classes.tolist()):
            results.append({"image_id": image, "category_id": c, "score": s,
                            "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": [{"id": i} for i in range(len(truths))], "annotations": annotations,
                        "categories": [{"id": c} for c in range(3)]}
        coco.createIndex()
        evaluation = COCOeval(coco, coco.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    got = mean_average_precision(detections, truths, 3)
    assert got["map"] == pytest.approx(evaluation.stats[0], abs=1e-6)      # AP @[.5:.95], all areas, 100 dets
    assert got["map_50"] == pytest.approx(evaluation.stats[1], abs=1e-6)
    assert got["map_75"] == pytest.approx(evaluation.stats[2], abs=1e-6)


def test_perfect_detections_score_one_and_none_score_zero():
    truth = (torch.tensor([[0.0, 0, 10, 10], [20.0, 20, 30, 40]]), torch.tensor([0, 1]))
    perfect = (truth[0].clone(), torch.tensor([0.9, 0.8]), truth[1].clone())
    empty = (torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    assert mean_average_precision([perfect], [truth], 2)["map"] == 1.0
    scores = mean_average_precision([empty], [truth], 3)
    assert scores["map"] == 0.0 and np.isnan(scores["ap_2"]) and np.isnan(scores["ap_50_2"])


def test_a_false_positive_ranked_first_halves_the_precision_everywhere():
    # detection 1 (score 0.9) misses, detection 2 (0.8) hits the one true box: precision 1/2 at recall 1,
    # so p̃(r) = 1/2 for every recall point r
    truth = (torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([0]))
    found = (torch.tensor([[50.0, 50, 60, 60], [0.0, 0, 10, 10]]), torch.tensor([0.9, 0.8]), torch.tensor([0, 0]))
    assert mean_average_precision([found], [truth], 1)["map"] == pytest.approx(0.5)
    assert average_precision(np.array([0.9, 0.8]), np.array([False, True]), 1) == pytest.approx(0.5)


def test_a_box_is_matched_once_and_the_duplicate_counts_false():
    truth = (torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([0]))
    found = (torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 10]]), torch.tensor([0.9, 0.8]), torch.tensor([0, 0]))
    assert mean_average_precision([found], [truth], 1)["map"] == 1.0   # the duplicate comes after full recall
    found = (found[0], torch.tensor([0.9, 0.95]), found[2])
    assert mean_average_precision([found], [truth], 1)["map"] == 1.0


def test_iou_just_below_a_threshold_misses_it_and_at_it_hits():
    truth = (torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([0]))
    half = (torch.tensor([[0.0, 0, 10, 5]]), torch.tensor([0.9]), torch.tensor([0]))   # IoU exactly 0.5
    scores = mean_average_precision([half], [truth], 1)
    assert scores["map_50"] == 1.0 and scores["map_75"] == 0.0 and scores["map"] == pytest.approx(0.1)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="mean_average_precision: arguments 'detections' and 'truths' expected"):
        mean_average_precision([], [(torch.zeros(0, 4), torch.zeros(0))], 1)
    with pytest.raises(ValueError, match="argument 'num_classes' expected an int ≥ 1, got 0"):
        mean_average_precision([], [], 0)
    with pytest.raises(ValueError, match="image 0 expected as many boxes as scores and classes"):
        mean_average_precision([(torch.zeros(2, 4), torch.zeros(1), torch.zeros(2))],
                               [(torch.zeros(0, 4), torch.zeros(0))], 1)
