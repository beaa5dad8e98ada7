"""One training run per run directory: ``OUT/.lock``, held while a run trains into ``OUT``.

The lock is an advisory ``flock`` on ``OUT/.lock``, which the kernel releases when its process ends in any
way (``kill -9`` included): a dead process never holds it. The file records the holder's pid, host and
start time, so the refusal can name them; the holder removes the file (and ``OUT`` itself, if the run
left it empty) when it is done.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

__all__ = ["LOCK_NAME", "RunLock", "RunLockedError"]

LOCK_NAME = ".lock"


class RunLockedError(ValueError):
    """Another live process is training into the run directory; ``holder`` is what its lock file
    records (``pid``, ``host``, ``started``; empty if unreadable)."""

    def __init__(self, directory: Path, holder: dict[str, object], where: str) -> None:
        self.directory, self.holder = directory, holder
        who = f"process {holder.get('pid', '?')}"
        if holder.get("host"):
            who += f" on {holder['host']}"
        since = f" since {holder['started']}" if holder.get("started") else ""
        super().__init__(f"{where}: argument 'out' is in use: {who} has been training into '{directory}'{since}; "
                         "wait for it to end or give another --out")


class RunLock:
    """``with RunLock(out):`` — hold ``out/.lock`` for the block, creating ``out`` if needed; raises
    :class:`RunLockedError` (a ``ValueError`` naming ``where`` and the holder) if a live process holds
    it. Not reentrant within a process: a second lock on the same directory is refused too."""

    def __init__(self, directory: str | os.PathLike[str], *, where: str = "train") -> None:
        self.directory, self.where = Path(directory), where
        self.path = self.directory / LOCK_NAME
        self._fd: int | None = None
        self._created = False

    def __enter__(self) -> RunLock:
        self._created = not self.directory.exists()
        fd: int | None = None
        failing = self.directory   # what a failed operation names
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            failing = self.path
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = _read_holder(fd)
                    os.close(fd)
                    fd = None
                    raise RunLockedError(self.directory, holder, self.where) from None
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:   # not a file its last holder unlinked between our open and our flock
                    break
                os.close(fd)
                fd = None
            started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}).encode())
            os.fsync(fd)
        except OSError as error:
            # a full disk, a failing one: no lock file, no descriptor (which would hold the flock for as long as
            # this process lives), no directory of ours is left; the error names the directory or the lock file
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._remove_created_directory()
            if error.filename is not None:
                raise
            raise OSError(error.errno, error.strerror, str(failing)) from None
        self._fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)   # while still locked: a later opener then makes a new file
        os.close(self._fd)
        self._fd = None
        self._remove_created_directory()

    def _remove_created_directory(self) -> None:
        if self._created:
            with contextlib.suppress(OSError):
                self.directory.rmdir()   # only if the run left it empty (it failed before writing)


def _read_holder(fd: int) -> dict[str, object]:
    try:
        text = os.pread(fd, 4096, 0).decode()
        holder = json.loads(text)
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}
