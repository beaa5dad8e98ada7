"""Spoken digit strings from a fake espeak-ng: words laid out as planned, whole strings spoken once,
held-out voices, noise at the stated SNR, determinism, batching and bad arguments."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from convrnn.data.spoken_digits import VOICES, WORDS, SpokenDigits, collate_spoken_digits, words_to_digits


@pytest.fixture(scope="module")
def spoken(tmp_path_factory, espeak_installer):
    # One fake espeak-ng (a tone per text, 441 samples a letter) and one cache for the module.
    directory = tmp_path_factory.mktemp("spoken")
    with pytest.MonkeyPatch.context() as monkeypatch:
        log = espeak_installer(directory / "bin", monkeypatch)

        def make(split="validation", **options):
            options = {"size": 12, "snr_db": None, "cache": directory, "speed_perturbation": 0.0,
                       "gain_db": (0.0, 0.0), "progress": False, **options}
            return SpokenDigits(split, **options)

        yield make, log


def segments(samples):
    """(start, length) of the sounding runs: nonzero samples, a tone's zero crossings (shorter quiet
    stretches than 100 samples) bridged."""
    loud = np.concatenate([[0], (np.abs(samples) > 1e-3).astype(int), [0]])
    edges = np.flatnonzero(np.diff(loud))
    runs = [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2], strict=True)]
    merged = [runs[0]]
    for a, b in runs[1:]:
        if a - merged[-1][1] < 100:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [(a, b - a) for a, b in merged]


def test_composed_utterances_are_their_words_with_the_planned_gaps(spoken):
    make, _ = spoken
    data = make("validation", whole_fraction=0.0, gap=(0.1, 0.1), silence=(0.05, 0.05))  # 4 voices: a small bank
    for index in range(len(data)):
        samples = data.render(index)
        assert len(samples) == data.lengths[index] and data[index][0].shape == (1, len(samples))
        found = segments(samples)
        words = data.transcript(index)
        assert words == [WORDS[k] for k in data[index][1]]
        assert len(found) == len(words)
        assert found[0][0] == pytest.approx(1102, abs=3)          # 50 ms of silence first
        for (_, length), word in zip(found, words, strict=True):
            assert length == pytest.approx(441 * len(word), abs=30)   # the fake speaks 441 samples a letter
        for (a, n), (b, _) in itertools.pairwise(found):
            assert b - (a + n) == pytest.approx(2205, abs=60)      # 100 ms gaps
        assert np.abs(samples).max() == pytest.approx(0.9)


def test_whole_utterances_are_the_strings_spoken_once_by_the_splits_voices(spoken):
    make, log = spoken
    before = len(log.read_text().splitlines())
    data = make("test", size=10, seed=5)
    calls = [line.split() for line in log.read_text().splitlines()[before:]]
    assert len(calls) == len(data)
    names = {voice.espeak_name for voice in VOICES["test"]}
    for index in range(len(data)):
        text = data.transcript(index)
        spoken_by = [c[c.index("-v") + 1] for c in calls if c[c.index("--") + 1:] == text]
        assert spoken_by and set(spoken_by) <= names
        (_, length), = segments(data.render(index))
        assert length == pytest.approx(441 * len(" ".join(text)), abs=30)


def test_same_seed_same_utterances_and_splits_use_disjoint_voices(spoken):
    make, _ = spoken
    a, b = make("validation"), make("validation")
    assert all(np.array_equal(a.render(i), b.render(i)) for i in range(len(a)))
    assert [a.transcript(i) for i in range(len(a))] != [make("validation", seed=1).transcript(i) for i in range(len(a))]
    for one, other in [("train", "validation"), ("train", "test"), ("validation", "test")]:
        assert not set(VOICES[one]) & set(VOICES[other])
        assert not {v.accent for v in VOICES[one]} & {v.accent for v in VOICES[other]}
    assert not {v.variant for v in VOICES["train"]} & {v.variant for v in VOICES["test"]}
    assert all(1 <= len(a.transcript(i)) <= 7 for i in range(len(a)))


def test_at_snr_adds_noise_at_the_stated_power_ratio(spoken):
    make, _ = spoken
    clean = make("validation", size=3)
    for snr in (20.0, 10.0, 0.0):
        noisy = clean.at_snr(snr)
        for index in range(3):
            speech, mixed = clean.render(index).astype(np.float64), noisy.render(index).astype(np.float64)
            scale = mixed @ speech / (speech @ speech)        # the noise is (nearly) orthogonal to the speech
            measured = 10 * np.log10(np.sum((scale * speech) ** 2) / np.sum((mixed - scale * speech) ** 2))
            assert measured == pytest.approx(snr, abs=0.3)
    assert np.array_equal(clean.at_snr(None).render(0), clean.render(0))
    assert np.array_equal(make("validation", size=3, snr_db=10.0).render(1), clean.at_snr(10.0).render(1))


def test_collate_pads_waveforms_and_words():
    examples = [(torch.ones(1, 5), torch.tensor([3, 1])), (torch.full((1, 2), 2.0), torch.tensor([10]))]
    batch = collate_spoken_digits(examples)
    assert batch["waveforms"].shape == (2, 1, 5) and batch["waveforms"][1, 0].tolist() == [2, 2, 0, 0, 0]
    assert batch["lengths"].tolist() == [5, 2] and batch["target_lengths"].tolist() == [2, 1]
    assert batch["targets"].tolist() == [[3, 1], [10, -1]]
    assert words_to_digits(["three", "oh", "one", "zero"]) == "3010"


@pytest.mark.parametrize(("options", "message"), [
    ({"split": "dev"}, "argument 'split'"),
    ({"size": 0}, "argument 'size' expected an int ≥ 1, got 0"),
    ({"whole_fraction": 1.5}, "argument 'whole_fraction' expected a number in \\[0, 1\\], got 1.5"),
    ({"words": (0, 3)}, "argument 'words' expected 1 ≤ low ≤ high ≤ 50, got \\(0, 3\\)"),
    ({"snr_db": "loud"}, "argument 'snr_db' expected decibels"),
    ({"speed_perturbation": 1.0}, "argument 'speed_perturbation' expected a number in \\[0, 1\\)"),
])
def test_bad_arguments_name_themselves(spoken, options, message):
    make, _ = spoken
    with pytest.raises(ValueError, match=f"SpokenDigits: {message}"):
        make(**options)
