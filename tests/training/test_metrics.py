import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.training import Accuracy, Mean, MeanAbsoluteError


def numpy_top_k_accuracy(scores: np.ndarray, targets: np.ndarray, k: int, class_axis: int,
                         ignore: int | None) -> float:
    """Reference: rank every class per position with a plain loop."""
    scores = np.moveaxis(scores, class_axis, -1).reshape(-1, scores.shape[class_axis])
    targets = targets.reshape(-1)
    hits = counted = 0
    for row, target in zip(scores, targets, strict=True):
        if ignore is not None and target == ignore:
            continue
        counted += 1
        hits += int(target in np.argsort(-row, kind="stable")[:k])
    return hits / counted if counted else float("nan")


@given(batches=st.integers(1, 3), n=st.integers(1, 5), t=st.integers(0, 3),
       classes=st.integers(2, 6), k=st.integers(1, 3), class_last=st.booleans(),
       ignore=st.booleans(), seed=st.integers(0, 1000))
def test_accuracy_matches_a_numpy_reference(batches, n, t, classes, k, class_last, ignore, seed):
    generator = torch.Generator().manual_seed(seed)
    k = min(k, classes)
    metric = Accuracy(k, class_dim=-1 if class_last else 1, ignore_index=0 if ignore else None)
    all_scores, all_targets = [], []
    for _ in range(batches):
        positions = (t,) if t else ()
        targets = torch.randint(classes, (n, *positions), generator=generator)
        # distinct scores, so the top k is unambiguous for both implementations
        scores = torch.randperm(n * classes * max(t, 1), generator=generator).double()
        scores = scores.reshape(n, *positions, classes) if class_last else \
            scores.reshape(n, classes, *positions)
        metric.update(scores, targets)
        all_scores.append(scores.numpy())
        all_targets.append(targets.numpy())
    expected = numpy_top_k_accuracy(np.concatenate(all_scores), np.concatenate(all_targets), k,
                                    -1 if class_last else 1, 0 if ignore else None)
    assert metric.compute() == pytest.approx(expected, nan_ok=True)


def test_accuracy_rejects_outputs_without_a_class_dimension():
    with pytest.raises(ValueError, match="'outputs' expected a 2-d tensor"):
        Accuracy().update(torch.zeros(4), torch.zeros(4, dtype=torch.long))


def test_accuracy_rejects_bad_top_k():
    with pytest.raises(ValueError, match="'top_k'"):
        Accuracy(0)


def test_mean_is_weighted_by_batch_size():
    mean = Mean()
    mean.update(torch.tensor(1.0), 3)
    mean.update(torch.tensor(5.0), 1)
    assert mean.compute() == pytest.approx(2.0)
    mean.reset()
    assert np.isnan(mean.compute())


def test_mean_absolute_error_matches_numpy():
    metric = MeanAbsoluteError()
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    c, d = torch.randn(2, 3), torch.randn(2, 3)
    metric.update(a, b)
    metric.update(c, d)
    expected = np.abs(np.concatenate([a - b, c - d])).mean()
    assert metric.compute() == pytest.approx(float(expected))
    with pytest.raises(ValueError, match="same shape"):
        metric.update(torch.zeros(2), torch.zeros(3))


def test_metric_state_round_trips():
    metric = Accuracy()
    metric.update(torch.eye(3), torch.tensor([0, 1, 1]))
    copy = Accuracy()
    copy.load_state_dict(metric.state_dict())
    assert copy.compute() == metric.compute() == pytest.approx(2 / 3)
