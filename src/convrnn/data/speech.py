"""Spoken words synthesized with espeak-ng (no recorded speech set is reachable from the
package registries), and a cached bank of them: every word × voice × rate × pitch.

espeak-ng is a Debian package (``sudo apt-get install espeak-ng``; ``brew install espeak-ng`` on
macOS). It is run as a program, once per utterance, writing a WAV file that is read back here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from convrnn.data.cache import cache_dir, save_array_atomic, write_bytes_atomic
from convrnn.data.rank_order import in_rank_order

SAMPLE_RATE = 22_050  # espeak-ng's output rate, the same for every voice
SILENCE = 1e-3  # amplitude below which the ends of an utterance count as silence


@dataclass(frozen=True, order=True)
class Voice:
    """An espeak-ng voice: an ``accent`` (language, e.g. ``"en-us"``, ``"en-gb-scotland"``)
    spoken with a ``variant`` (``"m3"``, ``"f2"``, ``"klatt"``, … — timbre and sex)."""

    accent: str
    variant: str

    @property
    def espeak_name(self) -> str:
        return f"{self.accent}+{self.variant}"


def espeak_executable() -> str:
    """The path of ``espeak-ng``; ``FileNotFoundError`` saying how to install it otherwise."""
    executable = shutil.which("espeak-ng")
    if executable is None:
        raise FileNotFoundError(
            "espeak-ng is not on PATH, and it is needed to synthesize spoken words; install it "
            "with `sudo apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng`"
        )
    return executable


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """``(samples (T,) float32 in [−1, 1), sample rate)`` of a 16-bit PCM WAV file; several
    channels are averaged to one."""
    try:
        with wave.open(str(path), "rb") as file:
            if file.getsampwidth() != 2:
                raise ValueError(f"{Path(path).name}: expected 16-bit PCM, got "
                                 f"{8 * file.getsampwidth()}-bit samples")
            channels, rate, frames = file.getnchannels(), file.getframerate(), file.getnframes()
            # never more than the file holds: a header promising 4 GB of frames allocates nothing
            data = file.readframes(min(frames, os.path.getsize(path) // max(2 * channels, 1)))
    except (wave.Error, EOFError, RuntimeError, struct.error, OverflowError) as error:
        raise ValueError(f"'{path}': not a valid WAV file: {error or 'truncated'}") from None
    if channels < 1 or len(data) != frames * channels * 2:
        raise ValueError(f"'{path}': a truncated WAV file (its header promises {frames} frames of {channels} 16-bit "
                         f"channel(s), {frames * channels * 2} bytes; it holds {len(data)})")
    pcm = np.frombuffer(data, dtype="<i2")
    samples = pcm.reshape(-1, channels).mean(axis=1) / 32768.0
    return samples.astype(np.float32), rate


def trim_silence(samples: np.ndarray, threshold: float = SILENCE) -> np.ndarray:
    """``samples`` without the near-silent stretches at both ends (all of it if all silent)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0]:loud[-1] + 1] if loud.size else samples[:0]


def synthesize(text: str, voice: Voice, *, rate: int = 175, pitch: int = 50,
               executable: str | None = None) -> np.ndarray:
    """Speak ``text`` with espeak-ng: samples ``(T,) float32`` at :data:`SAMPLE_RATE`, silence
    trimmed from both ends.

    ``rate`` is in words per minute (espeak-ng's ``-s``, 80–450), ``pitch`` 0–99 (``-p``).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"synthesize: argument 'text' expected a non-empty string, got {text!r}")
    command = executable or espeak_executable()
    with tempfile.TemporaryDirectory(prefix="convrnn-espeak-") as directory:
        out = Path(directory) / "utterance.wav"
        result = subprocess.run(
            [command, "-v", voice.espeak_name, "-s", str(rate), "-p", str(pitch), "-w", str(out),
             "--", text], capture_output=True, text=True, check=False)
        if result.returncode != 0 or not out.is_file():
            raise RuntimeError(f"espeak-ng failed for {text!r} with voice {voice.espeak_name}: "
                               f"{result.stderr.strip() or f'exit status {result.returncode}'}")
        samples, sample_rate = read_wav(out)
    if sample_rate != SAMPLE_RATE:
        raise RuntimeError(f"espeak-ng wrote {sample_rate} Hz audio; expected {SAMPLE_RATE} Hz")
    return trim_silence(samples)


@dataclass(frozen=True)
class Utterance:
    """Where one synthesized word sits in a :class:`WordBank`'s sample array."""

    word: str
    voice: Voice
    rate: int
    pitch: int
    start: int
    length: int


def _espeak_version(executable: str) -> str:
    return subprocess.run([executable, "--version"], capture_output=True, text=True, check=False).stdout.strip()


