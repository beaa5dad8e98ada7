"""Every file format convrnn reads, fuzzed: valid inputs mutated by hypothesis (truncation, byte flips,
insertions, huge 4- and 8-byte integers written over fields), and crafted attacks (path traversal,
symlinks, decompression bombs, pickles that call os.system). Each reader either reads the file or
raises one clear ``ValueError`` naming the file — never another exception from deep inside — and uses
bounded memory. CI runs a fixed few dozen examples per reader; ``-m fuzz`` runs thousands."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import shutil
import struct
import tarfile
import tracemalloc
import wave
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from faults import TABLES

MEMORY_LIMIT = 64 << 20   # bytes a reader may allocate (numpy's and Python's, traced) for an input of < 64 KB
HUGE = [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x80", b"\x00\x00\x01\x00",
        struct.pack("<q", -1), struct.pack("<Q", 2**63), b"-1", b"99999999999", b"1e308", b"NaN"]


@dataclass(frozen=True)
class Reader:
    """``make(directory)`` writes a valid file and returns its path; ``read(path)`` reads it the way convrnn
    does; ``errors`` are the clear errors allowed; ``named`` whether the message must name the file."""

    name: str
    make: Callable[[Path], Path]
    read: Callable[[Path], Any]
    errors: tuple[type[BaseException], ...] = (ValueError,)
    mutate: Callable[[Path, bytes], None] | None = None   # where the mutated bytes go (default: the file)


def _edits(size: int) -> st.SearchStrategy:
    position = st.integers(0, max(size - 1, 0))
    edit = st.one_of(
        st.tuples(st.just("truncate"), st.integers(0, size)),
        st.tuples(st.just("flip"), position, st.integers(0, 255)),
        st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("huge"), position, st.sampled_from(HUGE)),
        st.tuples(st.just("delete"), position, st.integers(1, 16)),
    )
    return st.lists(edit, min_size=1, max_size=3)


def _apply(data: bytes, edits: list[tuple]) -> bytes:
    for edit in edits:
        kind, at = edit[0], min(edit[1], len(data))
        if kind == "truncate":
            data = data[:at]
        elif kind == "flip":
            data = data[:at] + bytes([edit[2]]) + data[at + 1:]
        elif kind == "insert":
            data = data[:at] + edit[2] + data[at:]
        elif kind == "huge":
            data = data[:at] + edit[2] + data[at + len(edit[2]):]
        else:
            data = data[:at] + data[at + edit[2]:]
    return data


# ----------------------------------------------------------------------------- valid inputs and readers


_TEMPLATE: list[Path] = []


def _checkpoint(directory: Path) -> Path:
    """A copy of one saved checkpoint (saved once: the fuzzing is of the reader, not of the writer)."""
    from convrnn.training.checkpoint import save_checkpoint

    if not _TEMPLATE or not _TEMPLATE[0].is_dir():
        torch.manual_seed(0)
        model = nn.Linear(3, 2)
        _TEMPLATE[:] = [save_checkpoint(directory / "template", model, torch.optim.SGD(model.parameters(), lr=0.1),
                                        config={"model": "linear"}, training={"step": 3})]
    return Path(shutil.copytree(_TEMPLATE[0], directory / "last"))


def _read_checkpoint(path: Path) -> Any:
    from convrnn.training.checkpoint import load_checkpoint

    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    return load_checkpoint(path, model, torch.optim.SGD(model.parameters(), lr=0.1), restore_rng=True)


def _rehashed(member: str) -> Callable[[Path, bytes], None]:
    """Write the mutated bytes as ``member`` of the checkpoint and update its manifest's size and hash, so the
    mutation reaches the parser behind the hash check (a forger's file)."""

    def write(directory: Path, data: bytes) -> None:
        import hashlib

        (directory / member).write_bytes(data)
        manifest = json.loads((directory / "manifest.json").read_text())
        manifest["files"][member] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        (directory / "manifest.json").write_text(json.dumps(manifest))

    return write


def _checkpoint_readers() -> list[Reader]:
    from convrnn.training.checkpoint import CheckpointError

    def file_of(member: str) -> Callable[[Path], Path]:
        return lambda directory: _checkpoint(directory) / member

    readers = [Reader("checkpoint manifest.json", file_of("manifest.json"), lambda p: _read_checkpoint(p.parent),
                      (CheckpointError,))]
    for member in ("model.safetensors", "rng.safetensors", "config.json", "optimizer.json", "training.json", "rng.json"):
        readers.append(Reader(f"checkpoint {member} (re-hashed)", file_of(member),
                              lambda p: _read_checkpoint(p.parent), (CheckpointError,), _rehashed(member)))
    return readers


def _word2vec(binary: bool) -> Reader:
    from convrnn.models.word2vec.formats import load_word2vec_format, save_word2vec_format

    def make(directory: Path) -> Path:
        vectors = torch.linspace(-1, 1, 12).reshape(4, 3)
        return save_word2vec_format(directory / "vectors.bin", ["the", "cat", "sat", "émeu"], vectors, binary=binary)

    return Reader(f"word2vec {'binary' if binary else 'text'}", make,
                  lambda p: load_word2vec_format(p, binary=binary))


def _idx(compressed: bool) -> Reader:
    from convrnn.data.idx import read_idx

    def make(directory: Path) -> Path:
        data = b"\x00\x00\x08\x03" + struct.pack(">III", 3, 4, 5) + bytes(range(60))
        path = directory / ("images-idx3-ubyte" + (".gz" if compressed else ""))
        path.write_bytes(gzip.compress(data, mtime=0) if compressed else data)
        return path

    return Reader(f"IDX{' (gzip)' if compressed else ''}", make, read_idx)


def _archive(kind: str) -> Reader:
    def make(directory: Path) -> Path:
        files = {"pkg/data/train.txt": b"one two three\n" * 20, "pkg/data/sub/test.txt": b"four\n" * 10}
        if kind == "zip":
            path = directory / "pkg.whl"
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, data in files.items():
                    archive.writestr(name, data)
        else:
            path = directory / "pkg.tar.gz"
            path.write_bytes(_tar_gz(files))
        return path

    return Reader(f"{kind} archive", make, _extracting("pkg/data/"))


def _extracting(root: str) -> Callable[[Path], Any]:
    """Read an archive by extracting its ``root``'s text files beside it; nothing may land outside ``out/``."""

    from convrnn.data.archives import extract_members

    def read(path: Path) -> Any:
        destination = path.parent / "out"
        written = extract_members(path, destination, root=root, members=("*.txt", "sub/*.txt"))
        outside = [p for p in path.parent.rglob("*") if p.is_file() and destination not in p.parents and p != path]
        assert not outside, f"extraction wrote outside its destination: {outside}"
        return written

    return read


def _ar(members: dict[str, bytes]) -> bytes:
    """An ``ar`` archive (a .deb's container): magic, then a 60-byte header and the data (even-padded) per member."""
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode() + data
        out += b"\n" if len(data) % 2 else b""
    return bytes(out)


def _tar_gz(files: dict[str, bytes], links: tuple[tarfile.TarInfo, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for info in links:
            archive.addfile(info)
    return gzip.compress(buffer.getvalue(), mtime=0)


def _deb_bytes(files: dict[str, bytes], links: tuple[tarfile.TarInfo, ...] = ()) -> bytes:
    return _ar({"debian-binary": b"2.0\n", "control.tar.gz": _tar_gz({"./control": b"Package: fake\n"}),
                "data.tar.gz": _tar_gz(files, links)})


def _deb() -> Reader:
    def make(directory: Path) -> Path:
        path = directory / "pkg_1.0_all.deb"
        path.write_bytes(_deb_bytes({"./usr/share/pkg/train.txt": b"one two three\n" * 20,
                                     "./usr/share/pkg/sub/test.txt": b"four\n" * 10}))
        return path

    return Reader("deb archive (ar + data.tar.gz)", make, _extracting("usr/share/pkg/"))


def _image(kind: str) -> Reader:
    from convrnn.data.image_files import read_image, write_png

    def make(directory: Path) -> Path:
        pixels = (np.arange(30).reshape(5, 6) * 8).astype(np.uint8)
        if kind == "png":
            write_png(directory / "digit.png", pixels)
            return directory / "digit.png"
        if kind == "pgm":
            (directory / "digit.pgm").write_bytes(b"P5\n# a comment\n6 5\n255\n" + pixels.tobytes())
            return directory / "digit.pgm"
        np.save(directory / "digit.npy", pixels.astype(np.float32) / 255)
        return directory / "digit.npy"

    return Reader(f"{kind.upper()} image", make, read_image)


def _wav() -> Reader:
    from convrnn.data.speech import read_wav

    def make(directory: Path) -> Path:
        path = directory / "word.wav"
        with wave.open(str(path), "wb") as file:
            file.setnchannels(1)
            file.setsampwidth(2)
            file.setframerate(16000)
            file.writeframes(np.arange(-200, 200, dtype="<i2").tobytes())
        return path

    return Reader("WAV", make, read_wav)


def _pickle() -> Reader:
    from convrnn.data.safe_pickle import load_arrays

    def make(directory: Path) -> Path:
        path = directory / "mnist.pkl"
        arrays = ((np.arange(12, dtype=np.float32).reshape(3, 4), np.arange(3)), (np.zeros((2, 4)), np.ones(2)))
        path.write_bytes(pickle.dumps(arrays, protocol=2))
        return path

    return Reader("pickle (restricted unpickler)", make, lambda p: load_arrays(p.read_bytes()),
                  (ValueError, pickle.UnpicklingError))


def _readers() -> list[Reader]:
    return [*_checkpoint_readers(), _word2vec(False), _word2vec(True), _idx(False), _idx(True), _archive("zip"),
            _archive("tar"), _deb(), _image("png"), _image("pgm"), _image("npy"), _wav(), _pickle()]


READER_NAMES = [reader.name for reader in _readers()]
COUNTS: dict[str, dict[str, int]] = {}


def _table() -> list[str]:
    lines = [f"{'reader':40} {'examples':>8} {'read':>6} {'refused':>8}"]
    for name in READER_NAMES:
        if name in COUNTS:
            seen = COUNTS[name]
            lines.append(f"{name:40} {seen['examples']:8d} {seen['read']:6d} {seen['refused']:8d}")
    lines.append(f"{len(COUNTS)} readers, {sum(c['examples'] for c in COUNTS.values())} mutated inputs; mutations: "
                 "truncate, flip a byte, insert bytes, delete bytes, write a huge/negative/NaN field")
    return lines


TABLES["readers × mutations (fuzzing)"] = _table


def _check_one(reader: Reader, directory: Path, edits: list[tuple]) -> None:
    directory.mkdir(parents=True)
    path = reader.make(directory)
    data = _apply(path.read_bytes(), edits)
    if reader.mutate is not None:
        reader.mutate(path.parent, data)
    else:
        path.write_bytes(data)
    counts = COUNTS.setdefault(reader.name, {"examples": 0, "read": 0, "refused": 0})
    counts["examples"] += 1
    tracemalloc.start()
    try:
        reader.read(path)
        counts["read"] += 1
    except reader.errors as error:
        counts["refused"] += 1
        message = str(error)
        assert "\n" not in message.strip(), f"{reader.name}: a multi-line error: {message!r}"
        if reader.errors[0] is not pickle.UnpicklingError and "pickle" not in reader.name:
            assert path.name in message or path.parent.name in message, (
                f"{reader.name}: the error does not name the file: {message!r}")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"{reader.name}: {peak / 2**20:.0f} MiB allocated reading a {len(data)}-byte file"


def _fuzz(reader_name: str, tmp_path: Path, examples: int) -> None:
    reader = next(r for r in _readers() if r.name == reader_name)
    probe = tmp_path / "probe"
    probe.mkdir()
    size = len(reader.make(probe).read_bytes())
    (tmp_path / "valid").mkdir()
    reader.read(reader.make(tmp_path / "valid"))   # the unmutated file reads
    counter = iter(range(10**9))

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    @given(_edits(size))
    def run(edits: list[tuple]) -> None:
        _check_one(reader, tmp_path / f"case-{next(counter)}", edits)

    run()


@pytest.mark.parametrize("reader_name", READER_NAMES)
def test_a_mutated_file_is_read_or_refused_in_one_clear_line(reader_name, tmp_path):
    _fuzz(reader_name, tmp_path, examples=25)


@pytest.mark.slow
@pytest.mark.fuzz
@pytest.mark.parametrize("reader_name", READER_NAMES)
def test_thousands_of_mutated_files_are_read_or_refused(reader_name, tmp_path):
    _fuzz(reader_name, tmp_path, examples=2000)


# ----------------------------------------------------------------------------- crafted attacks


def _tar_with(path: Path, members: list[tarfile.TarInfo], data: bytes = b"evil\n") -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for info in members:
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


@pytest.mark.parametrize("container", ["tar.gz", "deb"])
@pytest.mark.parametrize("name", ["pkg/data/../../escaped.txt", "/tmp/absolute.txt", "pkg/data//etc/x.txt",
                                  "./pkg/data/../../../escaped.txt"])
def test_an_archive_member_outside_the_destination_is_never_written(name, container, tmp_path):
    from convrnn.data.archives import extract_members

    if container == "deb":   # the same members in a Debian package's data.tar.gz
        archive = tmp_path / "a.deb"
        archive.write_bytes(_deb_bytes({name: b"evil\n", "pkg/data/good.txt": b"good\n"}))
    else:
        info = tarfile.TarInfo(name)
        info.size = 5
        good = tarfile.TarInfo("pkg/data/good.txt")
        good.size = 5
        archive = _tar_with(tmp_path / "a.tar.gz", [info, good])
    destination = tmp_path / "deep" / "out"
    assert extract_members(archive, destination, root="pkg/data/", members=("*.txt",)) == ["good.txt"]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == \
        [archive.name, "deep/out/good.txt"]


@pytest.mark.parametrize("container", ["tar.gz", "deb"])
def test_a_symlink_or_hard_link_member_is_never_followed(container, tmp_path):
    from convrnn.data.archives import extract_members

    link = tarfile.TarInfo("pkg/data/link.txt")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("pkg/data/hard.txt")
    hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/passwd"
    good = tarfile.TarInfo("pkg/data/good.txt")
    good.size = 5
    if container == "deb":
        archive = tmp_path / "a.deb"
        archive.write_bytes(_deb_bytes({"pkg/data/good.txt": b"good\n"}, (link, hard)))
    else:
        archive = _tar_with(tmp_path / "a.tar.gz", [link, hard, good])
    assert extract_members(archive, tmp_path / "out", root="pkg/data/", members=("*.txt",)) == ["good.txt"]
    assert not any(p.is_symlink() for p in (tmp_path / "out").rglob("*"))


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_decompression_bomb_stops_at_the_size_cap_with_one_line(kind, tmp_path):
    from convrnn.data.archives import extract_members

    big = b"\0" * (8 << 20)   # 8 MiB of zeros compresses to a few KiB
    if kind == "zip":
        archive = tmp_path / "bomb.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
            handle.writestr("pkg/data/bomb.txt", big)
    else:
        info = tarfile.TarInfo("pkg/data/bomb.txt")
        info.size = len(big)
        archive = _tar_with(tmp_path / "bomb.tar.gz", [info], big)
    assert archive.stat().st_size < 100_000
    with pytest.raises(ValueError, match=r"^archive: bomb\.(zip|tar\.gz): member 'pkg/data/bomb\.txt' holds "
                                         r"8388608 bytes, more than the cap of 1048576"):
        extract_members(archive, tmp_path / "out", root="pkg/data/", members=("*.txt",), max_bytes=1 << 20)
    assert not (tmp_path / "out" / "bomb.txt").exists()


@pytest.mark.parametrize("size, says", [
    (b"-61", r"corrupt ar header at byte 8 \(size '-61'\)"),   # once read as int: a header that pointed at itself
    (b"0x10", r"corrupt ar header at byte 8 \(size '0x10'\)"),
    (b"99999999", r"ar member 'debian-binary' at byte 8 holds 99999999 bytes, past the end of the file"),
])
def test_a_deb_whose_ar_header_gives_a_bad_size_is_refused_in_one_line(size, says, tmp_path):
    from convrnn.data.archives import extract_members

    data = bytearray(_deb_bytes({"pkg/data/good.txt": b"good\n"}))
    data[8 + 48:8 + 58] = size.ljust(10)   # the first member's size field
    archive = tmp_path / "bad.deb"
    archive.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"^archive: bad\.deb: {says}"):
        extract_members(archive, tmp_path / "out", root="pkg/data/", members=("*.txt",))
    assert not (tmp_path / "out").exists()


def test_a_zip_member_that_lies_about_its_size_is_refused(tmp_path):
    from convrnn.data.archives import extract_members

    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("pkg/data/x.txt", b"a" * 1000)
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = struct.pack("<I", 10)   # uncompressed size in the central directory
    archive.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"^archive: liar\.zip"):
        extract_members(archive, tmp_path / "out", root="pkg/data/", members=("*.txt",))


class _Shell:
    def __reduce__(self):
        return os.system, ("echo pwned > pwned.txt",)


class _Eval:
    def __reduce__(self):
        return eval, ("1 + 1",)


@pytest.mark.parametrize("payload", [_Shell(), _Eval(), [np.zeros(2), _Shell()]], ids=["os.system", "eval", "nested"])
def test_a_pickle_that_calls_a_function_outside_the_allowed_set_is_refused_before_it_runs(payload, tmp_path,
                                                                                        monkeypatch):
    from convrnn.data.safe_pickle import load_arrays

    monkeypatch.chdir(tmp_path)
    for protocol in (2, 5):
        with pytest.raises(pickle.UnpicklingError, match=r"^refusing to load [\w.]+: only numpy arrays are allowed"):
            load_arrays(pickle.dumps(payload, protocol=protocol))
    assert not (tmp_path / "pwned.txt").exists()


def test_a_pickled_object_array_is_refused(tmp_path):
    from convrnn.data.safe_pickle import load_arrays

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_arrays(pickle.dumps(np.array([1, "a"], dtype=object), protocol=2))


@pytest.mark.parametrize("width, height", [(100_000, 100_000), (2**31, 1), (1, 2**32 - 1)])
def test_a_png_promising_huge_dimensions_is_refused_without_allocating_them(width, height, tmp_path):
    from convrnn.data.image_files import read_image

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    bomb = zlib.compress(b"\0" * (16 << 20), 9)   # 16 MiB of zero rows in a few KiB
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", bomb) + chunk(b"IEND", b""))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"huge\.png"):
            read_image(path)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT


def test_an_idx_header_promising_more_than_the_file_holds_is_refused(tmp_path):
    from convrnn.data.idx import read_idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">III", 2**32 - 1, 2**32 - 1, 2**32 - 1)))
    with pytest.raises(ValueError, match=r"^train-images-idx3-ubyte\.gz: header says shape"):
        read_idx(path)
