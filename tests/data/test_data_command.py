"""`convrnn data list` / `convrnn data fetch NAME` through a real subprocess, without network."""

from __future__ import annotations

import os
import subprocess
import sys

from convrnn.data.catalog import CATALOG


def _run(*args: str, cache, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONVRNN_CACHE": str(cache)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "convrnn", "data", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_list_shows_every_data_set_with_size_license_source_and_cache_state(tmp_path, planted):
    planted(tmp_path, "digits", {"data/digits.csv.gz": b""})
    result = _run("list", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.strip()}
    for name, source in CATALOG.items():
        assert source.requirement in rows[name] and source.license in rows[name]
        assert f"{source.size / 1e6:.1f} MB" in rows[name]
    assert rows["digits"].split()[3] == "yes" and rows["mnist"].split()[3] == "no"
    assert str(tmp_path) in result.stdout


def test_unknown_name_is_a_one_line_error_with_the_known_names(tmp_path):
    result = _run("fetch", "cifar10", cache=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"convrnn: error: unknown data set 'cifar10'; expected one of {sorted(CATALOG)}"]
    assert "Traceback" not in result.stderr


def test_missing_client_is_a_one_line_error_saying_what_to_install(tmp_path):
    result = _run("fetch", "brown", cache=tmp_path, path=str(tmp_path / "no-such-bin"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "npm is not on PATH" in lines[0] and "install Node.js and npm" in lines[0]
    assert "Traceback" not in result.stderr


def test_fetch_of_a_cached_data_set_prints_its_directory_and_does_no_work(tmp_path, planted):
    directory = planted(tmp_path, "cmudict", {"cmudict.dict": b"a AH0\n"})
    result = _run("fetch", "cmudict", cache=tmp_path, path=str(tmp_path / "no-such-bin"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(directory)
