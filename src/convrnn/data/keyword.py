"""Keyword spotting clips for the seeds' "welcome detector": noisy clips of synthesized words,
half of them containing the keyword at a random place.

Each clip is ``clip_seconds`` long and holds a few filler words and, for positives, the
keyword, all spoken by one voice and laid out without overlap at random offsets, plus white
noise at a random signal-to-noise ratio. The three splits use disjoint voices (different
accents and timbres), so test accuracy measures generalisation to unheard speakers. Clips are
planned once (which words, where, how loud) and rendered on demand, so memory stays small.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrnn.data.speech import SAMPLE_RATE, Voice, WordBank
from convrnn.functional._checks import check_choice, check_int, check_real

KEYWORD = "welcome"
# Fillers include near misses ("well", "come", "become", "welfare") so that a detector must
# hear the whole word, not one syllable of it.
FILLERS = ("well", "come", "become", "income", "welfare", "hello", "weekend", "window",
           "yellow", "common", "comfort", "table", "morning", "music", "garden", "water",
           "number", "people", "money", "seven")


def _voices(accents: Sequence[str], variants: Sequence[str]) -> tuple[Voice, ...]:
    return tuple(Voice(accent, variant) for accent in accents for variant in variants)


VOICES = {
    "train": _voices(("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp"),
                     ("m1", "m2", "m3", "f1", "f2", "f3")),
    "validation": _voices(("en-gb-x-gbclan",), ("m4", "f4")),
    "test": _voices(("en-029", "en-gb-x-gbcwmd"), ("m7", "f5", "klatt")),
}
DEFAULT_SIZES = {"train": 4000, "validation": 500, "test": 1000}
_SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}


def prepare_word_banks(*, cache: str | os.PathLike[str] | None = None,
                       progress: bool = True) -> Path:
    """Synthesize the default word banks of all three splits now (what ``convrnn data fetch
    keyword`` does), so that later :class:`KeywordClips` start at once. Returns their folder."""
    banks = [WordBank([KEYWORD, *FILLERS], voices, cache=cache, progress=progress)
             for voices in VOICES.values()]
    return banks[0].directory.parent


class KeywordClips(Dataset[tuple[Tensor, Tensor]]):
    """Noisy clips labelled 1 when they contain the keyword, 0 otherwise.

    Items: ``waveform (1, T) float32`` at 22,050 Hz with ``T = round(clip_seconds · 22050)``,
    peak-normalised to 0.9; ``label () int64``. :attr:`keyword_starts` ``(N,) int64`` gives the
    keyword's first sample in each clip (−1 for negatives).

    Args:
        split: ``"train"`` (24 voices), ``"validation"`` (2), ``"test"`` (6); disjoint voices.
        size: number of clips (default 4000 / 500 / 1000).
        keyword, fillers: the words; fillers never contain the keyword.
        clip_seconds: clip length.
        positive_fraction: share of clips holding the keyword.
        fillers_per_clip: inclusive range of filler words per clip (fewer if they do not fit).
        snr_db: inclusive range of the speech-to-noise power ratio, in decibels.
        speed_perturbation: each word is played ``s`` times faster, ``s`` uniform in
            ``[1 − p, 1 + p]`` (tempo and pitch change together, as in Ko et al., 2015,
            "Audio augmentation for speech recognition"); 0 keeps the synthesized words.
        gain_db: each word's loudness is changed by a uniform amount in this range, in dB.
        seed: plans the clips; the same seed and arguments give the same clips.
        cache, progress: where the synthesized word bank is cached; progress bar while
            synthesizing it (once, ~30 s).
    """

    def __init__(self, split: str = "train", *, size: int | None = None,
                 keyword: str = KEYWORD, fillers: Sequence[str] = FILLERS,
                 clip_seconds: float = 1.5, positive_fraction: float = 0.5,
                 fillers_per_clip: tuple[int, int] = (1, 3),
                 snr_db: tuple[float, float] = (5.0, 30.0), speed_perturbation: float = 0.1,
                 gain_db: tuple[float, float] = (-6.0, 6.0), seed: int = 0,
                 cache: str | os.PathLike[str] | None = None, progress: bool = True) -> None:
        self.split = check_choice("split", split, list(VOICES), where="KeywordClips")
        if not isinstance(keyword, str) or not keyword.strip():
            raise ValueError(f"KeywordClips: argument 'keyword' expected a word, got {keyword!r}")
        check_real("clip_seconds", clip_seconds, above=0, where="KeywordClips")
        check_real("speed_perturbation", speed_perturbation, minimum=0, below=1, where="KeywordClips")
        check_real("positive_fraction", positive_fraction, minimum=0, maximum=1, where="KeywordClips")
        check_int("seed", seed, minimum=0, where="KeywordClips")
        if any(keyword in filler for filler in fillers):
            raise ValueError(f"KeywordClips: argument 'fillers' must not contain the keyword "
                             f"{keyword!r}, got {[f for f in fillers if keyword in f]}")
        if not 0.0 <= speed_perturbation < 1.0:
            raise ValueError(f"KeywordClips: argument 'speed_perturbation' expected a number in "
                             f"[0, 1), got {speed_perturbation!r}")
        if not 0.0 <= positive_fraction <= 1.0:
            raise ValueError(f"KeywordClips: argument 'positive_fraction' expected a number in "
                             f"[0, 1], got {positive_fraction!r}")
        size = DEFAULT_SIZES[self.split] if size is None else size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"KeywordClips: argument 'size' expected an int ≥ 1, got {size!r}")
        self.keyword, self.fillers = keyword, tuple(fillers)
        self.length = round(clip_seconds * SAMPLE_RATE)
        self.sample_rate = SAMPLE_RATE
        self.voices = VOICES[self.split]
        self.bank = WordBank([keyword, *self.fillers], self.voices, cache=cache,
                             progress=progress)
        self.seed = seed
        rng = np.random.default_rng([seed, _SPLIT_SEEDS[self.split]])
        self._speed, self._gain_db = speed_perturbation, gain_db
        self._plans = [self._plan(rng, positive_fraction, fillers_per_clip, snr_db)
                       for _ in range(size)]
        self.labels = torch.tensor([int(plan["label"]) for plan in self._plans])
        self.keyword_starts = torch.tensor([plan["keyword_start"] for plan in self._plans])

    def _plan(self, rng: np.random.Generator, positive_fraction: float,
              fillers_per_clip: tuple[int, int], snr_db: tuple[float, float]) -> dict:
        voice = self.voices[rng.integers(len(self.voices))]
        positive = bool(rng.random() < positive_fraction)
        count = int(rng.integers(fillers_per_clip[0], fillers_per_clip[1] + 1))
        words = [self.fillers[i] for i in rng.choice(len(self.fillers), count, replace=False)]
        if positive:
            words.append(self.keyword)
        pieces = [int(rng.choice(self.bank.select(word, [voice]))) for word in words]
        speeds = rng.uniform(1 - self._speed, 1 + self._speed, len(pieces))
        lengths = [max(1, round(self.bank.utterances[piece].length / speed))
                   for piece, speed in zip(pieces, speeds, strict=True)]
        gains = 10 ** (rng.uniform(*self._gain_db, len(pieces)) / 20)
        # Drop fillers until everything fits; the keyword of a positive clip (last) stays.
        while len(pieces) > int(positive) and sum(lengths) > self.length:
            drop = len(pieces) - 1 - int(positive)
            del pieces[drop], lengths[drop]
            gains = np.delete(gains, drop)
        if sum(lengths) > self.length:
            raise ValueError(f"KeywordClips: the keyword does not fit in {self.length} samples; "
                             "use a longer clip_seconds")
        order = rng.permutation(len(pieces))
        pieces = [pieces[i] for i in order]
        lengths = [lengths[i] for i in order]
        gains = [float(gains[i]) for i in order]
        # Spread the free samples over the gaps before, between and after the words.
        cuts = np.sort(rng.integers(0, self.length - sum(lengths) + 1, len(pieces)))
        starts = [int(cuts[k]) + sum(lengths[:k]) for k in range(len(pieces))]
        keyword_start = -1
        if positive:
            keyword_start = starts[int(np.flatnonzero(order == len(order) - 1)[0])]
        return {"label": positive, "pieces": pieces, "starts": starts, "lengths": lengths,
                "gains": gains, "keyword_start": keyword_start,
                "snr_db": float(rng.uniform(*snr_db)), "noise_seed": int(rng.integers(2**63))}

    def _word(self, piece: int, length: int, gain: float) -> np.ndarray:
        audio = self.bank.audio(piece)
        if length != len(audio):  # speed perturbation: resample by linear interpolation
            audio = np.interp(np.linspace(0, len(audio) - 1, length), np.arange(len(audio)),
                              audio)
        return (gain * audio).astype(np.float32)

    def render(self, index: int, *, keyword_start: int | None = None, fillers: bool = True) -> np.ndarray:
        """Samples ``(T,) float32`` of clip ``index``; ``keyword_start`` moves the keyword of a
        positive clip to start at that sample (other words stay; overlaps simply add);
        ``fillers=False`` leaves the filler words out (the keyword alone in the clip's noise)."""
        plan = self._plans[index]
        speech = np.zeros(self.length, np.float32)
        for piece, start, length, gain in zip(plan["pieces"], plan["starts"], plan["lengths"],
                                              plan["gains"], strict=True):
            is_keyword = self.bank.utterances[piece].word == self.keyword
            if not fillers and not is_keyword:
                continue
            if keyword_start is not None and is_keyword:
                if not 0 <= keyword_start <= self.length - length:
                    raise ValueError(f"render: argument 'keyword_start' expected 0–"
                                     f"{self.length - length}, got {keyword_start}")
                start = keyword_start
            speech[start:start + length] += self._word(piece, length, gain)
        power = float(np.mean(speech**2)) or 1e-12
        noise_rms = np.sqrt(power / 10 ** (plan["snr_db"] / 10))
        noise = np.random.default_rng(plan["noise_seed"]).standard_normal(self.length)
        clip = speech + (noise_rms * noise).astype(np.float32)
        return (0.9 * clip / max(float(np.abs(clip).max()), 1e-12)).astype(np.float32)

    def keyword_length(self, index: int) -> int:
        """Samples the keyword spans in clip ``index`` (0 for a clip without it)."""
        plan = self._plans[index]
        for piece, length in zip(plan["pieces"], plan["lengths"], strict=True):
            if self.bank.utterances[piece].word == self.keyword:
                return int(length)
        return 0

    def __len__(self) -> int:
        return len(self._plans)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return torch.from_numpy(self.render(index)).unsqueeze(0), self.labels[index]

    def batch(self, indices: Sequence[int] | Tensor) -> tuple[Tensor, Tensor]:
        """Waveforms ``(B, 1, T)`` and labels ``(B,)`` of clips ``indices``."""
        indices = torch.as_tensor(indices).tolist()
        waves = np.stack([self.render(i) for i in indices])
        return torch.from_numpy(waves).unsqueeze(1), self.labels[indices]