def _synthesized_bank(directory: Path, settings: dict, jobs: Sequence[tuple[str, Voice, int, int]], *,
                      executable: str, workers: int, progress: bool, what: str) -> tuple[np.ndarray, list[int]]:
    """``(pcm (S,) int16, lengths)`` of ``jobs`` (text, voice, rate, pitch) spoken back to back: read
    from ``directory`` if complete, else synthesized there (``settings`` recorded beside them)."""
    index_path, samples_path = directory / "index.json", directory / "pcm.npy"

    def cached_or_synthesized() -> tuple[np.ndarray, list[int]]:
        if index_path.is_file() and samples_path.is_file():
            return np.load(samples_path, allow_pickle=False), json.loads(index_path.read_text())["lengths"]

        def speak(job: tuple[str, Voice, int, int]) -> np.ndarray:
            text, voice, rate, pitch = job
            return synthesize(text, voice, rate=rate, pitch=pitch, executable=executable)

        # Each job is a separate espeak-ng process, so threads overlap them well.
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            clips = list(tqdm(pool.map(speak, jobs), total=len(jobs), disable=not progress,
                              desc=f"synthesizing {what}", unit=f" {what}", leave=False))
        lengths = [len(clip) for clip in clips]
        samples = np.concatenate(clips) if clips else np.zeros(0, np.float32)
        pcm = np.rint(samples * 32768).astype(np.int16)  # exact: they were int16
        save_array_atomic(samples_path, pcm)
        # The index is written last: its presence marks a complete bank.
        write_bytes_atomic(index_path, json.dumps({**settings, "lengths": lengths}).encode())
        return pcm, lengths

    # under torch.distributed rank 0 synthesizes while the other processes wait for the cache
    return in_rank_order(cached_or_synthesized, f"the synthesized {what} bank")


def _starts(lengths: Sequence[int]) -> list[int]:
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int).tolist() if len(lengths) else []


class WordBank:
    """Every ``word`` spoken by every ``voice`` at every ``rate`` × ``pitch``, synthesized once
    and cached under ``<cache>/speech/<key>/`` (``key`` hashes the settings and the espeak-ng
    version, so changing either synthesizes afresh).

    ``pcm`` is one ``(S,) int16`` array holding all utterances back to back (espeak-ng's own
    16-bit samples, so nothing is lost); ``utterances[k]`` says where the ``k``-th lies, and
    :meth:`audio` cuts it out as float32.
    """

    def __init__(self, words: Sequence[str], voices: Sequence[Voice], *,
                 rates: Sequence[int] = (140, 175, 210), pitches: Sequence[int] = (35, 65),
                 cache: str | os.PathLike[str] | None = None, workers: int = 2,
                 progress: bool = True) -> None:
        executable = espeak_executable()
        settings = {"words": list(words), "voices": [v.espeak_name for v in voices],
                    "rates": list(rates), "pitches": list(pitches), "espeak": _espeak_version(executable)}
        key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        directory = (Path(cache) if cache is not None else cache_dir()) / "speech" / key
        jobs = [(word, voice, rate, pitch) for voice in voices for word in words
                for rate in rates for pitch in pitches]
        self.pcm, lengths = _synthesized_bank(directory, settings, jobs, executable=executable, workers=workers,
                                              progress=progress, what="words")
        self.utterances = [Utterance(word, voice, rate, pitch, start, int(length))
                           for (word, voice, rate, pitch), start, length
                           in zip(jobs, _starts(lengths), lengths, strict=True)]
        self.directory = directory
        self._by_word_and_voice: dict[tuple[str, Voice], list[int]] = {}
        for k, utterance in enumerate(self.utterances):
            self._by_word_and_voice.setdefault((utterance.word, utterance.voice), []).append(k)

    def audio(self, index: int) -> np.ndarray:
        """The samples ``(T,) float32`` of utterance ``index``."""
        utterance = self.utterances[index]
        pcm = self.pcm[utterance.start:utterance.start + utterance.length]
        return pcm.astype(np.float32) / 32768.0

    def select(self, word: str, voices: Sequence[Voice] | None = None) -> list[int]:
        """Indices of the utterances of ``word`` (by ``voices`` if given)."""
        if voices is None:
            return [k for k, u in enumerate(self.utterances) if u.word == word]
        return [k for voice in voices for k in self._by_word_and_voice.get((word, voice), [])]

    def __len__(self) -> int:
        return len(self.utterances)


class PhraseBank:
    """Texts each spoken once with its own voice, rate and pitch — ``jobs[k] = (text, voice, rate,
    pitch)`` — synthesized once and cached like a :class:`WordBank` (the key hashes the jobs and the
    espeak-ng version). Whole phrases keep what words spliced together lack: coarticulation at the
    word boundaries and the phrase's own rhythm and intonation.

    ``pcm (S,) int16`` holds the utterances back to back; ``utterances[k]`` (its ``word`` is the
    text) says where job ``k``'s lies; :meth:`audio` cuts it out as float32.
    """

    def __init__(self, jobs: Sequence[tuple[str, Voice, int, int]], *, cache: str | os.PathLike[str] | None = None,
                 workers: int = 2, progress: bool = True) -> None:
        jobs = [(str(text), voice, int(rate), int(pitch)) for text, voice, rate, pitch in jobs]
        executable = espeak_executable()
        settings = {"jobs": [[text, voice.espeak_name, rate, pitch] for text, voice, rate, pitch in jobs],
                    "espeak": _espeak_version(executable)}
        key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        directory = (Path(cache) if cache is not None else cache_dir()) / "speech" / f"phrases-{key}"
        self.pcm, lengths = _synthesized_bank(directory, settings, jobs, executable=executable, workers=workers,
                                              progress=progress, what="phrases")
        self.utterances = [Utterance(text, voice, rate, pitch, start, int(length))
                           for (text, voice, rate, pitch), start, length
                           in zip(jobs, _starts(lengths), lengths, strict=True)]
        self.directory = directory

    def audio(self, index: int) -> np.ndarray:
        """The samples ``(T,) float32`` of utterance ``index``."""
        utterance = self.utterances[index]
        return self.pcm[utterance.start:utterance.start + utterance.length].astype(np.float32) / 32768.0

    def __len__(self) -> int:
        return len(self.utterances)
