"""TensorBoard event files, written synchronously: one new file per writer, whole records only.

An event file is a sequence of TFRecords, each ``length: uint64 | masked CRC32C of length: uint32 | data |
masked CRC32C of data: uint32`` (little-endian), ``data`` a serialised ``tensorboard.Event``. The first event
names the format (``file_version = "brain.Event:2"``). A resumed run's writer adds a ``SessionLog.START`` event
at ``purge_step``, after which TensorBoard's reader drops every earlier event whose step is ≥ ``purge_step`` (the
events a killed run wrote after the checkpoint it resumes from).

Unlike ``torch.utils.tensorboard.SummaryWriter`` (a background thread that reopens the file for every record
and reports a failed write at some later call, with the thread's traceback printed on the way), a write here
happens in the caller: records are buffered in memory and written by :meth:`EventFileWriter.flush`. A failed
write (a full disk: ``ENOSPC``, ``EIO``) cuts the file back to its last whole record, closes it and raises the
``OSError`` with the file's name; a killed process leaves at most one cut-off record at the end, which
TensorBoard's reader (and :func:`read_events`) never takes as an event: its length and data carry CRCs.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["EventFileWriter", "event_file_name", "read_events"]

_uid = itertools.count()


def event_file_name() -> str:
    """``events.out.tfevents.<seconds>.<host>.<pid>.<n>``: the name TensorBoard's own writers give, unique per
    writer of a process (``n`` counts them)."""
    return f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_uid)}"


def _proto() -> Any:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    return event_pb2, summary_pb2, masked_crc32c


def _record(data: bytes) -> bytes:
    _, _, masked_crc32c = _proto()
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


class EventFileWriter:
    """Scalars for TensorBoard in a new event file under ``log_dir`` (created if missing).

    ``purge_step``: the first step of a resumed run; TensorBoard then shows none of the events of earlier
    files in ``log_dir`` at steps ≥ ``purge_step``. :meth:`add_scalar` buffers an event, :meth:`flush` writes
    the buffered ones (``fsync=True``: and makes them durable), :meth:`close` flushes and closes. Raises the
    ``OSError`` of a failed write (``filename`` = the event file), after which the file ends at its last whole
    record (or is removed, if it had none) and the writer is closed (later calls do nothing).
    """

    def __init__(self, log_dir: str | os.PathLike[str], purge_step: int | None = None) -> None:
        event_pb2, _, _ = _proto()
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.log_dir / event_file_name()
        self._pending: list[bytes] = []
        self._written = 0   # bytes of whole records in the file
        self._file: Any = None
        self._add(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))
        if purge_step is not None:
            self._add(event_pb2.Event(wall_time=time.time(), step=int(purge_step),
                                      session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)))
        try:
            self._file = open(self.path, "xb")   # noqa: SIM115 — held open until close()
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(self.path)) from None
        self.flush()

    def _add(self, event: Any) -> None:
        self._pending.append(_record(event.SerializeToString()))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        """Buffer ``value`` (a float) as scalar ``tag`` at ``step``."""
        event_pb2, summary_pb2, _ = _proto()
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])
        self._add(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def flush(self, fsync: bool = False) -> None:
        """Write the buffered events (whole records, or none of them: see the class)."""
        if self._file is None:
            self._pending.clear()
            return
        data, self._pending = b"".join(self._pending), []
        try:
            if data:
                self._file.write(data)
                self._file.flush()
            if fsync:
                os.fsync(self._file.fileno())
        except OSError as error:
            self._fail()
            raise OSError(error.errno, error.strerror, str(self.path)) from None
        self._written += len(data)

    def _fail(self) -> None:
        """Cut the file back to its last whole record (remove it if it has none) and close it, as far as the
        disk lets us."""
        handle, self._file = self._file, None
        with contextlib.suppress(OSError, ValueError):
            handle.close()
        with contextlib.suppress(OSError):
            if self._written:
                os.truncate(self.path, self._written)
            else:
                os.unlink(self.path)

    def close(self) -> None:
        """Flush (durably) and close; a second call does nothing."""
        if self._file is None:
            return
        self.flush(fsync=True)
        handle, self._file = self._file, None
        try:
            handle.close()
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(self.path)) from None


def read_events(path: str | os.PathLike[str]) -> Iterator[Any]:
    """The whole records of event file ``path`` as ``tensorboard.Event`` messages, in order; stops at the first
    record that is cut off or whose CRCs do not match (what a killed writer leaves at the end)."""
    event_pb2, _, masked_crc32c = _proto()
    data = Path(path).read_bytes()
    at = 0
    while at + 12 <= len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        end = at + 12 + length + 4
        if header_crc != masked_crc32c(header) or end > len(data):
            return
        body = data[at + 12:at + 12 + length]
        if struct.unpack("<I", data[end - 4:end])[0] != masked_crc32c(body):
            return
        event = event_pb2.Event()
        event.ParseFromString(body)
        yield event
        at = end
