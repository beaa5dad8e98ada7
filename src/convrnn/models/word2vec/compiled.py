"""The compiled word2vec training loop (``kernel.cpp``), built on first use; None without a compiler."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType

from convrnn._extensions import load_extension

SOURCE = Path(__file__).with_name("kernel.cpp")


@functools.cache
def load() -> ModuleType | None:
    """The module with ``train_chunk`` (see ``kernel.cpp``), or None (then training runs in PyTorch)."""
    return load_extension("convrnn_word2vec", SOURCE, what="C++ word2vec kernel",
                          fallback="word2vec trains with the (slower) vectorised PyTorch path")
