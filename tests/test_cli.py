"""The `convrnn` command itself: --help, --version, no command, and one-line errors."""

import subprocess
import sys

from convrnn import __version__


def run(*args):
    return subprocess.run([sys.executable, "-m", "convrnn", *args], capture_output=True, text=True, timeout=120)


def test_version_prints_the_package_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"convrnn {__version__}"


def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0
    for command in ("train", "eval", "predict", "summary", "data"):
        assert command in result.stdout


def test_no_command_prints_help_and_succeeds():
    result = run()
    assert result.returncode == 0 and "usage: convrnn" in result.stdout


def test_summary_of_a_model_name_prints_the_seed_formula():
    result = run("summary", "seed-cnn")
    assert result.returncode == 0, result.stderr
    assert "32×5×5×1 + 32 = 832" in result.stdout
    assert "receptive field" in result.stdout


def test_summary_input_shape_must_be_integers():
    result = run("summary", "seed-cnn", "--input-shape", "1,a,28")
    assert result.returncode == 2
    assert result.stderr.strip() == "convrnn: error: --input-shape: expected integers like 1,28,28, got '1,a,28'"


def test_train_cell_bad_values_are_one_line():
    cases = [
        (("train", "shakespeare", "--cell", "transformer"),
         "--cell: expected one of ['elman', 'gru', 'jordan', 'lstm', 'mgu', 'rnn', 'mingru', 'minlstm', 'qrnn'], "
         "got 'transformer'"),
        (("train", "digits", "--cell", "qrnn"), "--cell: only language-model recipes"),
    ]
    for arguments, message in cases:
        result = run(*arguments)
        assert result.returncode == 2, (arguments, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("convrnn: error: ") and message in lines[0], lines


def test_train_help_offers_the_cell_option():
    result = run("train", "--help")
    assert result.returncode == 0 and "--cell" in result.stdout and "mingru" in result.stdout
