"""Copy selected files out of wheels, zips, tarballs and Debian packages, never running their code.

Every format is read as data: member paths are matched against glob patterns, checked to stay
inside the destination, and only regular files are written (no links, devices or permissions).
"""

from __future__ import annotations

import errno
import fnmatch
import lzma
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

# A .deb is an `ar` archive: an 8-byte magic, then for each member a 60-byte header
# (name 16, mtime 12, owner 6, group 6, mode 8, size 10, terminator 2) and its data,
# padded to an even length.
_AR_MAGIC = b"!<arch>\n"
_AR_HEADER_SIZE = 60

Opener = Callable[[], BinaryIO]

_FILE_SYSTEM_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG}
MAX_BYTES = 4 << 30  # the most one member may hold (the largest data file in the catalog is ~50 MB)
_CORRUPT = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError, struct.error,
            UnicodeDecodeError, NotImplementedError, RuntimeError, IndexError, KeyError, OverflowError,
            ValueError, TypeError)   # zipfile: an unknown method, encryption, fields past the end; tarfile: a
                                     # gzip header cut short


def archive_kind(path: str | Path) -> str:
    """``"zip"`` (wheels, zips), ``"tar"`` (sdists, npm ``.tgz``) or ``"deb"``, from the name."""
    name = Path(path).name.lower()
    if name.endswith((".whl", ".zip")):
        return "zip"
    if name.endswith((".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar")):
        return "tar"
    if name.endswith(".deb"):
        return "deb"
    raise ValueError(
        "archive: expected a .whl, .zip, .tar.gz, .tgz, .tar.xz, .tar.bz2 or .deb file, "
        f"got {name!r}"
    )


def _normalise(member: str) -> str:
    # Tar members of Debian packages start with "./"; the patterns in the catalog do not.
    while member.startswith("./"):
        member = member[2:]
    return member


def _relative_to_root(member: str, root: str) -> str | None:
    member = _normalise(member)
    if not member.startswith(root):
        return None
    relative = member[len(root):]
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or ".." in parts:
        return None  # never write outside the destination, whatever the archive says
    return relative


def _iter_zip(file: BinaryIO) -> Iterator[tuple[str, int, Opener]]:
    with zipfile.ZipFile(file) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                yield info.filename, info.file_size, (lambda info=info: archive.open(info))


def _iter_tar(file: BinaryIO) -> Iterator[tuple[str, int, Opener]]:
    # Stream mode ("r|*") reads each compressed byte once and handles gz, bz2 and xz.
    with tarfile.open(fileobj=file, mode="r|*") as archive:
        for info in archive:
            if info.isfile():
                handle = archive.extractfile(info)
                assert handle is not None  # a regular file always has data
                yield info.name, info.size, (lambda handle=handle: handle)


class _Slice:
    """A read-only window ``[start, start + size)`` onto a file, so tar can stream an ar member."""

    def __init__(self, file: BinaryIO, start: int, size: int) -> None:
        self._file, self._position, self._end = file, start, start + size

    def read(self, size: int = -1) -> bytes:
        left = self._end - self._position
        size = left if size is None or size < 0 else min(size, left)
        self._file.seek(self._position)
        data = self._file.read(size)
        self._position += len(data)
        return data


def _ar_members(file: BinaryIO) -> Iterator[tuple[str, int, int]]:
    """Yield ``(name, data offset, size)`` for each member of an ``ar`` archive; a header that is not one (no
    terminator, a size that is not a decimal number of bytes, or one past the end of the file) is a ValueError."""
    if file.read(len(_AR_MAGIC)) != _AR_MAGIC:
        raise ValueError("archive: not a Debian package (the ar magic '!<arch>' is missing)")
    end = file.seek(0, os.SEEK_END)
    offset = len(_AR_MAGIC)
    while True:
        file.seek(offset)
        header = file.read(_AR_HEADER_SIZE)
        if len(header) < _AR_HEADER_SIZE:
            return
        if header[58:60] != b"`\n":
            raise ValueError(f"archive: corrupt ar header at byte {offset}")
        name = header[:16].decode("ascii").strip().rstrip("/")
        field = header[48:58].decode("ascii").strip()
        if not field.isdigit() or not field.isascii():
            raise ValueError(f"archive: corrupt ar header at byte {offset} (size {field!r})")
        size = int(field)
        if offset + _AR_HEADER_SIZE + size > end:
            raise ValueError(f"archive: ar member {name!r} at byte {offset} holds {size} bytes, past the end of the "
                             f"file ({end} bytes)")
        yield name, offset + _AR_HEADER_SIZE, size
        offset += _AR_HEADER_SIZE + size + (size % 2)


