"""Fixtures for the data tests: tiny wheels, tarballs, npm packs and Debian packages (no network)."""

from __future__ import annotations

import hashlib
import io
import lzma
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from convrnn.data.catalog import DataSource


def _tar_bytes(files: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _ar_bytes(members: dict[str, bytes]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        header = (f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}").encode()
        out += header + b"`\n" + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def make_archive(path: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (archive path → bytes) as the archive kind that ``path``'s suffix names."""
    name = path.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path, "w") as archive:
            for member, data in files.items():
                archive.writestr(member, data)
    elif name.endswith((".tar.gz", ".tgz")):
        path.write_bytes(_tar_bytes(files, "w:gz"))
    elif name.endswith(".deb"):
        data_tar = lzma.compress(_tar_bytes({f"./{k}": v for k, v in files.items()}, "w"))
        control_tar = lzma.compress(_tar_bytes({"./control": b"Package: fake\n"}, "w"))
        path.write_bytes(_ar_bytes({"debian-binary": b"2.0\n", "control.tar.xz": control_tar,
                                    "data.tar.xz": data_tar}))
    else:
        raise ValueError(f"unknown archive kind {name}")
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_source(archive: Path, *, registry: str = "pypi", root: str = "pkg/data/",
                members: tuple[str, ...] = ("*.txt",), name: str = "fake") -> DataSource:
    """A catalog entry pinned to the archive at ``archive``."""
    return DataSource(name=name, registry=registry, package="fake-package", version="1.0",
                      archive=archive.name, sha256=sha256_of(archive),
                      size=archive.stat().st_size, root=root, members=members,
                      license="MIT", description="a fake data set for tests")


@pytest.fixture
def archives() -> SimpleNamespace:
    """``make_archive``, ``make_source`` and ``sha256_of``, for building fake fetchable data."""
    return SimpleNamespace(make_archive=make_archive, make_source=make_source,
                           sha256_of=sha256_of)
