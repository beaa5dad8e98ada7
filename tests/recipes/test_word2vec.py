"""The word2vec recipe: a small run on planted text trains, saves, scores and answers queries."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from convrnn.models.word2vec import load_word2vec_format
from convrnn.recipes import get_recipe
from convrnn.recipes.word2vec import RECIPE
from convrnn.tasks.word_vectors import load_vectors


@pytest.fixture
def topic_text(tmp_path):
    rng = random.Random(0)
    topics = [["king", "queen", "prince", "royal", "crown"], ["apple", "pear", "plum", "fruit", "juice"]]
    lines = [" ".join(rng.choice(topic) for _ in range(8)) for topic in (rng.choice(topics) for _ in range(1500))]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_recipe_is_registered():
    assert get_recipe("word2vec") is RECIPE and RECIPE.settings.architecture == "cbow"


@pytest.mark.parametrize("device_engine", ["cpu", "torch"])
def test_small_run_saves_vectors_scores_and_answers(tmp_path, topic_text, device_engine):
    # one worker: the compiled loop's two Hogwild threads make the run a draw (see the model tests)
    settings = dataclasses.replace(RECIPE.settings, vector_size=16, window=3, min_count=1, sample=0, workers=1,
                                   engine="auto" if device_engine == "cpu" else "torch")
    recipe = dataclasses.replace(RECIPE, sources=(str(topic_text),), settings=settings)
    out = tmp_path / "run"
    scores = recipe.train(out, epochs=5, lr=0.05, batch_size=256, progress=False, limit=1200)
    assert scores["vocabulary_size"] == 10 and scores["corpus_words"] == 1200 * 8
    for key in ("test_analogy_accuracy", "test_analogy_accuracy_3cosmul", "test_wordsim353_pairs_used"):
        assert key in scores
    assert "test_wordsim353_spearman" not in scores  # no benchmark pair in this vocabulary: undefined, left out
    saved = json.loads((out / "scores.json").read_text())
    assert saved["test_analogy_asked"] == scores["test_analogy_asked"]
    vectors, config = load_vectors(out)
    assert config["recipe"] == "word2vec" and config["limit"] == 1200
    assert {w for w, _ in vectors.most_similar("king", 4)} == {"queen", "prince", "royal", "crown"}
    from_file = load_word2vec_format(out / "vectors.bin", binary=True)
    assert from_file.words == vectors.words
    lines = recipe.predict(out, ["apple", "king queen apple"], top=2)
    assert lines[0].startswith("apple: ") and lines[1].startswith("king − queen + apple: ")
    with pytest.raises(KeyError, match="'dragon' is not in the vocabulary"):
        recipe.predict(out, ["dragon"])
    with pytest.raises(ValueError, match="expected split 'test'"):
        recipe.evaluate(out, split="train")
    assert recipe.evaluate(out)["test_analogy_asked"] == scores["test_analogy_asked"]


def test_resume_is_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="without --resume"):
        RECIPE.train(tmp_path, resume=True)


def test_summary_model_runs_cbow_over_the_vocabulary():
    import torch

    model, shape = RECIPE.summary_model()
    assert model(torch.zeros(1, *shape)).shape == (1, 10_000)


def test_cli_trains_hierarchical_softmax_skipgram_and_the_run_answers(tmp_path, topic_text, monkeypatch, capsys):
    import convrnn.recipes
    from convrnn.cli import main

    settings = dataclasses.replace(RECIPE.settings, vector_size=16, window=3, min_count=1, sample=0, workers=1)
    recipe = dataclasses.replace(RECIPE, sources=(str(topic_text),), settings=settings)
    monkeypatch.setattr(convrnn.recipes, "get_recipe", lambda name: recipe)
    out = tmp_path / "run"
    assert main(["train", "word2vec", "--objective", "hs", "--architecture", "skipgram", "--epochs", "3",
                 "--lr", "0.05", "--limit", "1200", "--out", str(out), "--no-progress"]) == 0
    vectors, config = load_vectors(out)  # the saved model has its inner-node matrix and loads again
    assert config["settings"]["hs"] is True and config["settings"]["negative"] == 0
    assert config["settings"]["architecture"] == "skipgram"
    assert {w for w, _ in vectors.most_similar("king", 4)} == {"queen", "prince", "royal", "crown"}
    capsys.readouterr()
    assert main(["embed", str(out), "--similar", "apple", "--top", "4"]) == 0
    assert set(capsys.readouterr().out.split(": ")[1].replace(",", "").split()[::2]) == {"pear", "plum", "fruit",
                                                                                          "juice"}
    assert main(["train", "word2vec", "--objective", "softmax", "--out", str(tmp_path / "x")]) == 2
    assert "--objective: expected one of ['negative', 'hs', 'hs+negative'], got 'softmax'" in capsys.readouterr().err


def test_objective_both_keeps_negatives_and_other_kinds_refuse_it(tmp_path, topic_text, capsys):
    from convrnn.cli import main

    settings = dataclasses.replace(RECIPE.settings, vector_size=8, window=2, min_count=1, sample=0, workers=1)
    recipe = dataclasses.replace(RECIPE, sources=(str(topic_text),), settings=settings)
    scores = recipe.train(tmp_path / "run", epochs=1, progress=False, limit=200, objective="hs+negative")
    assert scores["settings"]["hs"] is True and scores["settings"]["negative"] == 5
    assert main(["train", "digits", "--objective", "hs", "--out", str(tmp_path / "digits")]) == 2
    assert "--objective: only word-vectors recipes take --objective, and 'digits'" in capsys.readouterr().err
