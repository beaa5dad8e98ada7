"""Average precision, ROC AUC and recall at a precision against brute-force definitions (every
threshold, every positive–negative pair), ties included, on hand cases and hypothesis draws."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.training.ranking import average_precision, recall_at_precision, roc_auc


def brute_precision_recall(scores, labels):
    """(precision, recall) of flagging every score ≥ t, for each distinct t, highest first."""
    points = []
    for t in sorted(set(scores), reverse=True):
        flagged = [y for s, y in zip(scores, labels) if s >= t]
        points.append((sum(flagged) / len(flagged), sum(flagged) / sum(labels)))
    return points


def brute_ap(scores, labels):
    total, previous = 0.0, 0.0
    for precision, recall in brute_precision_recall(scores, labels):
        total += (recall - previous) * precision
        previous = recall
    return total


def brute_auc(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def brute_recall(scores, labels, precision):
    return max([r for p, r in brute_precision_recall(scores, labels) if p >= precision], default=0.0)


cases = st.integers(2, 30).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 5).map(float), min_size=n, max_size=n),   # few values: many ties
    st.lists(st.integers(0, 1), min_size=n, max_size=n)).filter(lambda c: 0 < sum(c[1]) < len(c[1])))


@settings(max_examples=80, deadline=None)
@given(cases, st.sampled_from([0.3, 0.5, 0.9, 1.0]))
def test_scores_equal_the_brute_force_definitions_with_ties(case, precision):
    scores, labels = case
    assert average_precision(scores, labels) == pytest.approx(brute_ap(scores, labels))
    assert roc_auc(scores, labels) == pytest.approx(brute_auc(scores, labels))
    assert recall_at_precision(scores, labels, precision) == pytest.approx(brute_recall(scores, labels, precision))


def test_hand_example():
    scores, labels = [0.9, 0.8, 0.7, 0.6, 0.5], [1, 0, 1, 0, 0]
    assert average_precision(scores, labels) == pytest.approx((1 + 2 / 3) / 2)   # sklearn gives 0.8333…
    assert roc_auc(scores, labels) == pytest.approx(5 / 6)
    assert recall_at_precision(scores, labels, 0.9) == 0.5
    assert recall_at_precision(scores, labels, 0.6) == 1.0


def test_perfect_and_reversed_rankings():
    labels = np.array([0] * 50 + [1] * 3)
    scores = np.arange(53.0)
    assert average_precision(scores, labels) == roc_auc(scores, labels) == recall_at_precision(scores, labels, 1) == 1
    assert roc_auc(-scores, labels) == 0 and recall_at_precision(-scores, labels, 0.5) == 0


def test_tensors_and_arrays_give_the_same_scores():
    generator = np.random.default_rng(0)
    scores, labels = generator.standard_normal(200), (generator.random(200) < 0.1).astype(int)
    assert average_precision(torch.tensor(scores), torch.tensor(labels)) == average_precision(scores, labels)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: average_precision([0.1, 0.2], [0, 0]), "no positive"),
    (lambda: roc_auc([0.1, 0.2], [1, 1]), "no negative"),
    (lambda: average_precision([0.1, 0.2], [0, 2]), "expected 0 or 1"),
    (lambda: roc_auc([0.1, float("nan")], [0, 1]), "finite"),
    (lambda: average_precision([0.1, 0.2, 0.3], [0, 1]), "equal shapes"),
    (lambda: recall_at_precision([0.1, 0.2], [0, 1], 0.0), "'precision'"),
])
def test_bad_input_is_a_value_error_naming_the_function(call, message):
    with pytest.raises(ValueError, match=message):
        call()
