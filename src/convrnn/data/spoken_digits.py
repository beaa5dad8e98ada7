"""Spoken digit strings ("three nine oh one") synthesized with espeak-ng, for speech recognition.

Every utterance is one to seven words of :data:`WORDS` ("zero" … "nine" and "oh") spoken by one
voice, in one of two ways:

- *whole*: espeak-ng speaks the string at once (:class:`~convrnn.data.speech.PhraseBank`), with
  the coarticulation, rhythm and list intonation of a phrase — the natural form, and the only one
  the validation and test splits use;
- *composed*: single words from a :class:`~convrnn.data.speech.WordBank` (each at its own rate and
  pitch) laid end to end with random gaps, overlaps allowed (a negative gap) — cheap variety for
  training: one synthesized bank yields endless strings.

Each utterance is then played ``s`` times faster (``s`` uniform in ``[1 − p, 1 + p]``, tempo and
pitch together), framed by random silence, mixed with white noise at a stated speech-to-noise
power ratio (or left clean) and peak-normalised to 0.9. The three splits use disjoint voices
(accents and timbres), so test scores measure recognition of speakers never heard in training.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrnn.data.speech import SAMPLE_RATE, PhraseBank, Voice, WordBank
from convrnn.functional._checks import check_choice

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh")
DIGITS = "01234567890"   # what each word of WORDS writes ("oh" is 0)


def _voices(accents: Sequence[str], variants: Sequence[str]) -> tuple[Voice, ...]:
    return tuple(Voice(accent, variant) for accent in accents for variant in variants)


# Disjoint accents and timbres per split: the test voices' accents (Caribbean, West Midlands) and
# variants (m7, f5, klatt) never occur in training.
VOICES = {
    "train": _voices(("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp"),
                     ("m1", "m2", "m3", "m5", "m6", "f1", "f2", "f3", "klatt3", "Andy")),
    "validation": _voices(("en-gb-x-gbclan", "en-us-nyc"), ("m4", "f4")),
    "test": _voices(("en-029", "en-gb-x-gbcwmd"), ("m7", "f5", "klatt")),
}
WORD_RATES = (130, 175, 220)     # espeak-ng words per minute of the single-word bank
WORD_PITCHES = (35, 65)
PHRASE_RATES = (120, 230)        # inclusive ranges drawn from for each whole phrase
PHRASE_PITCHES = (20, 80)
DEFAULT_SIZES = {"train": 12_000, "validation": 300, "test": 1_000}
_SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}


def _range(name: str, value: Any, low: float, high: float) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"SpokenDigits: argument '{name}' expected a pair (low, high), got {value!r}") from None
    if not low <= a <= b <= high:
        raise ValueError(f"SpokenDigits: argument '{name}' expected {low} ≤ low ≤ high ≤ {high}, got {value!r}")
    return a, b


def words_to_digits(words: Sequence[str]) -> str:
    """The digits a word string writes: ``["three", "oh", "one"]`` → ``"301"``."""
    return "".join(DIGITS[WORDS.index(word)] for word in words)


class SpokenDigits(Dataset[tuple[Tensor, Tensor]]):
    """Noisy utterances of digit strings and their words.

    Items: ``waveform (1, T) float32`` at 22,050 Hz (T varies), peak 0.9; ``words (L,) int64``,
    indices into :data:`WORDS` (1 ≤ L ≤ 7). :attr:`lengths` ``(N,)`` gives every T without rendering.

    Args:
        split: ``"train"`` (40 voices), ``"validation"`` (4), ``"test"`` (6); disjoint voices.
        size: number of utterances (default 12,000 / 300 / 1,000).
        whole_fraction: share of utterances espeak-ng speaks whole (the rest are composed from single
            words); validation and test default to 1.
        words: inclusive range of the number of words per utterance.
        gap: inclusive range, in seconds, of the gap between composed words (negative: overlap).
        silence: inclusive range, in seconds, of the silence before and after the speech.
        snr_db: speech-to-noise power ratio in decibels: a range ``(low, high)`` drawn from per
            utterance, one number for all, or None for clean speech.
        speed_perturbation: ``p`` above (0 keeps espeak-ng's speed).
        gain_db: range of each composed word's loudness change, in dB.
        seed: plans the utterances; the same seed and arguments give the same utterances.
        cache, progress: where the synthesized speech is cached; progress bars while synthesizing
            (once: about 0.1 s per utterance or word on one core, two cores used).
    """

    def __init__(self, split: str = "train", *, size: int | None = None, whole_fraction: float | None = None,
                 words: tuple[int, int] = (1, 7), gap: tuple[float, float] = (-0.04, 0.25),
                 silence: tuple[float, float] = (0.05, 0.3), snr_db: tuple[float, float] | float | None = (0.0, 40.0),
                 speed_perturbation: float = 0.1, gain_db: tuple[float, float] = (-4.0, 4.0), seed: int = 0,
                 cache: str | os.PathLike[str] | None = None, progress: bool = True) -> None:
        self.split = check_choice("split", split, list(VOICES), where="SpokenDigits")
        size = DEFAULT_SIZES[self.split] if size is None else size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"SpokenDigits: argument 'size' expected an int ≥ 1, got {size!r}")
        whole_fraction = (0.5 if self.split == "train" else 1.0) if whole_fraction is None else whole_fraction
        if isinstance(whole_fraction, bool) or not isinstance(whole_fraction, int | float) \
                or not 0.0 <= whole_fraction <= 1.0:
            raise ValueError(f"SpokenDigits: argument 'whole_fraction' expected a number in [0, 1], "
                             f"got {whole_fraction!r}")
        low, high = _range("words", words, 1, 50)
        if low != int(low) or high != int(high):
            raise ValueError(f"SpokenDigits: argument 'words' expected a pair of ints, got {words!r}")
        self._gap, self._silence = _range("gap", gap, -0.2, 5.0), _range("silence", silence, 0.0, 5.0)
        self._gain_db = _range("gain_db", gain_db, -40.0, 40.0)
        if isinstance(speed_perturbation, bool) or not isinstance(speed_perturbation, int | float) \
                or not 0.0 <= speed_perturbation < 1.0:
            raise ValueError(f"SpokenDigits: argument 'speed_perturbation' expected a number in [0, 1), "
                             f"got {speed_perturbation!r}")
        snr = _check_snr(snr_db, "SpokenDigits")
        self.sample_rate = SAMPLE_RATE
        self.voices = VOICES[self.split]
        self.seed = seed
        rng = np.random.default_rng([seed, _SPLIT_SEEDS[self.split]])
        counts = rng.integers(int(low), int(high) + 1, size)
        self.words = [rng.integers(0, len(WORDS), int(n)) for n in counts]
        voice_of = rng.integers(len(self.voices), size=size)
        whole = rng.random(size) < whole_fraction
        phrases = [(" ".join(WORDS[w] for w in self.words[i]), self.voices[voice_of[i]],
                    int(rng.integers(PHRASE_RATES[0], PHRASE_RATES[1] + 1)),
                    int(rng.integers(PHRASE_PITCHES[0], PHRASE_PITCHES[1] + 1)))
                   for i in np.flatnonzero(whole)]
        self.phrases = PhraseBank(phrases, cache=cache, progress=progress) if phrases else None
        self.bank = (WordBank(WORDS, self.voices, rates=WORD_RATES, pitches=WORD_PITCHES, cache=cache,
                              progress=progress) if not whole.all() else None)
        phrase_index = iter(range(len(phrases)))
        self._plans = [self._plan(rng, int(voice_of[i]), i, next(phrase_index) if whole[i] else None,
                                  speed_perturbation, snr) for i in range(size)]
        self.lengths = torch.tensor([plan["length"] for plan in self._plans])

    def _plan(self, rng: np.random.Generator, voice: int, index: int, phrase: int | None, speed: float,
              snr: tuple[float, float] | None) -> dict[str, Any]:
        rate = SAMPLE_RATE
        if phrase is not None:
            assert self.phrases is not None
            pieces: list[tuple[str, int]] = [("phrase", phrase)]
            sizes = [self.phrases.utterances[phrase].length]
            gaps: list[int] = []
            gains = [1.0]
        else:
            assert self.bank is not None
            chosen = [int(rng.choice(self.bank.select(WORDS[w], [self.voices[voice]]))) for w in self.words[index]]
            pieces = [("word", k) for k in chosen]
            sizes = [self.bank.utterances[k].length for k in chosen]
            gaps = [round(rate * g) for g in rng.uniform(*self._gap, len(chosen) - 1)]
            gains = (10 ** (rng.uniform(*self._gain_db, len(chosen)) / 20)).tolist()
        factor = float(rng.uniform(1 - speed, 1 + speed))
        sizes = [max(1, round(n / factor)) for n in sizes]
        gaps = [max(g, -(min(a, b) // 2)) for g, a, b in zip(gaps, sizes[:-1], sizes[1:], strict=True)]
        lead, trail = (round(rate * s) for s in rng.uniform(*self._silence, 2))
        starts = [lead]
        for size, g in zip(sizes[:-1], gaps, strict=True):
            starts.append(starts[-1] + size + g)
        length = max(s + n for s, n in zip(starts, sizes, strict=True)) + trail
        drawn = float(rng.uniform(*(snr or (0.0, 0.0))))   # drawn even when clean: the same plans either way
        return {"pieces": pieces, "starts": starts, "sizes": sizes, "gains": gains, "length": length,
                "snr_db": None if snr is None else drawn, "noise_seed": int(rng.integers(2**63))}

    def _piece(self, kind: str, index: int, size: int, gain: float) -> np.ndarray:
        bank = self.phrases if kind == "phrase" else self.bank
        assert bank is not None
        audio = bank.audio(index)
        if size != len(audio):  # speed perturbation: resample by linear interpolation
            audio = np.interp(np.linspace(0, len(audio) - 1, size), np.arange(len(audio)), audio)
        return (gain * audio).astype(np.float32)

    def render(self, index: int) -> np.ndarray:
        """Samples ``(T,) float32`` of utterance ``index``."""
        plan = self._plans[index]
        speech = np.zeros(plan["length"], np.float32)
        for (kind, piece), start, size, gain in zip(plan["pieces"], plan["starts"], plan["sizes"], plan["gains"],
                                                    strict=True):
            speech[start:start + size] += self._piece(kind, piece, size, gain)
        clip = speech
        if plan["snr_db"] is not None:
            power = float(np.mean(speech**2)) or 1e-12
            noise_rms = np.sqrt(power / 10 ** (plan["snr_db"] / 10))
            noise = np.random.default_rng(plan["noise_seed"]).standard_normal(len(speech))
            clip = speech + (noise_rms * noise).astype(np.float32)
        return (0.9 * clip / max(float(np.abs(clip).max()), 1e-12)).astype(np.float32)

    def at_snr(self, snr_db: float | None) -> SpokenDigits:
        """The same utterances (same speech, same noise samples) with the noise scaled to ``snr_db``
        decibels below the speech, or none (``None``): a test at a stated SNR."""
        snr = _check_snr(snr_db, "at_snr")
        other = copy.copy(self)
        other._plans = [{**plan, "snr_db": None if snr is None else snr[0]} for plan in self._plans]
        return other

    def transcript(self, index: int) -> list[str]:
        """The words of utterance ``index``."""
        return [WORDS[w] for w in self.words[index]]

    def __len__(self) -> int:
        return len(self._plans)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return torch.from_numpy(self.render(index)).unsqueeze(0), torch.as_tensor(self.words[index], dtype=torch.long)


def _check_snr(snr_db: Any, where: str) -> tuple[float, float] | None:
    if snr_db is None:
        return None
    if isinstance(snr_db, int | float) and not isinstance(snr_db, bool):
        if not -30.0 <= snr_db <= 100.0:
            raise ValueError(f"{where}: argument 'snr_db' expected decibels in [-30, 100], got {snr_db!r}")
        return float(snr_db), float(snr_db)
    try:
        return _range("snr_db", snr_db, -30.0, 100.0)
    except ValueError:
        raise ValueError(f"{where}: argument 'snr_db' expected decibels (a number, a pair (low, high) or None), "
                         f"got {snr_db!r}") from None


def collate_spoken_digits(examples: Sequence[tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
    """Pad a list of ``(waveform (1, T_n), words (L_n,))`` into a batch: ``waveforms (B, 1, T)``
    zero-padded on the right, ``lengths (B,)`` = T_n, ``targets (B, S)`` padded with −1,
    ``target_lengths (B,)`` = L_n."""
    if not examples:
        raise ValueError("collate_spoken_digits: argument 'examples' expected at least one example, got none")
    lengths = torch.tensor([w.shape[-1] for w, _ in examples])
    target_lengths = torch.tensor([len(t) for _, t in examples])
    waveforms = torch.zeros(len(examples), 1, int(lengths.max()))
    targets = torch.full((len(examples), max(int(target_lengths.max()), 1)), -1, dtype=torch.long)
    for n, (waveform, words) in enumerate(examples):
        waveforms[n, :, :waveform.shape[-1]] = waveform
        targets[n, :len(words)] = words
    return {"waveforms": waveforms, "lengths": lengths, "targets": targets, "target_lengths": target_lengths}


__all__ = ["DEFAULT_SIZES", "DIGITS", "VOICES", "WORDS", "SpokenDigits", "collate_spoken_digits",
           "words_to_digits"]
