"""Every bad value given to the `convrnn` command, one table: subcommand × argument × bad value. Each row
must exit with status 2, print exactly one line on stderr (`convrnn: error: …` or `convrnn <cmd>: error: …`)
naming the argument or the file at fault, and write nothing. Rows run in-process (convrnn.cli.main) in a
scratch directory that is the working directory; a few run as a real process. An unforeseen exception is
one line too, with a hint that `--debug` shows the traceback."""

import os
import subprocess
import sys
import wave

import numpy as np
import pytest
import torch

from convrnn.cli import main
from convrnn.data.image_files import PNG_SIGNATURE
from convrnn.models.keyword_spotter import KeywordSpotter
from convrnn.training.checkpoint import save_model

SPOTTER = {"sample_rate": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 16, "channels": (8, 8, 8, 8),
           "causal": True}


def _wav(path, frames: bytes, *, width=2, rate=8000):
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(width)
        file.setframerate(rate)
        file.writeframes(frames)


def _tiny_corpus(split):
    generator = torch.Generator().manual_seed({"train": 0, "validation": 1, "test": 2}[split])

    def pick(words):
        return words[int(torch.randint(len(words), (1,), generator=generator))]

    return [f"the {pick(['cat', 'dog'])} {pick(['sat', 'ran'])} on a mat" for _ in range(30 if split == "train" else 4)]


