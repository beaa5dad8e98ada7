"""Fixtures for the data tests: fake archives, fake fetched caches, a fake espeak-ng (no network)."""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import stat
import sys
import tarfile
import zipfile
from collections.abc import Callable
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


def ar_bytes(members: dict[str, bytes]) -> bytes:
    """An ``ar`` archive (the container of a .deb) holding ``members``."""
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
        path.write_bytes(ar_bytes({"debian-binary": b"2.0\n", "control.tar.xz": control_tar,
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
    """``make_archive``, ``make_source``, ``sha256_of`` and ``ar_bytes``: fake fetchable data."""
    return SimpleNamespace(make_archive=make_archive, make_source=make_source,
                           sha256_of=sha256_of, ar_bytes=ar_bytes)


def plant_fetched(cache: Path, name: str, files: dict[str, bytes]) -> Path:
    """Make ``cache`` look as if catalog data set ``name`` had been fetched, with ``files``."""
    from convrnn.data.catalog import get_source
    from convrnn.data.fetch import MANIFEST

    source = get_source(name)
    directory = cache / name
    for relative, data in files.items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_bytes(data)
    manifest = {"name": name, "sha256": source.sha256, "files": sorted(files)}
    (directory / MANIFEST).write_text(json.dumps(manifest))
    return directory


@pytest.fixture
def planted() -> Callable[[Path, str, dict[str, bytes]], Path]:
    """``plant_fetched``: fake a fetched catalog data set from small files."""
    return plant_fetched


# Speaks each word as a tone burst between 50 ms of silence: the burst lasts 20 ms per letter and
# its frequency depends on the word, so tests can tell words apart and check placement.
FAKE_ESPEAK = """
import math, struct, sys, wave
argv = sys.argv[1:]
if argv == ["--version"]:
    print("eSpeak NG text-to-speech: fake")
    sys.exit(0)
with open(LOG, "a") as log:
    log.write(" ".join(argv) + "\\n")
out, text = argv[argv.index("-w") + 1], argv[-1]
frequency = 200 + 40 * (sum(map(ord, text)) % 50)
silence = [0] * 1102
tone = [int(12000 * math.sin(2 * math.pi * frequency * n / 22050))
        for n in range(441 * len(text))]
with wave.open(out, "wb") as file:
    file.setnchannels(1)
    file.setsampwidth(2)
    file.setframerate(22050)
    file.writeframes(struct.pack(f"<{2 * 1102 + len(tone)}h", *(silence + tone + silence)))
"""


def install_fake_espeak(directory: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a fake espeak-ng first on PATH; returns the file logging its calls."""
    directory.mkdir(exist_ok=True)
    log = directory / "calls.txt"
    script = directory / "espeak-ng"
    script.write_text(f"#!{sys.executable}\nLOG = {str(log)!r}\n{FAKE_ESPEAK}")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")
    return log


@pytest.fixture
def fake_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake espeak-ng first on PATH (see ``FAKE_ESPEAK``); returns the log of its calls."""
    return install_fake_espeak(tmp_path / "bin", monkeypatch)


@pytest.fixture(scope="session")
def espeak_installer() -> Callable[[Path, pytest.MonkeyPatch], Path]:
    """``install_fake_espeak``, for fixtures wider than one test."""
    return install_fake_espeak
