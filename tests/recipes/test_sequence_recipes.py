"""The four sequence recipes end to end on small generated data (never the real data in CI):
training lowers the loss, the run directory is complete, padding never changes a prediction,
eval/predict work from the CLI, the baselines are right on hand examples, bad input is one line."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from convrnn.cli import main
from convrnn.data.batching import pad_sequences
from convrnn.data.universal_tags import UNIVERSAL_TAGS
from convrnn.models.sequence_classifier import BagOfWordsClassifier
from convrnn.recipes import RECIPE_NAMES, get_recipe
from convrnn.tasks import forecasting as forecast_recipe
from convrnn.tasks.forecasting import forecast_errors
from convrnn.tasks.sequence import load_sequence_model
from convrnn.tasks.sequence_classification import hold_out_per_class
from convrnn.tasks.text_classification import distinct_ids, fit_logistic_regression

FAST = {"progress": False}


def _losses(path):
    rows = path.read_text().splitlines()
    header = rows[0].split(",")
    return [float(row.split(",")[header.index("train_loss")]) for row in rows[1:]]


# ---------------------------------------------------------------- japanese-vowels (features)

def synthetic_utterances():
    """Three classes of 2-channel sequences of length 3–9: class k drifts in direction k."""
    generator = np.random.default_rng(0)
    directions = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])

    def split(count):
        labels = np.arange(count) % 3
        series = [np.cumsum(directions[k] * 0.5 + 0.3 * generator.standard_normal((generator.integers(3, 10), 2)), 0)
                  for k in labels]
        return series, labels
    return {"train": split(60), "test": split(30)}


@pytest.fixture(scope="module")
def vowels_run(tmp_path_factory):
    recipe = dataclasses.replace(get_recipe("japanese-vowels"), load=synthetic_utterances, classes=("a", "b", "c"),
                                 model_options={"hidden_size": 8, "pooling": "mean"}, epochs=6, batch_size=8,
                                 lr=1e-2, validation_per_class=2)
    out = tmp_path_factory.mktemp("vowels")
    return recipe, out, recipe.train(out, **FAST)


def test_feature_recipe_learns_and_writes_a_complete_run(vowels_run):
    recipe, out, scores = vowels_run
    losses = _losses(out / "log.csv")
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert scores["test_accuracy"] > 0.6
    for path in ["model/model.safetensors", "model/config.json", "checkpoints/best", "scores.json"]:
        assert (out / path).exists(), path
    assert json.loads((out / "scores.json").read_text())["test_accuracy"] == scores["test_accuracy"]
    assert recipe.evaluate(out)["accuracy"] == pytest.approx(scores["test_accuracy"])


def test_appending_padding_never_changes_a_trained_prediction(vowels_run):
    _, out, _ = vowels_run
    model, _ = load_sequence_model(out)
    series, _ = synthetic_utterances()["test"]
    inputs, lengths = pad_sequences([torch.tensor(s, dtype=torch.float32) for s in series])
    logits = model(inputs, lengths)
    for extra in (1, 7):
        padded = torch.cat([inputs, torch.full((len(series), extra, 2), 123.0)], dim=1)
        assert torch.allclose(model(padded, lengths), logits, atol=1e-5)
    alone = torch.cat([model(torch.tensor(s, dtype=torch.float32)[None]) for s in series])
    assert torch.allclose(alone, logits, atol=1e-5)


def test_feature_recipe_predicts_from_files(vowels_run, tmp_path, capsys):
    _, out, _ = vowels_run
    series, _ = synthetic_utterances()["test"]
    np.save(tmp_path / "u.npy", series[0])
    np.savetxt(tmp_path / "u.csv", series[0], delimiter=",")
    assert main(["predict", str(out), str(tmp_path / "u.npy"), str(tmp_path / "u.csv"), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split(": ")[1] == lines[1].split(": ")[1]
    np.save(tmp_path / "bad.npy", np.zeros((4, 3)))
    assert main(["predict", str(out), str(tmp_path / "bad.npy")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "expected a sequence of shape (T, 2), got (4, 3)" in error


def test_hold_out_per_class_by_hand():
    kept, held = hold_out_per_class(np.array([0, 1, 0, 1, 0, 2]), 1)
    assert held.tolist() == [3, 4, 5] and kept.tolist() == [0, 1, 2]


# ---------------------------------------------------------------- rotten-tomatoes (texts)

POSITIVE, NEGATIVE = ["great", "fine", "moving", "superb"], ["awful", "dull", "boring", "bad"]
FILLER = ["the", "movie", "plot", "a", "is", "and", "actors", "film"]


def synthetic_reviews():
    generator = np.random.default_rng(1)

    def review(label):
        words = list(generator.choice(FILLER, generator.integers(2, 7)))
        words.insert(int(generator.integers(0, len(words))), generator.choice(POSITIVE if label else NEGATIVE))
        return " ".join(words) + ".", label
    return {split: [review(i % 2) for i in range(count)]
            for split, count in (("train", 160), ("validation", 40), ("test", 40))}


@pytest.fixture(scope="module")
def reviews_run(tmp_path_factory):
    recipe = dataclasses.replace(get_recipe("rotten-tomatoes"), load=synthetic_reviews, min_count=1,
                                 model_options={"embedding_dim": 8, "hidden_size": 8, "pooling": "max+mean",
                                                "multichannel": True},
                                 cnn_options={"embedding_dim": 8, "channels": 6, "kernel_sizes": (2, 3), "dropout": 0.0,
                                              "multichannel": True},
                                 epochs=5, cnn_epochs=5, batch_size=16, lr=2e-2, baseline_l2=(1e-3, 1e-1),
                                 word_vectors=None, members=1, cnn_members=2)
    out = tmp_path_factory.mktemp("reviews")
    return recipe, out, recipe.train(out, **FAST)


def test_text_recipe_trains_three_models_whose_losses_fall(reviews_run):
    recipe, out, scores = reviews_run
    for log in ("log.csv", "cnn_members/member_0_log.csv", "cnn_members/member_1_log.csv"):
        losses = _losses(out / log)
        assert losses[-1] < losses[0], log
    assert scores["test_accuracy"] > 0.8 and scores["test_cnn_accuracy"] > 0.8
    assert scores["test_baseline_accuracy"] == 1.0  # one sentiment word decides: linearly separable
    evaluated = recipe.evaluate(out)
    assert evaluated["accuracy"] == pytest.approx(scores["test_accuracy"])
    assert evaluated["baseline_accuracy"] == scores["test_baseline_accuracy"]


def test_text_recipe_starts_both_networks_from_word_vectors_of_the_training_texts_only(reviews_run, tmp_path):
    from convrnn.models.word2vec import WordVectors

    recipe, _, _ = reviews_run
    words = POSITIVE + NEGATIVE + ["unseen"]
    planted = torch.cat([torch.ones(len(POSITIVE), 8), -torch.ones(len(NEGATIVE), 8), torch.zeros(1, 8)])
    seen = []

    def word_vectors(texts):
        seen.append(list(texts))
        return WordVectors(words, planted)

    recipe = dataclasses.replace(recipe, word_vectors=word_vectors, epochs=1, cnn_epochs=1, lr=1e-12)
    scores = recipe.train(tmp_path, **FAST)
    assert seen == [[text for text, _ in synthetic_reviews()["train"]]]   # never validation or test texts
    assert scores["pretrained_words"] == len(POSITIVE) + len(NEGATIVE)
    recurrent, config = load_sequence_model(tmp_path, "model")
    ensemble, _ = load_sequence_model(tmp_path, "cnn")
    tokens = config["vocabulary"]["tokens"]
    for model in (recurrent, *ensemble.members):
        embedding = model.embedding.weight.detach()
        torch.testing.assert_close(embedding[tokens.index("superb")], torch.ones(8))  # lr ≈ 0: still the vectors
        torch.testing.assert_close(embedding[tokens.index("dull")], -torch.ones(8))
    # with a real learning rate the tuned channel moves, the static channel stays the vectors
    recipe = dataclasses.replace(recipe, lr=2e-2, epochs=2, cnn_epochs=2)
    recipe.train(tmp_path / "tuned", **FAST)
    tuned = tmp_path / "tuned"
    for model in (load_sequence_model(tuned, "model")[0], *load_sequence_model(tuned, "cnn")[0].members):
        torch.testing.assert_close(model.static_embedding.weight[tokens.index("superb")], torch.ones(8))
        torch.testing.assert_close(model.static_embedding.weight[tokens.index("dull")], -torch.ones(8))
        assert not torch.allclose(model.embedding.weight[tokens.index("superb")], torch.ones(8))


def test_the_saved_cnn_ensemble_averages_the_probabilities_of_its_saved_members(reviews_run):
    recipe, out, scores = reviews_run
    ensemble, config = load_sequence_model(out, "cnn")
    assert config["model"] == "classifier-ensemble" and len(ensemble.members) == 2
    members = [load_sequence_model(out / "cnn_members", f"member_{m}")[0] for m in range(2)]
    assert not torch.allclose(members[0].convolutions[0].weight, members[1].convolutions[0].weight)  # two seeds
    tokens = torch.tensor([[5, 6, 7, 0], [8, 9, 10, 11]])
    lengths = torch.tensor([3, 4])
    with torch.no_grad():
        expected = (torch.softmax(members[0](tokens, lengths), -1) + torch.softmax(members[1](tokens, lengths), -1)) / 2
        torch.testing.assert_close(torch.exp(ensemble(tokens, lengths)), expected)
    assert recipe.evaluate(out)["cnn_accuracy"] == pytest.approx(scores["test_cnn_accuracy"])
    assert 0.0 <= scores["val_cnn_accuracy"] <= 1.0 and 0.0 <= scores["val_accuracy"] <= 1.0


def test_an_ensemble_main_model_is_saved_evaluated_and_scores_a_review(reviews_run, tmp_path, capsys):
    recipe, _, _ = reviews_run
    recipe = dataclasses.replace(recipe, members=2, cnn_members=1, epochs=3, cnn_epochs=1)
    scores = recipe.train(tmp_path, **FAST)
    model, config = load_sequence_model(tmp_path)
    assert config["model"] == "classifier-ensemble" and config["model_options"]["member"] == "recurrent-classifier"
    assert (tmp_path / "model_members" / "member_1" / "config.json").is_file()
    assert load_sequence_model(tmp_path, "cnn")[1]["model"] == "conv-text-classifier"  # one member: no ensemble
    assert recipe.evaluate(tmp_path)["accuracy"] == pytest.approx(scores["test_accuracy"])
    assert main(["predict", str(tmp_path), "the movie is superb"]) == 0
    line = capsys.readouterr().out.strip()
    tokens = torch.tensor([config["vocabulary"]["tokens"].index(w) for w in ["the", "movie", "is", "superb"]])
    with torch.no_grad():
        fresh = float(torch.exp(model(tokens[None]))[0, config["classes"].index("fresh")])
    assert line.endswith(": the movie is superb") and f"fresh {fresh:.1%}" in line


def test_text_recipe_scores_a_review_from_the_command_line(reviews_run, capsys):
    _, out, _ = reviews_run
    assert main(["predict", str(out), "the movie is superb", "a dull plot"]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("fresh") and first.endswith(": the movie is superb")
    assert second.startswith("rotten")
    assert main(["predict", str(out), "   "]) == 2
    error = capsys.readouterr().err
    assert error == "convrnn: error: predict: expected a text with at least one word, got '   '\n"


def test_padding_never_changes_a_text_prediction(reviews_run):
    _, out, _ = reviews_run
    for name in ("model", "cnn"):
        model, _ = load_sequence_model(out, name)
        tokens = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
        lengths = torch.tensor([3, 5])
        longer = torch.cat([tokens, torch.full((2, 4), 3)], dim=1)
        assert torch.allclose(model(longer, lengths), model(tokens, lengths), atol=1e-6)


def test_logistic_regression_matches_scipy_on_a_hand_example():
    # four two-word "texts" over words 1..4; word 1 means class 1, word 2 class 0, 3 and 4 are noise
    rows = [[1, 3], [1, 4], [2, 3], [2, 4], [1], [3]]
    labels = torch.tensor([1, 1, 0, 0, 1, 0])
    inputs = distinct_ids(rows)
    assert inputs.tolist() == [[1, 3], [1, 4], [2, 3], [2, 4], [1, 0], [3, 0]]
    l2 = 0.1
    model = fit_logistic_regression(BagOfWordsClassifier(2, vocab_size=5).double(), inputs, labels, l2=l2)
    features = np.zeros((6, 5))
    for i, row in enumerate(rows):
        features[i, row] = 1.0
    y = labels.numpy()

    def objective(flat):
        weight, bias = flat[:10].reshape(5, 2), flat[10:]
        weight = weight.copy()
        weight[0] = 0.0                                   # the padding word has no weight
        logits = features @ weight + bias
        log_probabilities = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        return -log_probabilities[np.arange(6), y].mean() + 0.5 * l2 * (weight ** 2).sum()

    reference = minimize(objective, np.zeros(12), method="BFGS", options={"gtol": 1e-10}).x
    expected = features @ reference[:10].reshape(5, 2) + reference[10:]
    expected_logit_gap = expected[:, 1] - expected[:, 0]
    logits = model(inputs).detach().numpy()
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], expected_logit_gap, atol=1e-5)
    assert (logits.argmax(1) == y).all()


# ---------------------------------------------------------------- brown-pos (tagging)

LEXICON = {"the": "DET", "a": "DET", "dog": "NOUN", "cat": "NOUN", "ran": "VERB", "sat": "VERB",
           "quickly": "ADV", "big": "ADJ", ".": "."}


def synthetic_sentences():
    generator = np.random.default_rng(2)

    def sentence():
        words = [generator.choice(["the", "a"]), *(["big"] if generator.random() < 0.5 else []),
                 generator.choice(["dog", "cat"]), generator.choice(["ran", "sat"]),
                 *(["quickly"] if generator.random() < 0.5 else []), "."]
        return [(w.capitalize() if i == 0 else w, LEXICON[w]) for i, w in enumerate(words)]
    return {split: [sentence() for _ in range(count)]
            for split, count in (("train", 120), ("validation", 30), ("test", 30))}


def _tagging_recipe():
    return dataclasses.replace(get_recipe("brown-pos"), load=synthetic_sentences, min_count=1,
                               model_options={"word_dim": 8, "char_dim": 4, "char_channels": 4, "hidden_size": 8,
                                              "dropout": 0.0},
                               epochs=4, batch_size=16, lr=2e-2)


@pytest.fixture(scope="module")
def tagger_run(tmp_path_factory):
    recipe = _tagging_recipe()
    out = tmp_path_factory.mktemp("tagger")
    return recipe, out, recipe.train(out, **FAST)


def test_tagging_recipe_learns_and_tags_a_sentence_from_the_command_line(tagger_run, capsys):
    recipe, out, scores = tagger_run
    losses = _losses(out / "log.csv")
    assert losses[-1] < losses[0]
    assert scores["test_accuracy"] > 0.9
    assert recipe.evaluate(out)["accuracy"] == pytest.approx(scores["test_accuracy"])
    assert main(["predict", str(out), "The dog ran ."]) == 0
    assert capsys.readouterr().out == "The/DET dog/NOUN ran/VERB ./.\n"
    assert main(["predict", str(out), ""]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_lookahead_table_trains_one_tagger_per_lookahead(tmp_path):
    rows = _tagging_recipe().lookahead_table(tmp_path, lookaheads=(0, None), epochs=1, progress=False)
    assert [row["lookahead"] for row in rows] == ["0", "full"]
    assert json.loads((tmp_path / "lookahead.json").read_text())["rows"] == rows  # strict JSON: no NaN
    model, config = load_sequence_model(tmp_path / "lookahead-0")
    assert config["model_options"]["lookahead"] == 0 and model.rnn.lookahead == 0


# ---------------------------------------------------------------- sunspots (forecasting)

def synthetic_cycles():
    t = np.arange(160)
    return 50 + 40 * np.sin(2 * np.pi * t / 11) + np.random.default_rng(3).normal(0, 3, 160)


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    recipe = dataclasses.replace(get_recipe("sunspots"), load=synthetic_cycles, validation_from=110, test_from=135,
                                 width=12, horizon=3, model_options={"hidden_size": 8}, epochs=8, lr=1e-2)
    out = tmp_path_factory.mktemp("forecast")
    return recipe, out, recipe.train(out, **FAST)


def test_forecasting_recipe_learns_and_reports_baselines(forecast_run, capsys):
    recipe, out, scores = forecast_run
    losses = _losses(out / "log.csv")
    assert losses[-1] < losses[0]
    for key in ("test_mae_1", "test_mae", "test_seasonal_naive_mae_1", "test_seasonal_naive_mae"):
        assert math.isfinite(scores[key]), key
    assert recipe.evaluate(out)["mae"] == pytest.approx(scores["test_mae"], rel=1e-6)
    assert main(["predict", str(out), "50, 70, 88, 90"]) == 0
    assert capsys.readouterr().out.startswith("next 3: ")
    assert main(["predict", str(out), "50, x"]) == 2
    assert "expected numbers separated by commas" in capsys.readouterr().err


def test_forecasting_without_statsmodels_skips_arima_with_a_message(forecast_run, monkeypatch, capsys):
    recipe, out, _ = forecast_run
    monkeypatch.setattr(forecast_recipe, "arima_forecasts", lambda *args: None)
    scores = recipe.evaluate(out)
    assert not any(key.startswith("arima") for key in scores)
    assert "statsmodels is not installed, so the ARIMA baseline is skipped" in capsys.readouterr().err


def test_seasonal_naive_scores_on_the_recipe_split_by_hand(forecast_run):
    recipe, out, _ = forecast_run
    series = synthetic_cycles()
    _, targets, origins = recipe._split(series, "test")
    # test targets start at index 135, so the first origin is 134 and the last leaves 3 targets
    assert origins.tolist() == list(range(134, 157))
    assert targets[0].tolist() == pytest.approx(series[135:138].tolist())
    errors = np.array([[abs(series[o + h] - series[o + h - 11]) for h in (1, 2, 3)] for o in origins])
    scores = recipe.evaluate(out)
    assert scores["seasonal_naive_mae_1"] == pytest.approx(errors[:, 0].mean(), rel=1e-5)
    assert scores["seasonal_naive_mae"] == pytest.approx(errors.mean(), rel=1e-5)


def test_forecast_errors_by_hand():
    errors = forecast_errors(np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[2.0, 2.0], [3.0, 1.0]]))
    assert errors == {"mae_1": 0.5, "mae": 1.25}


# ---------------------------------------------------------------- registry and command line

def test_the_four_recipes_are_registered():
    for name in ("japanese-vowels", "sunspots", "rotten-tomatoes", "brown-pos"):
        assert name in RECIPE_NAMES and get_recipe(name).name == name


def test_a_missing_run_is_a_one_line_error(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "missing"), "a great movie"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no such run or model directory" in error


# ---------------------------------------------------------------- full runs on the real data (slow)

@pytest.mark.slow
def test_japanese_vowels_reaches_97_percent(tmp_path):
    assert get_recipe("japanese-vowels").train(tmp_path, **FAST)["test_accuracy"] >= 0.97


@pytest.mark.slow
def test_sunspots_network_beats_seasonal_naive(tmp_path):
    scores = get_recipe("sunspots").train(tmp_path, **FAST)
    assert scores["test_mae_1"] < scores["test_seasonal_naive_mae_1"]
    assert scores["test_mae"] < scores["test_seasonal_naive_mae"]


@pytest.mark.slow
def test_rotten_tomatoes_reaches_77_percent_and_both_networks_beat_the_baseline(tmp_path):
    scores = get_recipe("rotten-tomatoes").train(tmp_path, **FAST)
    assert scores["test_accuracy"] >= 0.77
    assert scores["test_accuracy"] > scores["test_baseline_accuracy"]
    assert scores["test_cnn_accuracy"] > scores["test_baseline_accuracy"]


@pytest.mark.slow
def test_brown_pos_reaches_96_percent(tmp_path):
    assert get_recipe("brown-pos").train(tmp_path, **FAST)["test_accuracy"] >= 0.96


@pytest.mark.slow
def test_every_brown_tag_maps_to_a_universal_tag():
    from convrnn.data import brown_documents
    from convrnn.data.universal_tags import universal_tag

    tags = {tag for sentences in brown_documents().values() for sentence in sentences for _, tag in sentence}
    assert len(tags) == 472
    assert {universal_tag(tag) for tag in tags} == set(UNIVERSAL_TAGS)
