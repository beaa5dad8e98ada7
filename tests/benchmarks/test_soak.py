"""benchmarks/soak.py: a run SIGKILLed at random moments and resumed ends with the uninterrupted run's model,
bit for bit, and its report gives the peak memory of every start."""

import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def load():
    spec = importlib.util.spec_from_file_location("soak", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow   # four fresh processes (torch's import each time): about a minute on 2 cores
def test_a_run_killed_and_resumed_ends_with_the_uninterrupted_model_bit_for_bit(tmp_path, capsys):
    assert load().main(["--synthetic", "--epochs", "2", "--kills", "1", "--seed", "1", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^start 1: killed after [\d.]+ s, peak RSS \d+ MiB$", out, re.M), out
    assert re.search(r"^final model after 1 kills and \d+ starts equals the uninterrupted run's: yes, bit for bit "
                     r"\(\d+ tensors\)$", out, re.M), out
    assert re.search(r"^peak RSS across restarts: \d+ MiB \(first start \d+ MiB, uninterrupted \d+ MiB; growth over "
                     r"restarts [+-]\d+ MiB\)$", out, re.M), out
    assert list(tmp_path.iterdir()) == []   # the run directories are removed


def test_bad_arguments_are_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as leaving:
        load().main(["--epochs", "0"])
    assert leaving.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("--epochs must be ≥ 1 and --kills ≥ 0")
