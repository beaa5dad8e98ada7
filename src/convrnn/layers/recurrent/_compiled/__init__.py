"""Builds the C++ core (``cells.cpp``) on first use and caches it; None where it cannot be built.

The build, the atomic cache (``$CONVRNN_CACHE/extensions/torch-<torch version>-<source hash>/``)
and ``CONVRNN_NO_COMPILE=1`` are those of :mod:`convrnn._extensions`, shared with the other
compiled kernels; without the core the engine runs in pure PyTorch.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType

from convrnn._extensions import cache_root as _cache_root
from convrnn._extensions import compiler_flags as _compiler_flags
from convrnn._extensions import load_extension
from convrnn._extensions import toolchain_present as _toolchain_present

SOURCE = Path(__file__).with_name("cells.cpp")


@functools.cache
def load() -> ModuleType | None:
    """The compiled module, built if needed; None (with one warning) if it cannot be had."""
    return load_extension("convrnn_cells", SOURCE, what="C++ recurrent core",
                          fallback="recurrent cells run on the pure-PyTorch engine", toolchain=_toolchain_present())


__all__ = ["SOURCE", "_cache_root", "_compiler_flags", "_toolchain_present", "load"]
