"""Builds the C++ core on first use and caches it; None where it cannot be built.

Sources (one idea per file, compiled into one module): ``operators.cpp`` (the loops as
dispatcher operators ``torch.ops.convrnn.*``, see ``../core_ops.py``), ``cells.cpp`` (LSTM, GRU with reset before,
MGU, Elman, the linear scan), ``gru_after.cpp`` (torch.nn.GRU's cell), ``layer_norm_lstm.cpp``,
``layer_norm_cells.cpp`` (GRU, MGU, Elman, seed 001's gated unit), ``jordan.cpp``, ``parallel_cells.cpp`` (the
parallel-in-time layers), and ``module.cpp`` binding them; ``common.h`` holds their shared
helpers, ``panel_product.h`` the per-step product's own kernel, ``units.h`` the one-unit
equations the plain and layer-normalised cells share, and ``core.h`` their declarations. The build, the
atomic cache (``$CONVRNN_CACHE/extensions/torch-<torch version>-<source hash>/``) and
``CONVRNN_NO_COMPILE=1`` are those of :mod:`convrnn._extensions`, shared with the other compiled
kernels; without the core the engine runs in pure PyTorch.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType

from convrnn._extensions import cache_root as _cache_root
from convrnn._extensions import compiler_flags as _compiler_flags
from convrnn._extensions import load_extension
from convrnn._extensions import toolchain_present as _toolchain_present

HERE = Path(__file__).parent
SOURCES = [HERE / name for name in ("module.cpp", "operators.cpp", "cells.cpp", "gru_after.cpp", "layer_norm_lstm.cpp",
                                       "layer_norm_cells.cpp", "jordan.cpp", "parallel_cells.cpp")]
HEADERS = [HERE / "common.h", HERE / "core.h", HERE / "units.h", HERE / "panel_product.h", HERE / "pointwise_math.h"]


@functools.cache
def load() -> ModuleType | None:
    """The compiled module, built if needed; None (with one warning) if it cannot be had."""
    module = load_extension("convrnn_cells", SOURCES, headers=HEADERS, what="C++ recurrent core",
                            fallback="recurrent cells run on the pure-PyTorch engine", toolchain=_toolchain_present())
    if module is not None:
        from convrnn.layers.recurrent import core_ops

        core_ops.register()   # the operators torch.ops.convrnn.* that the library defines
    return module


__all__ = ["HEADERS", "SOURCES", "_cache_root", "_compiler_flags", "_toolchain_present", "load"]