def _iter_deb(file: BinaryIO) -> Iterator[tuple[str, int, Opener]]:
    for name, start, size in _ar_members(file):
        if not name.startswith("data.tar"):
            continue
        if name.endswith(".zst"):
            raise ValueError(
                "archive: this Debian package's data is zstd-compressed (data.tar.zst), which "
                "Python's tarfile cannot read; install the package with apt-get instead"
            )
        yield from _iter_tar(_Slice(file, start, size))  # type: ignore[arg-type]
        return
    raise ValueError("archive: the Debian package has no data.tar member")


_READERS = {"zip": _iter_zip, "tar": _iter_tar, "deb": _iter_deb}


def extract_members(archive: str | Path, destination: str | Path, *, root: str,
                    members: Sequence[str],
                    on_file: Callable[[str, int], None] | None = None,
                    max_bytes: int = MAX_BYTES) -> list[str]:
    """Copy the files under ``root`` inside ``archive`` that match ``members`` into ``destination``.

    ``root`` is stripped from each path (``"mnist/data/mnist.pkl.gz"`` with root
    ``"mnist/data/"`` lands at ``destination/mnist.pkl.gz``); ``members`` are ``fnmatch``
    patterns on the stripped path. ``on_file(path, size)`` is called after each file is written.
    Returns the stripped paths written, sorted. Raises ``ValueError`` naming the archive when a
    pattern matched nothing (the catalog and the archive disagree), when the archive is corrupt or
    truncated, or when a member holds more than ``max_bytes`` (a decompression bomb; checked on the
    bytes actually decompressed, not only on the size the archive declares).
    """
    destination = Path(destination)
    kind = archive_kind(archive)
    written: list[str] = []
    matched = dict.fromkeys(members, False)
    try:
        with open(archive, "rb") as file:
            for name, size, opener in _READERS[kind](file):
                relative = _relative_to_root(name, root)
                if relative is None:
                    continue
                hits = [pattern for pattern in members if fnmatch.fnmatchcase(relative, pattern)]
                if not hits:
                    continue
                for pattern in hits:
                    matched[pattern] = True
                target = destination / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                _copy_capped(opener, target, f"archive: {Path(archive).name}: member {name!r}", size, max_bytes)
                written.append(relative)
                if on_file is not None:
                    on_file(relative, size)
    except _CORRUPT as error:
        if isinstance(error, ValueError) and str(error).startswith("archive:"):
            if Path(archive).name in str(error):
                raise   # ours: it names the archive already
            raise ValueError(f"archive: {Path(archive).name}: {str(error).removeprefix('archive: ')}") from None
        if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError) or (
                isinstance(error, OSError) and error.errno in _FILE_SYSTEM_ERRORS):
            raise   # the file system's error (a missing archive, a full disk), not the archive's
        raise ValueError(f"archive: {Path(archive).name} is corrupt or truncated "
                         f"({type(error).__name__}: {error})") from None
    missing = [pattern for pattern, found in matched.items() if not found]
    if missing:
        raise ValueError(
            f"archive: {Path(archive).name} has no file matching {missing} under {root!r}"
        )
    return sorted(written)


def _copy_capped(opener: Opener, target: Path, what: str, declared: int, max_bytes: int) -> None:
    """Copy one member to ``target``, refusing it (and removing what was written) past ``max_bytes`` or when it
    does not hold the ``declared`` size."""
    if declared > max_bytes:
        raise ValueError(f"{what} holds {declared} bytes, more than the cap of {max_bytes}")
    copied = 0
    try:
        with opener() as source, open(target, "wb") as sink:
            while block := source.read(1 << 20):
                copied += len(block)
                if copied > max_bytes:
                    raise ValueError(f"{what} holds more than the cap of {max_bytes} bytes")
                sink.write(block)
        if copied != declared:
            raise ValueError(f"{what} holds {copied} bytes, but the archive declares {declared}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
