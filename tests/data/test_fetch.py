"""Fetching from fake local archives and fake registry clients: hashes, atomicity, idempotence."""

from __future__ import annotations

import importlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from convrnn.data.archives import archive_kind, extract_members
from convrnn.data.catalog import CATALOG, get_source
from convrnn.data.fetch import FetchError, dataset_dir, fetch, is_fetched

# The package re-exports the function fetch under the module's name, so fetch the module itself.
fetch_module = importlib.import_module("convrnn.data.fetch")

FILES = {"pkg/data/a.txt": b"alpha\n", "pkg/data/sub/b.txt": b"beta\n",
         "pkg/data/skip.bin": b"\x00", "pkg/code.py": b"raise SystemExit('never run')\n"}


@pytest.mark.parametrize("suffix", [".whl", ".tar.gz", ".tgz", ".deb"])
def test_fetch_extracts_only_matching_members_from_every_archive_kind(archives, tmp_path, suffix):
    archive = archives.make_archive(tmp_path / f"fake-1.0{suffix}", FILES)
    source = archives.make_source(archive)
    target = fetch(source, cache=tmp_path / "cache", archive=archive, progress=False)
    assert target == tmp_path / "cache" / "fake"
    assert (target / "a.txt").read_bytes() == b"alpha\n"
    assert (target / "sub" / "b.txt").read_bytes() == b"beta\n"
    written = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert written == [".source.json", "a.txt", "sub/b.txt"]
    manifest = json.loads((target / ".source.json").read_text())
    assert manifest["sha256"] == source.sha256 and manifest["files"] == ["a.txt", "sub/b.txt"]
    assert is_fetched(source, cache=tmp_path / "cache")


def test_second_fetch_does_no_work(archives, tmp_path, monkeypatch):
    archive = archives.make_archive(tmp_path / "fake-1.0.whl", FILES)
    source = archives.make_source(archive)
    fetch(source, cache=tmp_path, archive=archive, progress=False)

    def fail(*args, **kwargs):
        raise AssertionError("extracted again")

    monkeypatch.setattr(fetch_module, "extract_members", fail)
    assert fetch(source, cache=tmp_path, archive=archive, progress=False) == tmp_path / "fake"


def test_force_replaces_an_existing_copy(archives, tmp_path):
    archive = archives.make_archive(tmp_path / "fake-1.0.whl", FILES)
    source = archives.make_source(archive)
    target = fetch(source, cache=tmp_path, archive=archive, progress=False)
    (target / "a.txt").write_bytes(b"edited")
    fetch(source, cache=tmp_path, archive=archive, progress=False, force=True)
    assert (target / "a.txt").read_bytes() == b"alpha\n"
    assert not list(tmp_path.glob(".fetching-*"))


def test_hash_mismatch_is_refused_and_leaves_nothing(archives, tmp_path):
    archive = archives.make_archive(tmp_path / "fake-1.0.whl", FILES)
    source = archives.make_source(archive)
    archives.make_archive(archive, {**FILES, "pkg/data/a.txt": b"tampered\n"})
    cache = tmp_path / "cache"
    with pytest.raises(FetchError, match=f"SHA-256 mismatch.*expected {source.sha256}.*"
                                         "run `convrnn data fetch fake` again"):
        fetch(source, cache=cache, archive=archive, progress=False)
    assert sorted(os.listdir(cache)) == []


def test_interrupted_fetch_leaves_no_partial_files_and_a_rerun_succeeds(archives, tmp_path, monkeypatch):
    archive = archives.make_archive(tmp_path / "fake-1.0.tgz", FILES)
    source = archives.make_source(archive)
    cache = tmp_path / "cache"
    real_extract = fetch_module.extract_members

    def extract_then_interrupt(archive_path, destination, **kwargs):
        Path(destination, "a.txt").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch_module, "extract_members", extract_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        fetch(source, cache=cache, archive=archive, progress=False)
    assert os.listdir(cache) == []
    assert not is_fetched(source, cache=cache)

    monkeypatch.setattr(fetch_module, "extract_members", real_extract)
    target = fetch(source, cache=cache, archive=archive, progress=False)
    assert (target / "a.txt").read_bytes() == b"alpha\n"


def test_work_left_by_a_killed_fetch_is_cleaned_up(archives, tmp_path):
    archive = archives.make_archive(tmp_path / "fake-1.0.whl", FILES)
    source = archives.make_source(archive)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    abandoned = tmp_path / f".fetching-fake-{int(finished.stdout)}-x1y2"
    (abandoned / "extracted").mkdir(parents=True)
    fetch(source, cache=tmp_path, archive=archive, progress=False)
    assert not abandoned.exists()


