"""The data-set constructors of convrnn.data given bad arguments, one row per (constructor, argument, kind of bad
value), offline: the image and string data sets built from given arrays, the downloadable ones refused before any
download, the collators. Each must be a ValueError/TypeError from convrnn's own checks naming the constructor, the
argument and what was expected (see tests/bad_arguments.py)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

from bad_arguments import (
    CI_EXAMPLES,
    FUZZ_EXAMPLES,
    NAN_INF,
    NEGATIVE,
    NEGATIVE_INT64,
    NON_POSITIVE,
    NOT_AN_INT,
    Row,
    run_rows,
)
from convrnn.data import (
    MNIST,
    DigitCanvases,
    Digits,
    DigitStrings,
    FashionMNIST,
    G2PCollate,
    ImageDataset,
    KeywordClips,
    TextStream,
)

SPLITS = st.text(max_size=6).filter(lambda s: s not in ("train", "validation", "test", "train+validation",
                                                          "train_full", "val", "valid"))


def images(n: int = 10) -> np.ndarray:
    return np.zeros((n, 28, 28), np.uint8)


def classes(n: int = 10) -> np.ndarray:
    return np.arange(n, dtype=np.int64) % 10


def image_dataset(**changes):
    def call(value):
        given = {"images": torch.zeros(2, 1, 4, 4), "labels": torch.tensor([0, 1]), "classes": ["a", "b"],
                 **{k: (value if v is ... else v) for k, v in changes.items()}}
        return ImageDataset(given.pop("images"), given.pop("labels"), **given)
    return call


def canvases(**changes):
    return lambda value: DigitCanvases(**{"size": 2, "images": images(), "classes": classes(),
                                          **{k: (value if v is ... else v) for k, v in changes.items()}})


def strings(**changes):
    return lambda value: DigitStrings(**{"count": 2, "source": (images(), classes()),
                                         **{k: (value if v is ... else v) for k, v in changes.items()}})


ROWS = [
    Row("ImageDataset", "images", "not a 4-d float tensor", image_dataset(images=...),
        st.sampled_from([torch.zeros(2, 4, 4), torch.zeros(2, 1, 4, 4, dtype=torch.uint8), [[0.0]], None])),
    Row("ImageDataset", "labels", "dtype", image_dataset(labels=...),
        st.sampled_from([torch.float32, torch.bool, torch.float64]).map(lambda d: torch.zeros(2, dtype=d))),
    Row("ImageDataset", "labels", "outside the classes", image_dataset(labels=...),
        st.lists(st.one_of(NEGATIVE_INT64, st.integers(2, 99)), min_size=2, max_size=2).map(torch.tensor)),
    Row("ImageDataset", "classes", "not names", image_dataset(classes=...),
        st.sampled_from([[], "ab", [1, 2], None, 3])),
    Row("ImageDataset", "std", "not > 0", image_dataset(mean=0.5, std=...),
        st.one_of(st.floats(max_value=0), NAN_INF, st.text(max_size=2))),
    Row("ImageDataset", "mean", "nan/inf", image_dataset(mean=..., std=1.0), NAN_INF),
    Row("ImageDataset", "std", "without mean", image_dataset(std=...), st.floats(0.1, 2)),
    Row("ImageDataset", "random_shift", "negative or not an int", image_dataset(random_shift=...),
        st.one_of(NEGATIVE, NOT_AN_INT.filter(lambda v: v is not None))),
    Row("ImageDataset", "generator", "not a generator", image_dataset(generator=...),
        st.one_of(st.integers(), st.text(min_size=1, max_size=2))),
    Row("MNIST", "split", "unknown name", lambda v: MNIST(v, download=False), SPLITS),
    Row("Digits", "split", "unknown name", lambda v: Digits(v), SPLITS),
    Row("FashionMNIST", "split", "unknown name", lambda v: FashionMNIST(v, download=False), SPLITS),
    Row("DigitCanvases", "split", "unknown name", canvases(split=...), SPLITS),
    Row("DigitCanvases", "size", "count", canvases(size=...), st.one_of(NON_POSITIVE, NOT_AN_INT.filter(
        lambda v: v is not None))),
    Row("DigitCanvases", "canvas_size", "too small", canvases(canvas_size=...), st.one_of(st.integers(max_value=27),
        NOT_AN_INT)),
    Row("DigitCanvases", "digits", "range", canvases(digits=...), st.sampled_from([(3, 1), (0, 2), (1,), "12"])),
    Row("DigitCanvases", "max_overlap", "not a share", canvases(max_overlap=...),
        st.one_of(st.floats(max_value=-0.01), st.floats(min_value=1.01), st.just(math.nan))),
    Row("DigitCanvases", "images", "shape", canvases(images=...),
        st.sampled_from([np.zeros((10, 28), np.uint8), np.zeros((10, 27, 28), np.uint8)])),
    Row("DigitStrings", "split", "unknown name", strings(split=...), SPLITS),
    Row("DigitStrings", "count", "count", strings(count=...), st.one_of(NON_POSITIVE, NOT_AN_INT)),
    Row("DigitStrings", "height", "count", strings(height=...), st.one_of(NON_POSITIVE, NOT_AN_INT)),
    Row("DigitStrings", "scale", "range", strings(scale=...),
        st.sampled_from([(math.nan, 1.0), (1.0, math.inf), (1.1, 0.8), (1.0,), "ab"])),
    Row("DigitStrings", "digits", "range", strings(digits=...), st.sampled_from([(0, 0), (3, 1), (1.0, 2.0)])),
    Row("DigitStrings", "source", "shape", strings(source=...),
        st.sampled_from([(images()[:, 0], classes()), (images(), classes(3))])),
    Row("KeywordClips", "split", "unknown name", lambda v: KeywordClips(v, size=2), SPLITS),
    Row("KeywordClips", "size", "count", lambda v: KeywordClips(size=v), st.one_of(NON_POSITIVE, NOT_AN_INT.filter(
        lambda v: v is not None))),
    Row("KeywordClips", "keyword", "not a word", lambda v: KeywordClips(size=2, keyword=v),
        st.sampled_from(["", "  ", None, 3])),
    Row("KeywordClips", "clip_seconds", "not > 0", lambda v: KeywordClips(size=2, clip_seconds=v),
        st.one_of(st.floats(max_value=0), NAN_INF, st.text(max_size=2))),
    Row("KeywordClips", "positive_fraction", "not a share", lambda v: KeywordClips(size=2, positive_fraction=v),
        st.one_of(st.floats(max_value=-0.01), st.floats(min_value=1.01), st.just(math.nan))),
    Row("KeywordClips", "speed_perturbation", "not in [0, 1)", lambda v: KeywordClips(size=2, speed_perturbation=v),
        st.one_of(st.floats(max_value=-0.01), st.floats(min_value=1.0), st.just(math.nan))),
    Row("KeywordClips", "seed", "negative or not an int", lambda v: KeywordClips(size=2, seed=v),
        st.one_of(NEGATIVE, NOT_AN_INT)),
    Row("TextStream", "sources", "none", lambda v: TextStream(v), st.sampled_from([[], ()])),
    Row("TextStream", "sources", "neither a corpus nor a path", lambda v: TextStream(v),   # once a bare error
        st.sampled_from(["banana", "Shakespeare", "sotu ", "missing/dir/", ["ptb", "nowhere.txt"]])),
    Row("TextStream", "sources", "not a name or path", lambda v: TextStream(v),
        st.sampled_from([5, [None], b"ptb", [["ptb"]]])),
    Row("TextStream", "max_sentence_length", "count", lambda v: TextStream("shakespeare", max_sentence_length=v,
                                                                              download=False),
        st.one_of(NON_POSITIVE, NOT_AN_INT)),
    Row("G2PCollate", "bos_index", "negative or not an int", lambda v: G2PCollate(v, 3),
        st.one_of(NEGATIVE, NOT_AN_INT)),
    Row("G2PCollate", "eos_index", "negative or not an int", lambda v: G2PCollate(2, v),
        st.one_of(NEGATIVE, NOT_AN_INT)),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_argument_is_a_clear_error(row):
    run_rows(ROWS, CI_EXAMPLES)(row)


@pytest.mark.fuzz
@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_argument_is_a_clear_error_fuzzed(row):
    run_rows(ROWS, FUZZ_EXAMPLES)(row)
