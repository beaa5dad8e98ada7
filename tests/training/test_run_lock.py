"""One training run per run directory: a second one is refused in one line naming the holder, and a
holder that died (even by kill -9) holds nothing."""

import os
import signal
import subprocess
import sys

import pytest

from convrnn.cli import main
from convrnn.training import RunLock, RunLockedError


def test_a_second_lock_on_the_same_directory_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    with RunLock(out):
        assert (out / ".lock").is_file()
        with pytest.raises(RunLockedError) as raised, RunLock(out, where="train"):
            pass
        message = str(raised.value)
        assert message.startswith(f"train: argument 'out' is in use: process {os.getpid()} on ")
        assert f"training into '{out}' since " in message and message.endswith("or give another --out")
        with RunLock(tmp_path / "other"):   # another directory is free
            pass
    assert not out.exists()   # released: the lock file and the directory it created (left empty) are gone
    with RunLock(out):
        (out / "kept").write_text("x")
    assert sorted(p.name for p in out.iterdir()) == ["kept"]


def test_a_lock_whose_holder_was_killed_is_free(tmp_path):
    out = tmp_path / "run"
    code = ("import sys, time; from convrnn.training import RunLock\n"
            f"lock = RunLock({str(out)!r}).__enter__(); print('held', flush=True); time.sleep(120)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(RunLockedError, match=f"process {holder.pid} on "), RunLock(out):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert f'"pid": {holder.pid}' in (out / ".lock").read_text()   # the dead holder's file is still there
    with RunLock(out):
        assert f'"pid": {os.getpid()}' in (out / ".lock").read_text()


def test_train_into_a_directory_being_trained_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    with RunLock(out):
        assert main(["train", "digits", "--epochs", "1", "--limit", "50", "--out", str(out), "--no-progress"]) == 2
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"convrnn: error: train: argument 'out' is in use: process {os.getpid()} on ")
