"""Builds a C++ extension on first use and caches it atomically; None where it cannot be built.

Building says so on stderr in one line, with the time it took (:func:`_build_saying_so`);
``convrnn build-core`` builds every extension ahead, so that a deployment never compiles at its
first request. A library is built by ``torch.utils.cpp_extension.load`` (a C++ compiler and
ninja needed) into a fresh temporary directory, then moved into
``$CONVRNN_CACHE/extensions/torch-<torch version>-<source hash>/`` (default cache root
``~/.cache/convrnn``) with one atomic rename, so a crash or a concurrent build never leaves a
half-written library where a later run would load it; a lock file in that directory makes a second
process that wants the same library wait for the first one's build and load it (one build, one copy).
Sources, flags or torch changing give a new directory. ``CONVRNN_NO_COMPILE=1`` means never build
(callers then run their pure-PyTorch path).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import torch

from convrnn.data.cache import exclusive, process_alive


def cache_root() -> Path:
    """``$CONVRNN_CACHE``, else ``$XDG_CACHE_HOME/convrnn``, else ``~/.cache/convrnn``."""
    configured = os.environ.get("CONVRNN_CACHE")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "convrnn"


def toolchain_present() -> bool:
    """Whether ninja and a C++ compiler (``$CXX`` or ``c++``) are on the path."""
    from torch.utils import cpp_extension

    try:
        cpp_extension.verify_ninja_availability()
    except RuntimeError:
        return False
    return shutil.which(os.environ.get("CXX", "c++")) is not None


def compiler_flags() -> list[str]:
    """-O3; OpenMP (threads and ``omp simd`` loops); AVX2/FMA where torch itself dispatches to them
    on this CPU (part of the cache key). No fast math (GCC's flag of that name): it lets the
    compiler assume that no value is ever infinite or NaN, and a saturated gate's exp(89) = ∞ then
    turned 1 / (1 + ∞) into NaN; it also lets it reassociate, which undoes the rounding step of
    the kernels' own exp. Of its parts only two that change no result are kept: -fno-math-errno
    (no errno from sqrt, so it vectorises) and -fno-trapping-math (no floating-point trap is ever
    enabled here). The kernels' transcendental functions are their own, vectorisable without
    fast math (``layers/recurrent/_compiled/pointwise_math.h``)."""
    flags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp"]
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        flags += ["-mavx2", "-mfma"]
    return flags


def load_extension(stem: str, source: Path | Sequence[Path], *, what: str, fallback: str,
                   toolchain: bool | None = None, headers: Sequence[Path] = ()) -> ModuleType | None:
    """The compiled module of ``source`` (one file or several compiled into one module, named
    ``<stem>_<hash>``; the hash covers the sources, the ``headers`` they include, torch's version
    and the flags), built if needed; None with one ``RuntimeWarning`` naming ``what`` failed and
    the ``fallback`` used instead (also where no compiler or ninja is found; ``CONVRNN_NO_COMPILE=1``
    returns None silently: the user chose it)."""
    if toolchain is None:
        toolchain = toolchain_present()
    sources = [source] if isinstance(source, Path) else list(source)
    if os.environ.get("CONVRNN_NO_COMPILE") == "1" or not all(s.exists() for s in sources):
        return None
    if not toolchain:
        warnings.warn(f"convrnn: no C++ compiler and ninja found, so the {what} is not built; {fallback} "
                      f"(install a compiler and ninja, then run `convrnn build-core`)", RuntimeWarning, stacklevel=3)
        return None
    flags = compiler_flags()
    contents = b"".join(path.read_bytes() for path in [*sources, *headers])
    digest = hashlib.sha256(contents + " ".join([torch.__version__, *flags]).encode()).hexdigest()[:16]
    name = f"{stem}_{digest}"
    directory = cache_root() / "extensions" / f"torch-{torch.__version__}-{digest}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        library = next(directory.glob(f"{name}*.so"), None)
        if library is None:
            with exclusive(directory / ".lock"):   # a second process waits for the first one's build, then loads it
                library = next(directory.glob(f"{name}*.so"), None)
                if library is None:
                    return _build_saying_so(name, sources, directory, flags, what)
        spec = importlib.util.spec_from_file_location(name, library)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
        return module
    except Exception as error:  # any build or load failure means: run the pure-PyTorch path
        reason = "\n".join(str(error).strip().splitlines()[-6:])  # a compiler's last lines name the error
        warnings.warn(f"convrnn: the {what} could not be built or loaded ({reason}); {fallback}",
                      RuntimeWarning, stacklevel=3)
        return None


def _build_saying_so(name: str, sources: list[Path], directory: Path, flags: list[str], what: str) -> ModuleType:
    """:func:`_build`, with one line on stderr: what is built, where it is cached, how long it took
    (a first use would otherwise wait silently for a minute)."""
    print(f"convrnn: building the {what} (once; cached in {directory}) ...", end="", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        module = _build(name, sources, directory, flags)
    except BaseException:
        print(" failed", file=sys.stderr, flush=True)
        raise
    print(f" done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return module


def _build(name: str, sources: list[Path], directory: Path, flags: list[str]) -> ModuleType:
    from torch.utils import cpp_extension

    for leftover in directory.glob("build-*-*"):   # a build killed midway left its scratch directory
        pid = leftover.name.split("-")[1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=f"build-{os.getpid()}-") as scratch:
        module = cpp_extension.load(name, [str(s) for s in sources], build_directory=scratch,
                                    extra_cflags=flags, extra_ldflags=["-fopenmp"], verbose=False)
        built = Path(module.__file__)
        os.replace(built, directory / built.name)
    return module
