"""Tokenised sentences streamed from the catalog's corpora or from any text file or directory,
for word embeddings: each pass re-reads the files, one line at a time, so memory does not grow
with the corpus.

A sentence is one non-empty line (a paragraph in the State of the Union speeches, a verse in
Shakespeare, a sentence in the Penn Treebank), cut into pieces of at most ``max_sentence_length``
tokens. A token is a maximal run of letters (Unicode ``[^\\W\\d_]+``), lower-cased if
``lowercase``: digits, punctuation and the Treebank's ``<unk>`` and ``N`` placeholders
separate words and are dropped, as gensim's ``simple_preprocess`` does.

    stream = TextStream(["sotu", "shakespeare", "ptb"])     # or TextStream("my_corpus/")
    for sentence in stream: ...                               # ["fellow", "citizens", "of", …]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from convrnn.data.corpora import SHAKESPEARE_EDITIONS, penn_treebank
from convrnn.data.fetch import ensure_fetched

CORPORA = ("sotu", "shakespeare", "ptb")
"""Catalog corpora by name: State of the Union speeches (2.0 M words), Shakespeare's works in
modern spelling (0.9 M), the Penn Treebank training text (0.9 M, numbers and rare words removed)."""

_LETTERS = re.compile(r"[^\W\d_]+")
_PLACEHOLDERS = re.compile(r"<unk>|\bN\b")  # the Treebank's rare-word and number tokens
Source = str | os.PathLike[str]


def tokenize_words(text: str, *, lowercase: bool = True) -> list[str]:
    """The maximal runs of letters of ``text``, lower-cased if ``lowercase``."""
    return _LETTERS.findall(text.lower() if lowercase else text)


class TextStream:
    """A re-iterable stream of tokenised sentences (``list[str]``) from ``sources``: catalog names
    in :data:`CORPORA` and/or paths — a text file, or a directory whose ``*.txt`` files are read
    in sorted order (recursively). Files are read as UTF-8 (undecodable bytes replaced).

    ``cache``: the data cache (default ``~/.cache/convrnn``); ``download``: fetch a catalog corpus
    that is not cached yet (from its pinned registry archive). A source that is neither a corpus name nor an
    existing path is a ``ValueError`` naming it (a ``TypeError`` if it is not a string or path).
    """

    def __init__(self, sources: Source | Sequence[Source], *, lowercase: bool = True,
                 max_sentence_length: int = 10_000, cache: str | os.PathLike[str] | None = None,
                 download: bool = True) -> None:
        if isinstance(sources, str | os.PathLike):
            sources = [sources]
        if isinstance(sources, bytes) or not isinstance(sources, Iterable):
            raise TypeError(f"TextStream: argument 'sources' expected a corpus name, a path or a list of them, got "
                            f"a {type(sources).__name__}: {sources!r}")
        sources = list(sources)
        if not sources:
            raise ValueError("TextStream: argument 'sources' expected at least one corpus name or path, got none")
        if isinstance(max_sentence_length, bool) or not isinstance(max_sentence_length, int) or max_sentence_length < 1:
            raise ValueError(f"TextStream: argument 'max_sentence_length' expected an int ≥ 1, "
                             f"got {max_sentence_length!r}")
        for source in sources:
            if not isinstance(source, str | os.PathLike) or isinstance(source, bytes):
                raise TypeError(f"TextStream: argument 'sources' expected corpus names {list(CORPORA)} or paths, got "
                                f"a {type(source).__name__}: {source!r}")
            if not (isinstance(source, str) and source in CORPORA) and not Path(source).exists():
                raise ValueError(f"TextStream: argument 'sources' expected corpus names {list(CORPORA)} or existing "
                                 f"files or directories, got {str(source)!r}, which is neither")
        self.sources = sources
        self.lowercase = lowercase
        self.max_sentence_length = max_sentence_length
        self.cache, self.download = cache, download

    def __repr__(self) -> str:
        return f"TextStream({[str(s) for s in self.sources]}, lowercase={self.lowercase})"

    def __iter__(self) -> Iterator[list[str]]:
        for source in self.sources:
            for line in self._lines(source):
                tokens = tokenize_words(line, lowercase=self.lowercase)
                for start in range(0, len(tokens), self.max_sentence_length):
                    yield tokens[start:start + self.max_sentence_length]

    def files(self) -> list[Path]:
        """The files a pass reads, in order (the Penn Treebank, read from its package source, is
        not a text file and is not listed)."""
        found: list[Path] = []
        for source in self.sources:
            found += self._files(source)
        return found

    def _files(self, source: Source) -> list[Path]:
        if source == "sotu":
            return sorted((ensure_fetched("sotu", cache=self.cache, download=self.download) / "speeches").glob("*.txt"))
        if source == "shakespeare":
            suffix = SHAKESPEARE_EDITIONS["modern"]
            return sorted(ensure_fetched("shakespeare", cache=self.cache, download=self.download).glob(f"*{suffix}"))
        if source == "ptb":
            return []
        path = Path(source)
        return sorted(p for p in path.rglob("*.txt") if p.is_file()) if path.is_dir() else [path]

    def _lines(self, source: Source) -> Iterator[str]:
        if source == "ptb":
            for line in penn_treebank("train", cache=self.cache, download=self.download):
                yield _PLACEHOLDERS.sub(" ", line)
            return
        for path in self._files(source):
            with open(path, encoding="utf-8", errors="replace") as handle:
                yield from handle


__all__ = ["CORPORA", "TextStream", "tokenize_words"]
