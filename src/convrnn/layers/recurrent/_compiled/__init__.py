"""Builds the C++ core (``cells.cpp``) on first use and caches it; None where it cannot be built.

The library is built by ``torch.utils.cpp_extension.load`` (a C++ compiler and ninja needed)
into a fresh temporary directory, then moved into
``$CONVRNN_CACHE/extensions/<torch version>-<source hash>/`` (default cache root
``~/.cache/convrnn``) with one atomic rename, so a crash or a concurrent build never leaves a
half-written library where a later run would load it. Sources or torch changing give a new
directory. Set ``CONVRNN_NO_COMPILE=1`` to never build (the engine then runs in pure PyTorch).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

import torch

SOURCE = Path(__file__).with_name("cells.cpp")


def _cache_root() -> Path:
    configured = os.environ.get("CONVRNN_CACHE")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "convrnn"


def _toolchain_present() -> bool:
    from torch.utils import cpp_extension

    try:
        cpp_extension.verify_ninja_availability()
    except RuntimeError:
        return False
    return shutil.which(os.environ.get("CXX", "c++")) is not None


@functools.cache
def load() -> ModuleType | None:
    """The compiled module, built if needed; None (with one warning) if it cannot be had."""
    if os.environ.get("CONVRNN_NO_COMPILE") == "1" or not SOURCE.exists() or not _toolchain_present():
        return None
    flags = _compiler_flags()
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join([torch.__version__, *flags]).encode()).hexdigest()[:16]
    name = f"convrnn_cells_{digest}"
    directory = _cache_root() / "extensions" / f"torch-{torch.__version__}-{digest}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        library = next(directory.glob(f"{name}*.so"), None)
        if library is None:
            return _build(name, directory, flags)
        spec = importlib.util.spec_from_file_location(name, library)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
        return module
    except Exception as error:  # any build or load failure means: run the pure-PyTorch engine
        # A compiler's log can run to pages; its last lines name the error.
        reason = "\n".join(str(error).strip().splitlines()[-6:])
        warnings.warn(f"convrnn: the C++ recurrent core could not be built or loaded ({reason}); "
                      f"recurrent cells run on the pure-PyTorch engine", RuntimeWarning, stacklevel=2)
        return None


def _compiler_flags() -> list[str]:
    """-O3; fast math so that exp/tanh loops vectorise through glibc's vector math library (the
    pointwise code never tests for NaN or infinity); OpenMP for ``at::parallel_for``; AVX2/FMA
    where torch itself dispatches to them on this CPU (part of the cache key)."""
    flags = ["-O3", "-ffast-math", "-fopenmp"]
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        flags += ["-mavx2", "-mfma"]
    return flags


def _build(name: str, directory: Path, flags: list[str]) -> ModuleType:
    from torch.utils import cpp_extension

    with tempfile.TemporaryDirectory(dir=directory, prefix="build-") as scratch:
        module = cpp_extension.load(name, [str(SOURCE)], build_directory=scratch,
                                    extra_cflags=flags, extra_ldflags=["-fopenmp"], verbose=False)
        built = Path(module.__file__)
        os.replace(built, directory / built.name)
    return module
