"""SQLite-style fault injection for the tests of every write point: count the low-level file-system
operations a write makes (open for writing, write, flush, close, fsync, rename, mkdir, create, and ``os.write``
and ``os.ftruncate`` on a descriptor opened under ``root``), then
make the k-th one fail with an ``OSError`` (ENOSPC, EIO) or kill the process there (``SIGKILL``, in a
forked child, so nothing after that point runs: no ``finally``, no ``atexit``).

Only operations on paths under ``root`` count (fsync has no path: every fsync made while the action runs
counts), so pytest's own files are never touched.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_WRITE_MODES = set("wax+")

# Tables the tests fill and the terminal summary prints (tests/conftest.py): title → lines.
TABLES: dict[str, Callable[[], list[str]]] = {}


class Injected(OSError):  # noqa: N818 — it is not an error of the code under test
    """The OSError the injector raises (a subclass, so that a test can tell it from a real one)."""


class Injector:
    """Counts operations; at operation ``fault_at`` (1-based) raises ``OSError(error)`` or, with
    ``error=None``, kills the process with SIGKILL."""

    def __init__(self, root: Path, fault_at: int | None = None, error: int | None = errno.ENOSPC) -> None:
        self.root = str(Path(root).resolve())
        self.fault_at, self.error = fault_at, error
        self.operations: list[str] = []

    def _ours(self, path: Any) -> bool:
        if isinstance(path, int):
            return False
        try:
            return os.path.abspath(os.fspath(path)).startswith(self.root)
        except TypeError:
            return False

    def hit(self, what: str) -> None:
        self.operations.append(what)
        if self.fault_at is not None and len(self.operations) == self.fault_at:
            if self.error is None:
                os.kill(os.getpid(), signal.SIGKILL)
                time.sleep(10)   # never reached
            raise Injected(self.error, f"{os.strerror(self.error)} (injected at {what})")

    @contextlib.contextmanager
    def active(self) -> Iterator[Injector]:
        real_open, real_replace, real_rename = io.open, os.replace, os.rename
        real_fsync, real_mkdir, real_os_open = os.fsync, os.mkdir, os.open
        real_os_write, real_ftruncate, real_os_close = os.write, os.ftruncate, os.close
        injector = self
        descriptors: dict[int, str] = {}   # opened under root by os.open: fd → name

        class File:
            """A file opened for writing whose write/flush/close are counted operations."""

            def __init__(self, handle: Any, name: str) -> None:
                self._handle, self._name = handle, name

            def write(self, data: Any) -> int:
                injector.hit(f"write {self._name}")
                return self._handle.write(data)

            def flush(self) -> None:
                injector.hit(f"flush {self._name}")
                self._handle.flush()

            def close(self) -> None:
                if not self._handle.closed:
                    injector.hit(f"close {self._name}")
                self._handle.close()

            def __enter__(self) -> File:
                return self

            def __exit__(self, *exc: object) -> None:
                self.close()

            def __getattr__(self, name: str) -> Any:
                return getattr(self._handle, name)

            def __iter__(self) -> Iterator[Any]:
                return iter(self._handle)

        def opened(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            handle = real_open(file, mode, *args, **kwargs)
            if not _WRITE_MODES & set(mode):
                return handle
            name = Path(os.fspath(file)).name if not isinstance(file, int) else f"fd {file}"
            if not isinstance(file, int) and not injector._ours(file):
                return handle
            injector_name = name
            return File(handle, injector_name)

        def replaced(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
            if injector._ours(target) or injector._ours(source):
                injector.hit(f"rename {Path(os.fspath(source)).name} -> {Path(os.fspath(target)).name}")
            real_replace(source, target, *args, **kwargs)

        def renamed(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
            if injector._ours(target) or injector._ours(source):
                injector.hit(f"rename {Path(os.fspath(source)).name} -> {Path(os.fspath(target)).name}")
            real_rename(source, target, *args, **kwargs)

        def synced(descriptor: Any) -> None:
            injector.hit("fsync")
            real_fsync(descriptor)

        def made(path: Any, *args: Any, **kwargs: Any) -> None:
            if injector._ours(path) and not os.path.lexists(path):   # an existing one fails as EEXIST
                injector.hit(f"mkdir {Path(os.fspath(path)).name}")
            real_mkdir(path, *args, **kwargs)

        def os_opened(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & os.O_CREAT and injector._ours(path):
                injector.hit(f"create {Path(os.fspath(path)).name}")
            descriptor = real_os_open(path, flags, *args, **kwargs)
            if flags & (os.O_WRONLY | os.O_RDWR) and injector._ours(path):
                descriptors[descriptor] = Path(os.fspath(path)).name
            return descriptor

        def os_written(descriptor: int, data: Any) -> int:
            if descriptor in descriptors:
                injector.hit(f"write {descriptors[descriptor]}")
            return real_os_write(descriptor, data)

        def truncated(descriptor: int, length: int) -> None:
            if descriptor in descriptors:
                injector.hit(f"truncate {descriptors[descriptor]}")
            real_ftruncate(descriptor, length)

        def os_closed(descriptor: int) -> None:
            descriptors.pop(descriptor, None)   # its number may next be another file's
            real_os_close(descriptor)

        patches = [(io, "open", opened), (builtins, "open", opened), (os, "replace", replaced),
                   (os, "rename", renamed), (os, "fsync", synced), (os, "mkdir", made), (os, "open", os_opened),
                   (os, "write", os_written), (os, "ftruncate", truncated), (os, "close", os_closed)]
        originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
        try:
            for module, name, value in patches:
                setattr(module, name, value)
            yield self
        finally:
            for module, name, value in originals:
                setattr(module, name, value)


def count_operations(root: Path, action: Callable[[], Any]) -> list[str]:
    """The operations ``action`` makes under ``root`` when nothing fails (it runs for real)."""
    injector = Injector(root, None)
    with injector.active():
        action()
    return injector.operations


def raise_at(root: Path, action: Callable[[], Any], k: int, error: int) -> BaseException | None:
    """Run ``action`` with operation ``k`` failing with ``OSError(error)``; the exception it ended
    with (None if it returned)."""
    with Injector(root, k, error).active():
        try:
            action()
        except BaseException as raised:
            return raised
    return None


def kill_at(root: Path, action: Callable[[], Any], k: int, timeout: float = 60.0) -> int:
    """Run ``action`` in a forked child killed with SIGKILL at operation ``k``; the signal or exit
    status it ended with (``-SIGKILL`` when the kill came)."""
    pid = os.fork()
    if pid == 0:   # the child: no pytest, no torch threads (a forked OpenMP pool would hang)
        status = 0
        try:
            import torch

            torch.set_num_threads(1)
            with Injector(root, k, None).active():
                action()
        except BaseException:
            status = 1
        os._exit(status)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TimeoutError(f"the child writing under {root} hung at operation {k}")
        time.sleep(0.002)


def listing(root: Path) -> set[str]:
    """Every file under ``root``, relative to it (an empty directory a write made on its way is not debris)."""
    return {str(path.relative_to(root)) for path in Path(root).rglob("*") if not path.is_dir()}
