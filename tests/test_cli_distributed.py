"""``convrnn train`` launched like torchrun launches it: two gloo processes on this machine train one
run (one run directory, written once), with the weights of one process given the same global batch;
a run resumes on another number of processes; a rank that dies ends the other with one line.

The processes are started by ``tests/ranks.py`` with torchrun's environment, on a planted digits
data set whose classes are easy. Runs that compare weights turn dropout off: each rank draws its
own dropout masks, which no number of processes can share (with dropout the weights of 1 and 2
processes differ by up to ~0.08 after 2 epochs of the real digits; the test accuracies agree to
about half a point).
"""

import json
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import ranks
from convrnn.training.checkpoint import read_config

TRAIN = ["train", "digits", "--limit", "256", "--no-progress"]  # 8 global batches of 32 per epoch


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return ranks.plant_digits(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cache) -> dict[str, Path | list]:
    """Two epochs of the same run on one process and on two, started at the same time."""
    root = tmp_path_factory.mktemp("runs")
    single = ranks.start([*TRAIN, "--epochs", "2", "--out", str(root / "one")], 1, cache, exact=True)
    double = ranks.start([*TRAIN, "--epochs", "2", "--out", str(root / "two")], 2, cache, exact=True)
    outputs = [(process.communicate(timeout=300), process) for process in [*single, *double]]
    return {"one": root / "one", "two": root / "two",
            "outputs": [(process.returncode, out, err) for (out, err), process in outputs]}


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model" / "model.safetensors")


def assert_same_weights(first: Path, second: Path) -> None:
    one, two = weights(first), weights(second)
    assert one.keys() == two.keys()
    for key in one:  # measured: at most 6e-8 apart (float32 sums of two half batches vs one batch)
        torch.testing.assert_close(two[key], one[key], rtol=0, atol=1e-6)


def test_two_processes_write_one_run_with_the_weights_of_one_process(runs):
    (single, single_out, single_err), (zero, zero_out, zero_err), (one, one_out, one_err) = runs["outputs"]
    assert (single, zero, one) == (0, 0, 0), single_err + zero_err + one_err
    assert "on 2 processes" in zero_out and one_out == ""  # rank 0 alone speaks
    assert zero_err == one_err == ""
    run = runs["two"]
    assert sorted(path.name for path in run.iterdir()) == ["checkpoints", "log.csv", "model", "scores.json"]
    assert len((run / "log.csv").read_text().splitlines()) == 1 + 2  # written once per epoch
    launch = {"world_size": 2, "per_rank_batch": 16, "backend": "gloo"}
    assert json.loads((run / "scores.json").read_text())["launch"] == launch
    assert read_config(run / "model")["launch"] == launch
    assert_same_weights(runs["one"], run)
    # the logged loss and accuracy are the whole data's (summed over ranks), as one process logs them
    for line_one, line_two in zip((runs["one"] / "log.csv").read_text().splitlines()[1:],
                                  (run / "log.csv").read_text().splitlines()[1:], strict=True):
        values_one, values_two = line_one.split(",")[:6], line_two.split(",")[:6]  # up to lr, not the timings
        assert [float(v) for v in values_two] == pytest.approx([float(v) for v in values_one], rel=1e-5)


@pytest.mark.slow  # about 50 s here: five processes more
def test_a_run_resumes_on_another_number_of_processes(runs, cache, tmp_path):
    resumed = {}
    for name, processes in (("two", 1), ("one", 2)):  # 2 → 1 and 1 → 2 processes
        out = tmp_path / f"{name}-then-{processes}"
        shutil.copytree(runs[name], out)
        results = ranks.run([*TRAIN, "--epochs", "3", "--resume", "--out", str(out)], processes, cache, exact=True)
        assert [status for status, _, _ in results] == [0] * processes, results
        assert "resuming a run trained on" in results[0][2]  # says what carries over
        assert len((out / "log.csv").read_text().splitlines()) == 1 + 3
        resumed[name] = out
    straight = tmp_path / "straight"
    results = ranks.run([*TRAIN, "--epochs", "3", "--out", str(straight)], 1, cache, exact=True)
    assert results[0][0] == 0, results
    for out in resumed.values():  # within float rounding of the uninterrupted run: same weights, same score
        assert_same_weights(straight, out)
        scores, expected = (json.loads((path / "scores.json").read_text()) for path in (out, straight))
        assert scores["test_accuracy"] == pytest.approx(expected["test_accuracy"], abs=1e-9)
        assert scores["test_loss"] == pytest.approx(expected["test_loss"], rel=1e-5)


def stop_one_rank(cache: Path, out: Path, sig: signal.Signals, *options: str) -> tuple[int, float, str]:
    """Start 2 ranks, send ``sig`` to rank 1 once the first epoch is over; rank 0's status, the
    seconds it took to end after the signal, and its stderr."""
    started = ranks.start([*TRAIN, "--epochs", "1000", "--out", str(out), *options], 2, cache)
    try:
        deadline = time.monotonic() + 120
        while not (out / "log.csv").exists():  # the first epoch is over: training is under way
            assert time.monotonic() < deadline and all(p.poll() is None for p in started), "training did not start"
            time.sleep(0.1)
        started[1].send_signal(sig)
        signalled = time.monotonic()
        _, err = started[0].communicate(timeout=60)
        return started[0].returncode, time.monotonic() - signalled, err
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.communicate()


def assert_one_line_and_no_half_written_file(err: str, out: Path, cause: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("convrnn: error: rank 0 of 2 lost the other processes"), err
    assert cause in lines[0]
    assert [path for path in out.rglob("*") if path.name.startswith(".")] == []  # no partial checkpoint or file


def test_a_rank_that_dies_ends_the_other_with_one_line(cache, tmp_path):
    status, seconds, err = stop_one_rank(cache, tmp_path / "run", signal.SIGKILL)
    assert status == 1 and seconds < 30  # gloo sees the closed connection at once: measured 1–3 s
    assert_one_line_and_no_half_written_file(err, tmp_path / "run", "another rank died or was stopped")


@pytest.mark.slow  # about 25 s here
def test_a_rank_that_stops_answering_ends_the_other_after_the_timeout(cache, tmp_path):
    status, seconds, err = stop_one_rank(cache, tmp_path / "run", signal.SIGSTOP, "--dist-timeout", "5")
    assert status == 1 and 4 < seconds < 30  # measured 5.1 s
    assert_one_line_and_no_half_written_file(err, tmp_path / "run", "Timed out")