def _train_tiny_language_model(out):
    """A real run of the shakespeare recipe (character language model), on a tiny generated corpus: ~1 s."""
    from dataclasses import replace

    from convrnn.recipes import get_recipe

    recipe = replace(get_recipe("shakespeare"), corpus=_tiny_corpus, embedding_size=8, hidden_size=12, batch_size=4,
                     steps=8, evaluations_per_pass=1, time_limit=None, tie_weights=False)
    recipe.train(out, epochs=1, lr=3e-2, progress=False)


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A scratch directory: a trained digits run, a keyword run, and bad files of every kind."""
    root = tmp_path_factory.mktemp("bad-input")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        torch.manual_seed(0)
        assert main(["train", "digits", "--epochs", "1", "--limit", "60", "--out", "run", "--no-progress"]) == 0
    finally:
        os.chdir(cwd)
    torch.manual_seed(0)
    _train_tiny_language_model(root / "lm")
    save_model(root / "kw" / "model", KeywordSpotter(**SPOTTER),
               {"recipe": "keyword", "model": "keyword-spotter", "model_options": SPOTTER, "input_shape": [1, 8000],
                "classes": ["other", "keyword"]})
    (root / "afile").write_text("not a directory\n")
    (root / "adir").mkdir()
    (root / "empty.npy").write_bytes(b"")
    np.save(root / "good.npy", np.zeros((8, 8), dtype=np.float32))
    (root / "truncated.npy").write_bytes((root / "good.npy").read_bytes()[:70])
    (root / "short.npy").write_bytes((root / "good.npy").read_bytes()[:-9])
    np.save(root / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (root / "noise.npy").write_bytes(np.random.default_rng(0).bytes(300))
    (root / "empty.png").write_bytes(b"")
    (root / "signature.png").write_bytes(PNG_SIGNATURE)
    (root / "halfchunk.png").write_bytes(PNG_SIGNATURE + b"\x00\x00\x00\x0dIHDR\x00\x00")
    (root / "baddata.png").write_bytes(PNG_SIGNATURE + b"\x00\x00\x00\x0dIHDR" + bytes([0, 0, 0, 8, 0, 0, 0, 8, 8, 0,
                                                                                           0, 0, 0]) + b"\0" * 4
                                       + b"\x00\x00\x00\x04IDATjunk" + b"\0" * 4)
    (root / "truncated.pgm").write_bytes(b"P5\n8 8\n255\n" + b"\x10" * 20)
    (root / "empty.wav").write_bytes(b"")
    (root / "riff.wav").write_bytes(b"RIFF")
    _wav(root / "clip.wav", np.zeros(8000, dtype="<i2").tobytes())
    (root / "truncated.wav").write_bytes((root / "clip.wav").read_bytes()[:60])
    _wav(root / "eightbit.wav", bytes(8000), width=1)
    _wav(root / "rate16k.wav", np.zeros(1600, dtype="<i2").tobytes(), rate=16000)
    return root


# (argv, what the line must name). Paths are relative to the scratch directory.
CASES = [
    # train: a recipe missing or unknown, each numeric option wrong in type, range or finiteness
    (["train", "--epochs", "1"], "argument 'recipe' is missing"),
    (["train", "--epochs", "1", "--out", "never"], "argument 'recipe' is missing"),
    (["train", "nosuch", "--out", "never"], "nosuch"),
    (["train", "digits", "--epochs", "x", "--out", "never"], "--epochs"),
    (["train", "digits", "--epochs", "1.5", "--out", "never"], "--epochs"),
    (["train", "digits", "--epochs", "0", "--out", "never"], "'epochs' expected an int ≥ 1"),
    (["train", "digits", "--epochs", "-1", "--out", "never"], "'epochs' expected an int ≥ 1"),
    (["train", "digits", "--batch-size", "0", "--out", "never"], "'batch_size' expected an int ≥ 1"),
    (["train", "digits", "--batch-size", "", "--out", "never"], "--batch-size"),
    (["train", "digits", "--lr", "nan", "--out", "never"], "'lr' expected a positive finite number"),
    (["train", "digits", "--lr", "inf", "--out", "never"], "'lr' expected a positive finite number"),
    (["train", "digits", "--lr", "-1", "--out", "never"], "'lr' expected a positive finite number"),
    (["train", "digits", "--lr", "0", "--out", "never"], "'lr' expected a positive finite number"),
    (["train", "digits", "--lr", "fast", "--out", "never"], "--lr"),
    (["train", "digits", "--limit", "0", "--out", "never"], "'limit' expected an int ≥ 1"),
    (["train", "digits", "--limit", "-3", "--out", "never"], "'limit' expected an int ≥ 1"),
    (["train", "digits", "--seed", "-1", "--out", "never"], "'seed' expected 0 ≤ seed < 2**32"),
    (["train", "digits", "--seed", "9" * 30, "--out", "never"], "'seed' expected 0 ≤ seed < 2**32"),
    (["train", "digits", "--dist-timeout", "-1", "--out", "never"], "'--dist-timeout' expected seconds > 0"),
    (["train", "digits", "--dist-timeout", "nan", "--out", "never"], "'--dist-timeout' expected seconds > 0"),
    # devices: not a device, one this torch lacks, one that holds no data, an index past the last
    (["train", "digits", "--device", "banana", "--out", "never"], "argument 'device' expected a device name"),
    (["train", "digits", "--device", "", "--out", "never"], "argument 'device'"),
    (["train", "digits", "--device", "cuda:99", "--out", "never"], "argument 'device' is 'cuda:99'"),
    (["train", "digits", "--device", "xpu", "--out", "never"], "argument 'device' is 'xpu'"),
    (["train", "digits", "--device", "meta", "--out", "never"], "argument 'device' expected a device that holds"),
    (["eval", "run", "--device", "banana"], "eval: argument 'device'"),
    (["eval", "run", "--device", "meta"], "eval: argument 'device'"),
    # the run directory: a file, inside a file; resuming nothing; an option its task kind does not take
    (["train", "digits", "--out", "afile"], "argument 'out' expected a directory to write, got 'afile', which is a file"),
    (["train", "digits", "--out", "afile/run"], "argument 'out' expected a directory to write, got 'afile/run', "
                                                "which lies inside 'afile'"),
    (["train", "digits", "--resume", "--out", "never"], "--resume found no checkpoint"),
    (["train", "digits", "--cell", "lstm", "--out", "never"], "--cell: only language-model recipes"),
    (["train", "digits", "--bogus"], "--bogus"),
    # eval / inspect / summary / export / report: runs that are not runs, values out of range
    (["eval", "missing"], "'missing'"),
    (["eval", "afile"], "'afile' holds no model"),
    (["eval", "adir"], "'adir' holds no model"),
    (["eval", "run", "--split", "bogus"], "--split"),
    (["inspect", "run", "--batch-size", "0"], "--batch-size"),
    (["inspect", "run", "--batch-size", "-1"], "--batch-size"),
    (["inspect", "missing"], "'missing'"),
    (["summary", "seed-cnn", "--input-shape", "0"], "--input-shape"),
    (["summary", "seed-cnn", "--input-shape", "1,a,28"], "--input-shape"),
    (["summary", "seed-cnn", "--input-shape", "1,99999999,99999999"], "--input-shape: expected at most"),
    (["summary", "nosuch"], "'nosuch'"),
    (["export", "run", "--format", "gif"], "--format"),
    (["export", "run", "--out", "adir"], "argument 'out' expected a file to write, got 'adir', which is a directory"),
    (["export", "run", "--out", "afile/model.onnx"], "which lies inside 'afile'"),
    (["report", "run", "--out", "afile/report.html"], "report: argument 'out' expected a file to write"),
    (["report", "run", "--out", "adir"], "report: argument 'out' expected a file to write, got 'adir', which is a "
                                         "directory"),
    (["report", "run", "--batch-size", "0"], "--batch-size"),
    (["report", "missing"], "'missing'"),
    # predict: files empty, truncated, pickled, not what their name says; options out of range
    (["predict", "run", "empty.npy"], "'empty.npy': an empty .npy file"),
    (["predict", "run", "truncated.npy"], "'truncated.npy': not a valid .npy array file"),
    (["predict", "run", "short.npy"], "'short.npy': not a valid .npy array file"),
    (["predict", "run", "objects.npy"], "'objects.npy': not a valid .npy array file: it holds Python objects"),
    (["predict", "run", "noise.npy"], "'noise.npy': not a .npy array file"),
    (["predict", "run", "empty.png"], "'empty.png'"),
    (["predict", "run", "signature.png"], "'signature.png'"),
    (["predict", "run", "halfchunk.png"], "'halfchunk.png'"),
    (["predict", "run", "baddata.png"], "'baddata.png'"),
    (["predict", "run", "truncated.pgm"], "'truncated.pgm'"),
    (["predict", "run", "missing.png"], "'missing.png'"),
    (["predict", "run", "adir"], "'adir'"),
    (["predict", "run", "good.npy", "--top", "0"], "argument --top: expected an int ≥ 1, got 0"),
    (["predict", "run", "good.npy", "--top", "many"], "argument --top: expected an int ≥ 1, got 'many'"),
    (["predict", "kw", "empty.wav"], "'empty.wav': not a valid WAV file"),
    (["predict", "kw", "riff.wav"], "'riff.wav': not a valid WAV file"),
    (["predict", "kw", "truncated.wav"], "'truncated.wav'"),
    (["predict", "kw", "eightbit.wav"], "expected 16-bit PCM"),
    (["predict", "missing", "good.npy"], "'missing'"),
    # listen / sample / embed / data: capabilities a run lacks, options out of range, files that are not
    (["listen", "kw", "empty.wav"], "'empty.wav': not a valid WAV file"),
    (["listen", "kw", "missing.wav"], "'missing.wav'"),
    (["listen", "kw", "clip.wav", "--chunk-ms", "0"], "'--chunk-ms' expected a finite duration > 0"),
    (["listen", "kw", "clip.wav", "--threshold", "nan"], "'--threshold'"),
    (["listen", "run", "clip.wav"], "cannot run on a live signal"),
    (["sample", "run"], "cannot generate text"),
    (["sample", "run", "--length", "x"], "--length"),
    # listen on a keyword model (the right kind): every option out of range or not finite, signals it cannot take
    (["listen", "kw", "clip.wav", "--chunk-ms", "inf"], "'--chunk-ms' expected a finite duration > 0, got inf"),
    (["listen", "kw", "clip.wav", "--chunk-ms", "nan"], "'--chunk-ms' expected a finite duration > 0, got nan"),
    (["listen", "kw", "clip.wav", "--chunk-ms", "-5"], "'--chunk-ms' expected a finite duration > 0, got -5.0"),
    (["listen", "kw", "clip.wav", "--chunk-ms", "x"], "--chunk-ms"),
    (["listen", "kw", "clip.wav", "--threshold", "1.5"], "'--threshold' expected a probability in (0, 1), got 1.5"),
    (["listen", "kw", "clip.wav", "--threshold", "-0.1"], "'--threshold' expected a probability in (0, 1)"),
    (["listen", "kw", "clip.wav", "--threshold", "inf"], "'--threshold' expected a probability in (0, 1), got inf"),
    (["listen", "kw", "clip.wav", "--hold-ms", "-1"], "'--hold-ms' expected a finite duration ≥ 0, got -1.0"),
    (["listen", "kw", "clip.wav", "--hold-ms", "nan"], "'--hold-ms' expected a finite duration ≥ 0, got nan"),
    (["listen", "kw", "clip.wav", "--hold-ms", "inf"], "'--hold-ms' expected a finite duration ≥ 0, got inf"),
    (["listen", "kw", "clip.wav", "--backend", "gpu"], "'--backend' expected one of ['python', 'native'], got 'gpu'"),
    (["listen", "kw", "rate16k.wav"], "'rate16k.wav' is sampled at 16000 Hz, expected 8000 Hz"),
    (["listen", "kw", "adir"], "argument 'source' expected a WAV file, got 'adir', which is a directory"),
    (["listen", "kw", "truncated.wav"], "'truncated.wav'"),
    (["listen", "kw", "eightbit.wav"], "expected 16-bit PCM"),
    (["listen", "lm", "clip.wav"], "holds a shakespeare model of the language-model task kind, which cannot run on a "
                                   "live signal"),
    (["listen", "missing", "clip.wav"], "'missing'"),
    # sample on a trained language model (the right kind): every option out of range, NaN/inf, a prompt it cannot read
    (["sample", "lm", "--length", "-3"], "argument --length: expected an int ≥ 1, got -3"),
    (["sample", "lm", "--length", "0"], "argument --length: expected an int ≥ 1, got 0"),   # once: an empty line, status 0
    (["sample", "lm", "--temperature", "0"], "'temperature' expected a finite number > 0, got 0.0"),
    (["sample", "lm", "--temperature", "-1"], "'temperature' expected a finite number > 0, got -1.0"),
    (["sample", "lm", "--temperature", "nan"], "'temperature' expected a finite number > 0, got nan"),
    (["sample", "lm", "--temperature", "inf"], "'temperature' expected a finite number > 0, got inf"),
    (["sample", "lm", "--top-k", "0"], "'top_k' expected None or an int ≥ 1, got 0"),
    (["sample", "lm", "--top-k", "1.5"], "--top-k"),
    (["sample", "lm", "--top-p", "0"], "'top_p' expected None or a number in (0, 1], got 0.0"),
    (["sample", "lm", "--top-p", "1.5"], "'top_p' expected None or a number in (0, 1], got 1.5"),
    (["sample", "lm", "--top-p", "nan"], "'top_p' expected None or a number in (0, 1], got nan"),
    (["sample", "lm", "--seed", "-1"], "'seed' expected an int in [0, 4294967295], got -1"),
    (["sample", "lm", "--seed", "9" * 23], "'seed' expected an int in [0, 4294967295]"),
    (["sample", "lm", "--prompt", "Q"], "--prompt: Vocabulary.encode: 1 token(s) outside the vocabulary"),
    (["sample", "kw"], "cannot generate text"),
    (["sample", "missing"], "'missing'"),
    (["sample", "afile"], "'afile' holds no model"),
    (["embed", "run", "--similar", "a"], "cannot look up word vectors"),
    (["embed", "run"], "expected at least one query"),
    (["embed", "afile", "--similar", "a"], "afile, line 1"),
    (["embed", "afile", "--similar", "a", "--top", "0"], "argument --top"),
    (["embed", "afile", "--similar", "a", "--restrict", "-2"], "argument --restrict"),
    (["data"], "ACTION"),
    (["data", "fetch", "bogus"], "unknown data set 'bogus'"),
    (["bogus"], "'bogus'"),
]


def _tree(root):
    """Every path under ``root`` with its size and modification time: what a command may not change."""
    return {str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(root.rglob("*"))}


def _assert_one_line(err, needle, argv):
    lines = err.splitlines()
    assert len(lines) == 1, (argv, err)
    command = argv[0] if argv else ""
    assert lines[0].startswith(("convrnn: error: ", f"convrnn {command}: error: ")), (argv, lines[0])
    assert needle in lines[0], (argv, needle, lines[0])


@pytest.mark.parametrize(("argv", "needle"), CASES, ids=[" ".join(argv) or "-" for argv, _ in CASES])
def test_a_bad_argument_is_one_line_status_2_and_writes_nothing(place, monkeypatch, capsys, argv, needle):
    monkeypatch.chdir(place)
    before = _tree(place)
    assert main(argv) == 2
    captured = capsys.readouterr()
    _assert_one_line(captured.err, needle, argv)
    assert captured.out == ""
    assert _tree(place) == before


def test_the_table_covers_every_subcommand():
    from convrnn.cli import _build_parser

    commands = set(_build_parser()._subparsers._group_actions[0].choices)
    covered = {argv[0] for argv, _ in CASES}
    assert commands - covered == {"build-core"}   # it takes no argument


@pytest.mark.parametrize(("argv", "needle"), [
    (["train", "digits", "--device", "cuda", "--out", "never"], "argument 'device' is 'cuda'"),
    (["train", "--epochs", "1"], "argument 'recipe' is missing"),
    (["predict", "run", "empty.npy"], "'empty.npy': an empty .npy file"),
    (["report", "run", "--out", "afile/x.html"], "which lies inside 'afile'"),
])
def test_a_bad_argument_is_one_line_from_the_real_command(place, argv, needle):
    before = _tree(place)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-m", "convrnn", *argv], capture_output=True, text=True, timeout=120,
                            cwd=place, env=env)
    assert result.returncode == 2, result.stderr
    _assert_one_line(result.stderr, needle, argv)
    assert _tree(place) == before


def test_an_unforeseen_error_is_one_line_with_the_debug_hint(place, monkeypatch, capsys):
    import convrnn.tasks.image

    def broken(*args, **kwargs):
        raise ZeroDivisionError("deep inside\nover two lines")

    monkeypatch.chdir(place)
    monkeypatch.setattr(convrnn.tasks.image.ImageRecipe, "evaluate", broken)
    assert main(["eval", "run"]) == 1
    assert capsys.readouterr().err == ("convrnn eval: error: unexpected ZeroDivisionError: deep inside over two lines "
                                       "(run `convrnn --debug eval …` for the traceback)\n")
    with pytest.raises(ZeroDivisionError, match="deep inside"):
        main(["--debug", "eval", "run"])


def test_a_loss_gone_non_finite_is_one_line_naming_the_step_and_checkpoint(place, monkeypatch, capsys):
    import convrnn.tasks.image
    from convrnn.training import NonFiniteLossError

    def diverges(self, run, **options):
        raise NonFiniteLossError(7, run.out / "checkpoints" / "last", 6)

    monkeypatch.chdir(place)
    monkeypatch.setattr(convrnn.tasks.image.ImageRecipe, "fit", diverges)
    assert main(["train", "digits", "--out", "diverged", "--no-progress"]) == 1
    assert capsys.readouterr().err == (
        "convrnn: error: fit: the training loss became NaN or infinite at step 7; training stopped before saving "
        "anything trained on it; the last good checkpoint is 'diverged/checkpoints/last' (step 6), which --resume "
        "continues from (the same settings on the same data meet the same step again: for a smaller learning rate "
        "start afresh)\n")
