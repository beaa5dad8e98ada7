"""Small files the tool writes (scores, configs), written atomically: a reader never sees half a file;
and the check, before any work, that a directory or file given on the command line can be written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from convrnn.data.cache import atomic_path


def write_json(path: str | os.PathLike[str], document: dict[str, Any]) -> None:
    """Write ``document`` as indented JSON to ``path``: a temporary file beside it, then ``os.replace``."""
    with atomic_path(path) as temporary, open(temporary, "w") as handle:
        json.dump(document, handle, indent=2, allow_nan=False)
        handle.write("\n")


def check_writable(path: str | os.PathLike[str], *, kind: str, where: str, argument: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` once checked, creating and writing nothing, that it can be
    written as a ``kind`` (``"directory"`` or ``"file"``): it is not a file where a directory is wanted
    (nor a directory where a file is), no part of it above lies inside a file, and the nearest existing
    directory is writable. ``ValueError`` naming ``where`` (the command) and ``argument`` otherwise."""
    if kind not in ("directory", "file"):
        raise ValueError(f"check_writable: argument 'kind' expected 'directory' or 'file', got {kind!r}")
    path = Path(path)
    expected = f"{where}: argument '{argument}' expected a {kind} to write"
    if str(path) == "":
        raise ValueError(f"{expected}, got an empty path")
    if path.exists():
        if kind == "directory" and not path.is_dir():
            raise ValueError(f"{expected}, got '{path}', which is a file")
        if kind == "file" and path.is_dir():
            raise ValueError(f"{expected}, got '{path}', which is a directory")
    nearest = path if kind == "directory" and path.is_dir() else path.parent
    while not nearest.exists() and not nearest.is_symlink() and nearest != nearest.parent:
        nearest = nearest.parent
    if not nearest.is_dir():
        raise ValueError(f"{expected}, got '{path}', which lies inside '{nearest}', not a directory")
    if not os.access(nearest, os.W_OK | os.X_OK) or (path.is_file() and not os.access(path, os.W_OK)):
        raise ValueError(f"{expected}, got '{path}', which cannot be written here ('{nearest}' is not writable)")
    return path
