"""Where fetched data lives on disk, and how files get there without ever being half-written."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CACHE_ENVIRONMENT_VARIABLE = "CONVRNN_CACHE"
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: the mode a plain open() would give a new file is 0o666 & ~umask


def cache_dir() -> Path:
    """The root of convrnn's data cache (not created here).

    ``$CONVRNN_CACHE`` when set; otherwise the platform's per-user cache directory:
    ``$XDG_CACHE_HOME/convrnn`` or ``~/.cache/convrnn`` on Linux and other Unixes,
    ``~/Library/Caches/convrnn`` on macOS, ``%LOCALAPPDATA%\\convrnn`` on Windows.
    """
    configured = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "convrnn"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "convrnn"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else home / ".cache") / "convrnn"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success flush it to disk and rename it onto ``path``
    in one step.

    The temporary file lives in the same directory so that ``os.replace`` is a rename within
    one file system, which is atomic: readers see either the old file or the whole new one.
    On an exception the temporary file is removed and ``path`` is left untouched. A process killed
    mid-write leaves its temporary (``.NAME.<pid>-XXXX.partial``, never read as ``NAME``); the next
    write of ``NAME`` removes those whose process is gone. The file gets the mode a plain ``open``
    would give it (``mkstemp``'s own 0600 would hide an export from its server).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_temporaries(target)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}-",
                                         suffix=".partial")
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        os.chmod(temporary_path, 0o666 & ~_UMASK)
        yield temporary_path
        _fsync(temporary_path)   # the data reaches the disk before the name points at it
        os.replace(temporary_path, target)
    finally:
        temporary_path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_abandoned_temporaries(target: Path) -> None:
    prefix = f".{target.name}."
    for leftover in target.parent.glob(f"{glob.escape(prefix)}*.partial"):
        pid = leftover.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            leftover.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` (on this machine) still runs; this process counts as gone (what it left
    behind is from an earlier, interrupted call). On Windows every other process counts as alive."""
    if pid == os.getpid():
        return False
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) would send Ctrl-C there; leave such leftovers alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


@contextlib.contextmanager
def exclusive(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive advisory lock on the file ``path`` (created if needed) for the block, waiting while
    another process holds it: two processes fetching or building the same thing take turns, and the second
    finds the first one's result. The kernel releases the lock when its process ends in any way (``kill -9``
    included), so a dead process never holds it; the holder removes the file when done (a killed one leaves
    it, empty and unlocked). Where ``fcntl`` is missing (Windows) nothing is locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            same = False
        if same:   # not a file that its last holder removed while we waited on it
            break
        os.close(descriptor)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)   # while still holding it: nothing is left behind, and a waiter opens a new one
        os.close(descriptor)   # closing releases the lock


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def save_array_atomic(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Save ``array`` as a ``.npy`` file atomically (never pickled: object arrays are refused)."""
    if array.dtype.hasobject:
        raise TypeError(f"save_array_atomic: expected a numeric array, got dtype {array.dtype}")
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.save(file, array, allow_pickle=False)


def load_array(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a ``.npy`` file written by :func:`save_array_atomic` (pickles refused)."""
    return np.load(path, allow_pickle=False)


def remove_tree(path: Path) -> None:
    """Remove a directory tree if it exists; a file system error here is not worth failing for."""
    shutil.rmtree(path, ignore_errors=True)
