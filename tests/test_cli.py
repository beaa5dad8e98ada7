"""The `convrnn` command itself: --help, --version, no command, and one-line errors."""

import re
import subprocess
import sys

import pytest

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
         "--cell: expected one of ['elman', 'gated', 'gru', 'jordan', 'lstm', 'mgu', 'rnn', 'mingru', 'minlstm', 'qrnn'], "
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


def test_train_list_names_each_recipe_with_its_task_kind(capsys):
    from convrnn.cli import main

    assert main(["train", "--list"]) == 0
    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
    assert rows["mnist"] == "image" and rows["shakespeare"] == "language-model" and rows["g2p"] == "seq2seq"
    assert rows["keyword"] == rows["keyword-causal"] == "keyword"
    from convrnn.recipes import RECIPE_NAMES

    assert rows["word2vec"] == "word-vectors" and sorted(rows) == sorted(RECIPE_NAMES) and len(rows) >= 18


def test_help_lists_the_recipes_with_their_task_kinds():
    result = run("--help")
    assert result.returncode == 0
    recipes = result.stdout.split("recipes (convrnn train RECIPE; task kind, description):", 1)[1]
    assert recipes.split()[:2] == ["mnist", "image"] and re.search(r"\n\s*brown-pos\s+tagging\s", recipes)


def test_a_run_whose_task_cannot_sample_or_embed_says_so_in_one_line(tmp_path, capsys):
    from convrnn.cli import main
    from convrnn.models import build_model
    from convrnn.training.checkpoint import save_model

    model, shape = build_model("digits-cnn")
    save_model(tmp_path / "model", model, {"recipe": "digits", "model": "digits-cnn", "input_shape": list(shape)})
    for command, cannot, able in (("sample", "generate text", "language-model"),
                                  ("embed", "look up word vectors", "word-vectors")):
        assert main([command, str(tmp_path), "--similar", "a"] if command == "embed" else [command, str(tmp_path)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == (f"convrnn: error: {command}: '{tmp_path}' holds a digits model of the image task kind, "
                                f"which cannot {cannot}; task kinds that can: {able}\n")


def test_a_device_this_machine_lacks_is_one_line(capsys):
    from convrnn.cli import main

    assert main(["train", "digits", "--device", "toaster", "--out", "/nonexistent/never-written"]) == 2
    assert capsys.readouterr().err == ("convrnn: error: train: argument 'device' expected a device name such as "
                                       "'cpu', 'cuda' or 'cuda:1', got 'toaster'\n")


@pytest.mark.parametrize("seconds", ["0", "-5", "nan"])
def test_a_timeout_that_is_not_positive_is_one_line(capsys, seconds):
    from convrnn.cli import main

    assert main(["train", "digits", "--dist-timeout", seconds, "--out", "/nonexistent/never-written"]) == 2
    assert capsys.readouterr().err == ("convrnn: error: train: argument '--dist-timeout' expected seconds > 0, "
                                       f"got {float(seconds)}\n")