def _fake_client(bin_dir: Path, name: str, script: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\nimport os, shutil, sys\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.mark.parametrize(("registry", "client", "suffix"),
                         [("npm", "npm", ".tgz"), ("debian", "apt-get", ".deb")])
def test_fetch_runs_the_registry_client_in_the_work_directory(archives, tmp_path, monkeypatch, registry,
                                                              client, suffix):
    archive = archives.make_archive(tmp_path / f"fake-1.0{suffix}", FILES)
    source = archives.make_source(archive, registry=registry)
    log = tmp_path / "argv.txt"
    _fake_client(tmp_path / "bin", client,
                 f"open({str(log)!r}, 'w').write(' '.join(sys.argv[1:]))\n"
                 f"shutil.copy({str(archive)!r}, os.getcwd())")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    target = fetch(source, cache=tmp_path / "cache", progress=False)
    assert (target / "a.txt").read_bytes() == b"alpha\n"
    expected = "pack fake-package@1.0" if registry == "npm" else "download fake-package=1.0"
    assert log.read_text().startswith(expected)


def test_fetch_asks_pip_for_exactly_the_pinned_wheel(archives, tmp_path, monkeypatch):
    archive = archives.make_archive(tmp_path / "fake-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", FILES)
    source = archives.make_source(archive)
    log = tmp_path / "argv.txt"
    pip = _fake_client(tmp_path / "bin", "pip",
                       f"open({str(log)!r}, 'w').write(' '.join(sys.argv[1:]))\n"
                       f"shutil.copy({str(archive)!r}, sys.argv[sys.argv.index('-d') + 1])")
    monkeypatch.setattr(fetch_module, "client_command", lambda source: [str(pip)])
    fetch(source, cache=tmp_path / "cache", progress=False)
    argv = log.read_text().split()
    assert argv[:2] == ["download", "--no-deps"] and argv[-1] == "fake-package==1.0"
    for option, value in [("--only-binary", ":all:"), ("--platform", "manylinux_2_17_x86_64"),
                          ("--python-version", "3.11"), ("--abi", "cp311")]:
        assert argv[argv.index(option) + 1] == value


def test_pip_selection_for_sdists_and_pure_wheels():
    assert fetch_module._pip_file_selection("x-1.0.tar.gz") == ["--no-binary", ":all:"]
    assert fetch_module._pip_file_selection("x-1.0-py3-none-any.whl") == ["--only-binary",
                                                                           ":all:"]


def test_missing_client_says_what_to_install(archives, tmp_path, monkeypatch):
    archive = archives.make_archive(tmp_path / "fake-1.0.tgz", FILES)
    source = archives.make_source(archive, registry="npm")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FetchError, match=r"npm is not on PATH.*install Node\.js and npm"):
        fetch(source, cache=tmp_path / "cache", progress=False)


def test_failing_client_reports_its_last_message(archives, tmp_path, monkeypatch):
    archive = archives.make_archive(tmp_path / "fake-1.0.deb", FILES)
    source = archives.make_source(archive, registry="debian")
    _fake_client(tmp_path / "bin", "apt-get",
                 "print('E: Unable to locate package fake-package', file=sys.stderr)\n"
                 "sys.exit(100)")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(FetchError, match=r"apt-get update.*Unable to locate package"):
        fetch(source, cache=tmp_path / "cache", progress=False)
    assert os.listdir(tmp_path / "cache") == []


def test_members_outside_the_root_are_never_written(archives, tmp_path):
    archive = archives.make_archive(tmp_path / "evil.zip", {"pkg/data/../../escape.txt": b"x",
                                                   "pkg/data/ok.txt": b"ok"})
    out = tmp_path / "out"
    written = extract_members(archive, out, root="pkg/data/", members=("*",))
    assert written == ["ok.txt"]
    assert not (tmp_path / "escape.txt").exists()


def test_a_debian_package_compressed_with_zstd_is_a_clear_error(archives, tmp_path):
    path = tmp_path / "fake_1.0_all.deb"
    path.write_bytes(archives.ar_bytes({"debian-binary": b"2.0\n", "control.tar.zst": b"x",
                                        "data.tar.zst": b"\x28\xb5\x2f\xfd"}))
    with pytest.raises(ValueError, match=r"zstd-compressed \(data.tar.zst\)"):
        extract_members(path, tmp_path / "out", root="", members=("*",))
    path.write_bytes(b"PK\x03\x04 not a deb")
    with pytest.raises(ValueError, match="not a Debian package"):
        extract_members(path, tmp_path / "out", root="", members=("*",))


def test_a_pattern_matching_nothing_is_an_error(archives, tmp_path):
    archive = archives.make_archive(tmp_path / "fake.zip", FILES)
    with pytest.raises(ValueError, match=r"no file matching \['\*.csv'\]"):
        extract_members(archive, tmp_path / "out", root="pkg/data/", members=("*.csv",))


def test_unknown_archive_kind_and_unknown_name_are_clear_errors(archives, tmp_path):
    with pytest.raises(ValueError, match=r"expected a .whl.*got 'data.rar'"):
        archive_kind("data.rar")
    with pytest.raises(KeyError, match="unknown data set 'nope'; expected one of"):
        get_source("nope")
    with pytest.raises(KeyError, match="unknown data set"):
        dataset_dir("nope")


def test_catalog_entries_are_pinned_and_consistent():
    for name, source in CATALOG.items():
        assert source.name == name
        assert len(source.sha256) == 64 and int(source.sha256, 16) >= 0
        assert source.registry in ("pypi", "debian", "npm")
        assert archive_kind(source.archive) in ("zip", "tar", "deb")
        assert source.members and source.size > 0 and source.license and source.description


def test_choosing_the_pip_client_leaves_the_extension_build_working():
    """Looking for pip once went through importlib.util.find_spec('pip'), which (Python < 3.12) makes setuptools'
    distutils shim switch itself off for the whole process: a fetch from PyPI followed by the first build of the
    compiled core in the same process (a notebook, a fresh `convrnn train`) then failed inside setuptools."""
    import subprocess
    import sys

    script = (
        "from convrnn.data.catalog import CATALOG\n"
        "from convrnn.data.fetch import client_command\n"
        "source = next(s for s in CATALOG.values() if s.registry == 'pypi')\n"
        "assert client_command(source)[1:] == ['-m', 'pip'], client_command(source)\n"
        "from torch.utils import cpp_extension\n"
        "print('built-ready')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["built-ready"]
