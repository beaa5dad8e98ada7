"""benchmarks/recurrent_gpu.py runs: its --dry-run (CPU tensors through Triton's interpreter, tiny
shapes) goes through every code path of the GPU timing tables, and bad arguments are refused."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton", reason="Triton is not installed (pip install 'convrnn[gpu]'): the GPU benchmark's "
                                     "dry run needs its interpreter")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "recurrent_gpu.py"


def load():
    if str(SCRIPT.parent) not in sys.path:   # as `python benchmarks/recurrent_gpu.py` has it: _timing beside it
        sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("recurrent_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_prints_a_row_per_cell_and_parallel_layer(capsys):
    script = load()
    assert script.main(["--dry-run", "--cells", "gru_after_lengths,jordan"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0] in
            ("gru_after_lengths", "jordan", "MinGRU", "MinLSTM", "QRNN")]
    assert [r[0] for r in rows] == ["gru_after_lengths", "jordan"] + ["MinGRU"] * 2 + ["MinLSTM"] * 2 + ["QRNN"] * 2
    assert all(r[-3].endswith("×") and float(r[-3][:-1]) > 0 for r in rows)
    assert "persistent" in out and "the times say nothing about a GPU" in out


def test_unknown_cell_and_missing_gpu_are_refused(capsys, monkeypatch):
    script = load()
    assert script.main(["--dry-run", "--cells", "lstm,quantum"]) == 2
    assert "unknown cells ['lstm', 'quantum']" in capsys.readouterr().err
    monkeypatch.setattr(script.torch.cuda, "is_available", lambda: False)
    assert script.main(["--quick"]) == 2
    assert "recurrent_gpu: error: no CUDA device (use --dry-run" in capsys.readouterr().err
