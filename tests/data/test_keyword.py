"""Keyword clips built from a fake espeak-ng: labels, placement, held-out voices, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from convrnn.data.keyword import VOICES, KeywordClips

FILLERS = ("well", "come", "table")


@pytest.fixture(scope="module")
def clips(tmp_path_factory, espeak_installer):
    # One fake espeak-ng and one cache for the module: the word bank is synthesized once.
    directory = tmp_path_factory.mktemp("keyword")
    with pytest.MonkeyPatch.context() as monkeypatch:
        espeak_installer(directory / "bin", monkeypatch)

        def make(split="validation", **options):
            options = {"size": 40, "fillers": FILLERS, "snr_db": (300.0, 300.0),
                       "cache": directory, "speed_perturbation": 0.0, "gain_db": (0.0, 0.0),
                       "progress": False, **options}
            return KeywordClips(split, **options)

        yield make


def test_positive_clips_hold_the_keyword_exactly_where_reported(clips):
    dataset = clips()
    assert 0 < int(dataset.labels.sum()) < len(dataset)
    assert torch.equal(dataset.keyword_starts >= 0, dataset.labels == 1)
    keyword = dataset.bank.audio(dataset.bank.select("welcome")[0])
    for index in range(len(dataset)):
        waveform, label = dataset[index]
        assert waveform.shape == (1, dataset.length) and waveform.dtype == torch.float32
        assert float(waveform.abs().max()) == pytest.approx(0.9, abs=1e-6)
        if label:
            start = int(dataset.keyword_starts[index])
            segment = waveform[0, start:start + len(keyword)].numpy()
            # At 300 dB SNR the clip is the scaled word itself: correlation 1 with the keyword.
            assert abs(np.corrcoef(segment, keyword)[0, 1]) > 0.999


def test_words_never_overlap_and_stay_inside_the_clip_even_when_stretched(clips):
    dataset = clips(speed_perturbation=0.3, gain_db=(-6.0, 6.0))
    for plan in dataset._plans:
        for piece, length in zip(plan["pieces"], plan["lengths"], strict=True):
            original = dataset.bank.utterances[piece].length
            assert original / 1.3 - 1 <= length <= original / 0.7 + 1
        spans = sorted((start, start + length)
                       for start, length in zip(plan["starts"], plan["lengths"], strict=True))
        assert spans[0][0] >= 0 and spans[-1][1] <= dataset.length
        assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))


def test_stretched_keyword_is_the_resampled_word(clips):
    dataset = clips(speed_perturbation=0.2)
    index = int(dataset.labels.nonzero()[0])
    plan = dataset._plans[index]
    k = [dataset.bank.utterances[p].word for p in plan["pieces"]].index("welcome")
    start, length = plan["starts"][k], plan["lengths"][k]
    keyword = dataset.bank.audio(plan["pieces"][k])
    expected = np.interp(np.linspace(0, len(keyword) - 1, length), np.arange(len(keyword)),
                         keyword)
    segment = dataset.render(index)[start:start + length]
    assert start == int(dataset.keyword_starts[index])
    assert abs(np.corrcoef(segment, expected)[0, 1]) > 0.999


def test_moving_the_keyword_moves_it_in_the_rendered_clip(clips):
    dataset = clips()
    index = int(dataset.labels.nonzero()[0])
    keyword = dataset.bank.audio(dataset.bank.select("welcome")[0])
    moved = dataset.render(index, keyword_start=0)
    assert abs(np.corrcoef(moved[:len(keyword)], keyword)[0, 1]) > 0.99


def test_same_seed_same_clips_and_splits_use_disjoint_voices(clips):
    a, b = clips(seed=3), clips(seed=3)
    assert torch.equal(a.batch(range(8))[0], b.batch(range(8))[0])
    assert not torch.equal(a.labels, clips(seed=4).labels)
    assert not set(VOICES["train"]) & set(VOICES["validation"])
    assert not set(VOICES["train"]) & set(VOICES["test"])
    assert not set(VOICES["validation"]) & set(VOICES["test"])


def test_batch_shapes_and_bad_arguments(clips):
    dataset = clips(size=6)
    waves, labels = dataset.batch([0, 2, 5])
    assert waves.shape == (3, 1, dataset.length) and labels.shape == (3,)
    with pytest.raises(ValueError, match="must not contain the keyword 'welcome'"):
        clips(fillers=("welcomed", "table"))
    with pytest.raises(ValueError, match="'split' expected one of"):
        clips(split="dev")
    with pytest.raises(ValueError, match=r"'speed_perturbation' expected a finite number in \[0, 1\)"):
        clips(speed_perturbation=1.5)


def test_prepare_word_banks_synthesizes_every_split_once(tmp_path, fake_espeak, monkeypatch):
    from convrnn.data import keyword

    monkeypatch.setattr(keyword, "FILLERS", ("table",))
    monkeypatch.setattr(keyword, "VOICES", {split: voices[:1] for split, voices in VOICES.items()})
    folder = keyword.prepare_word_banks(cache=tmp_path, progress=False)
    assert folder == tmp_path / "speech" and len(list(folder.glob("*/index.json"))) == 3
    assert len(fake_espeak.read_text().splitlines()) == 3 * 2 * 6  # splits × words × settings
