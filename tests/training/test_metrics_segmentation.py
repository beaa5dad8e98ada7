"""Confusion matrix, per-class IoU, mean IoU and pixel accuracy against naive references on
hand-made and random label maps; the epoch metric sums one matrix over batches."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.training.metrics_segmentation import (
    MeanIoU,
    confusion_matrix,
    intersection_over_union,
    mean_iou,
    pixel_accuracy,
)


def naive_iou(truth: np.ndarray, predicted: np.ndarray, classes: int) -> list[float]:
    """|T_k ∩ P_k| / |T_k ∪ P_k| from the sets of pixel positions; NaN for an empty union."""
    result = []
    for k in range(classes):
        t = {i for i, v in enumerate(truth.ravel()) if v == k}
        p = {i for i, v in enumerate(predicted.ravel()) if v == k}
        result.append(len(t & p) / len(t | p) if t | p else math.nan)
    return result


def test_iou_of_hand_made_label_maps_including_a_class_absent_from_both():
    truth = torch.tensor([[0, 0, 1, 1],
                          [0, 0, 1, 1],
                          [3, 3, 3, 3]])
    predicted = torch.tensor([[0, 1, 1, 1],
                              [0, 0, 1, 4],
                              [3, 3, 0, 3]])
    confusion = confusion_matrix(predicted, truth, 5)
    # class 0: truth 4 px, predicted 4 px, 3 in common → 3/5; class 1: 4 and 4, 3 common → 3/5;
    # class 2: absent from both → NaN, not counted; class 3: 4 and 3, 3 common → 3/4;
    # class 4: predicted once, never true → 0/1 = 0, counted
    iou = intersection_over_union(confusion)
    assert iou[[0, 1, 3, 4]].tolist() == pytest.approx([0.6, 0.6, 0.75, 0.0])
    assert math.isnan(iou[2])
    assert mean_iou(confusion) == pytest.approx((0.6 + 0.6 + 0.75 + 0.0) / 4)
    assert pixel_accuracy(confusion) == pytest.approx(9 / 12)
    reference = naive_iou(truth.numpy(), predicted.numpy(), 5)
    np.testing.assert_allclose(iou.numpy(), reference, equal_nan=True)


def test_a_perfect_prediction_has_iou_one_for_every_present_class():
    truth = torch.tensor([[10, 10, 2], [2, 7, 10]])
    confusion = confusion_matrix(truth, truth, 11)
    assert mean_iou(confusion) == 1.0 and pixel_accuracy(confusion) == 1.0
    assert int((~intersection_over_union(confusion).isnan()).sum()) == 3


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 3), st.integers(1, 7), st.integers(0, 2**31 - 1))
def test_confusion_and_scores_match_naive_loops(classes, n, side, seed):
    generator = torch.Generator().manual_seed(seed)
    truth = torch.randint(0, classes, (n, side, side), generator=generator)
    predicted = torch.randint(0, classes, (n, side, side), generator=generator)
    confusion = confusion_matrix(predicted, truth, classes)
    naive = np.zeros((classes, classes), dtype=np.int64)
    for t, p in zip(truth.ravel().tolist(), predicted.ravel().tolist(), strict=True):
        naive[t, p] += 1
    np.testing.assert_array_equal(confusion.numpy(), naive)
    reference = naive_iou(truth.numpy(), predicted.numpy(), classes)
    np.testing.assert_allclose(intersection_over_union(confusion).numpy(), reference, equal_nan=True)
    assert mean_iou(confusion) == pytest.approx(np.nanmean(reference))
    assert pixel_accuracy(confusion) == pytest.approx(float((truth == predicted).float().mean()))


def test_ignored_targets_are_not_counted():
    truth = torch.tensor([0, 1, 255, 1])
    predicted = torch.tensor([0, 0, 1, 1])
    confusion = confusion_matrix(predicted, truth, 2, ignore_index=255)
    assert confusion.tolist() == [[1, 0], [1, 1]]


def test_the_epoch_metric_sums_one_matrix_over_batches_rather_than_averaging_batch_scores():
    generator = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 4, (6, 5, 5), generator=generator)
    scores = torch.randn(6, 4, 5, 5, generator=generator)
    metric = MeanIoU(4)
    for part in (slice(0, 1), slice(1, 6)):
        metric.update(scores[part], truth[part])
    whole = mean_iou(confusion_matrix(scores.argmax(1), truth, 4))
    assert metric.compute() == pytest.approx(whole)
    restored = MeanIoU(4)
    restored.load_state_dict(metric.state_dict())
    assert restored.compute() == pytest.approx(whole)
    metric.reset()
    assert math.isnan(metric.compute())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: confusion_matrix(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long), 2),
         "arguments 'predictions' and 'targets' expected the same shape"),
        (lambda: confusion_matrix(torch.zeros(4, dtype=torch.long), torch.tensor([0, 1, 2, 5]), 3),
         "argument 'targets' expected class indices in [0, 3), got values in [0, 5]"),
        (lambda: confusion_matrix(torch.zeros(2), torch.zeros(2, dtype=torch.long), 3),
         "argument 'predictions' expected integer class indices"),
        (lambda: confusion_matrix(torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long), 0),
         "argument 'num_classes' expected an int ≥ 1, got 0"),
        (lambda: mean_iou(torch.zeros(2, 3)), "argument 'confusion' expected a square (K, K) matrix"),
        (lambda: MeanIoU(3).update(torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)),
         "argument 'outputs' expected 3 class scores on dim 1"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    assert message in str(error.value)
