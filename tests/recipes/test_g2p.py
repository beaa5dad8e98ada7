"""The g2p recipe end to end on a synthetic lexicon (a letter → phoneme code with one context
rule), the scoring rules for words with several pronunciations, and ``convrnn predict``."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from convrnn.cli import main
from convrnn.recipes import get_recipe
from convrnn.tasks.seq2seq import edit_distance, lexicon_scores

SOUNDS = {"a": "AE", "b": "B", "d": "D", "e": "EH", "k": "K", "m": "M", "o": "AA", "s": "S", "t": "T"}


def synthetic_lexicon():
    """500 words of 2–6 letters; each letter has one sound, except that "e" at the end of a word is
    silent; every 25th word also has a second pronunciation (its last phoneme doubled)."""
    generator = np.random.default_rng(0)
    letters = sorted(SOUNDS)
    lexicon = {}
    while len(lexicon) < 500:
        word = "".join(generator.choice(letters, generator.integers(2, 7)))
        phonemes = [SOUNDS[c] for c in (word[:-1] if word.endswith("e") else word)] or ["EH"]
        lexicon[word] = [phonemes] + ([phonemes + phonemes[-1:]] if len(lexicon) % 25 == 0 else [])
    return lexicon


FAST = {"progress": False, "seed": 0}


@pytest.fixture(scope="module")
def g2p_run(tmp_path_factory):
    recipe = dataclasses.replace(get_recipe("g2p"), load=synthetic_lexicon, epochs=12, batch_size=16, lr=1e-2,
                                 model_options={"embedding_size": 16, "hidden_size": 32, "decoder_size": 48,
                                                "encoder_layers": 1, "attention": "additive", "dropout": 0.0},
                                 validation_fraction=0.05)
    out = tmp_path_factory.mktemp("g2p")
    return recipe, out, recipe.train(out, **FAST)


def test_g2p_recipe_learns_and_writes_a_complete_run(g2p_run):
    recipe, out, scores = g2p_run
    assert scores["test_wer"] <= 0.2 and scores["test_per"] <= 0.05, scores
    assert scores["test_greedy_wer"] <= 0.3
    assert scores["test_words"] == len(recipe.splits()["test"]) > 20
    for path in ["model/model.safetensors", "model/config.json", "checkpoints/best", "scores.json", "log.csv"]:
        assert (out / path).exists(), path
    pictures = sorted((out / "alignments").glob("*.png"))  # the recipe's words hold unknown letters here
    assert [p.stem for p in pictures] == sorted(w for w, _ in recipe.splits()["test"][:3])
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pictures)
    assert json.loads((out / "scores.json").read_text())["test_wer"] == scores["test_wer"]
    again = recipe.evaluate(out)
    assert again["wer"] == pytest.approx(scores["test_wer"]) and again["per"] == pytest.approx(scores["test_per"])
    with pytest.raises(ValueError, match="'split' expected one of"):
        recipe.evaluate(out, split="dev")


def test_predict_prints_phonemes_and_the_top_beams(g2p_run, capsys):
    recipe, out, _ = g2p_run
    assert main(["predict", str(out), "Mask", "bed", "made", "--top", "1"]) == 0  # the run names its recipe
    assert capsys.readouterr().out.splitlines() == ["mask: M AE S K", "bed: B EH D", "made: M AE D"]
    assert main(["predict", str(out), "mad", "--top", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("mad: M AE D (") and line.count(" | ") == 2 and line.endswith("%)")
    assert recipe.predict(out, ["sat"], top=1) == ["sat: S AE T"]
    with pytest.raises(ValueError, match="argument 'word' 'xyz' holds letters the model never saw"):
        recipe.predict(out, ["xyz"], top=1)
    with pytest.raises(ValueError, match="'top' expected an int ≥ 1"):
        recipe.predict(out, ["sat"], top=0)


def test_edit_distance_by_hand():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], ["A", "B"]) == 2 and edit_distance(["A"], []) == 1
    assert edit_distance(["K", "AE", "T"], ["K", "AE", "T"]) == 0


def test_a_word_is_right_if_it_matches_any_reference_and_per_uses_the_closest():
    references = [[("R", "IY", "D"), ("R", "EH", "D")], [("K", "AE", "T")], [("AH", "B"), ("EY", "B", "IY", "S")]]
    hypotheses = [("R", "EH", "D"), ("K", "AA", "T"), ("EY", "B", "IY")]
    scores = lexicon_scores(hypotheses, references)
    assert scores["word_error_rate"] == pytest.approx(2 / 3)
    # 0 errors / 3, 1 / 3, closest of "AH B" (2 edits) and "EY B IY S" (1 edit, length 4)
    assert scores["phoneme_error_rate"] == pytest.approx((0 + 1 + 1) / (3 + 3 + 4))
    with pytest.raises(ValueError, match="same non-zero number of words"):
        lexicon_scores(hypotheses, references[:2])


@pytest.mark.slow
def test_g2p_reaches_its_target_on_cmudict(tmp_path):
    device = "cuda" if torch.cuda.is_available() else "cpu"  # sized for a GPU: ≤ 8 min on an H100
    scores = get_recipe("g2p").train(tmp_path, progress=False, device=device)
    assert scores["test_wer"] <= 0.30 and scores["test_per"] <= 0.08, scores


def test_the_report_of_a_run_shows_its_alignments(g2p_run):
    from convrnn.tasks.report import build_report

    _, out, _ = g2p_run
    page = build_report(out)
    assert 'id="pictures"' in page and "alignments/" in page
