"""The credit-card-fraud recipe end to end on generated transactions of the published format (never
the real data in CI): training ranks the frauds first, the run is complete, evaluate and predict work
from the CLI (predict's probability undoes the class weight), the exported model predicts alike, bad
input is one line; the full run on the real data under -m slow."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from convrnn.cli import main
from convrnn.data.credit_card import FEATURE_COLUMNS, chronological_split
from convrnn.recipes import get_recipe
from convrnn.tasks.rare_event import WeightedLogisticLoss
from exported_runs import assert_exported_predicts_like_the_run

FAST = {"progress": False}


def generated_table(count, seed=0):
    """Rows (Time, V1…V28, Amount) and labels: about 5 % frauds, whose V1 and V2 are shifted."""
    generator = np.random.default_rng(seed)
    labels = (generator.random(count) < 0.05).astype(np.int64)
    v = generator.standard_normal((count, 28))
    v[:, :2] += 2.5 * labels[:, None]
    table = np.column_stack([np.sort(generator.uniform(0, 1e4, count)), v, generator.exponential(60.0, count)])
    return table, labels


def generated_splits():
    table, labels = generated_table(1500)
    return {split: (table[rows], labels[rows]) for split, rows in chronological_split(table[:, 0]).items()}


def write_rows(path, table):
    path.write_text(",".join(FEATURE_COLUMNS) + "\n" + "\n".join(",".join(map(repr, row.tolist())) for row in table))
    return path


@pytest.fixture(scope="module")
def fraud_run(tmp_path_factory):
    recipe = dataclasses.replace(get_recipe("credit-card-fraud"), load=generated_splits, hidden_sizes=(16,), positive_weight=None,
                                 epochs=4, batch_size=64, lr=1e-2)
    out = tmp_path_factory.mktemp("fraud")
    return recipe, out, recipe.train(out, **FAST)


def test_training_ranks_the_frauds_first_and_writes_a_complete_run(fraud_run):
    recipe, out, scores = fraud_run
    assert scores["test_average_precision"] > 0.8 and scores["test_roc_auc"] > 0.95
    assert scores["test_rows"] == 300 and scores["test_positives"] > 5
    for path in ["model/model.safetensors", "model/config.json", "checkpoints/best", "scores.json", "log.csv"]:
        assert (out / path).exists(), path
    again = recipe.evaluate(out)
    assert again["average_precision"] == pytest.approx(scores["test_average_precision"])
    assert again["recall_at_precision"] == pytest.approx(scores["test_recall_at_precision"])
    train = generated_splits()["train"][1]
    assert scores["settings"]["positive_weight"] == pytest.approx((len(train) - train.sum()) / train.sum())


def test_predict_gives_each_row_the_probability_with_the_class_weight_undone(fraud_run, tmp_path, capsys):
    recipe, out, scores = fraud_run
    table, _ = generated_splits()["test"]
    path = write_rows(tmp_path / "rows.csv", table[:5])
    assert main(["predict", str(out), str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": fraud probability")[0] for line in lines] == [f"{path}:{k}" for k in range(1, 6)]
    model, config = recipe.load_model(out)
    logits = recipe._logits(model, config, table[:5])
    expected = torch.sigmoid(logits - math.log(scores["settings"]["positive_weight"]))
    assert [float(line.rsplit(" ", 1)[1]) for line in lines] == pytest.approx(expected.tolist(), abs=1e-4)


def test_eval_from_the_cli(fraud_run, capsys, monkeypatch):
    recipe, out, scores = fraud_run
    monkeypatch.setattr("convrnn.recipes.credit_card_fraud.RECIPE", recipe)
    assert main(["eval", str(out), "--split", "validation"]) == 0
    assert "average_precision" in capsys.readouterr().out


def test_the_weighted_loss_is_the_weighted_cross_entropy():
    logits, targets = torch.tensor([[2.0], [-1.0], [0.5]], dtype=torch.float64), torch.tensor([1, 0, 1])
    p = torch.sigmoid(logits.reshape(-1))
    expected = -(7 * torch.log(p[0]) + torch.log(1 - p[1]) + 7 * torch.log(p[2])) / 3
    torch.testing.assert_close(WeightedLogisticLoss(7.0)(logits, targets), expected)
    with pytest.raises(ValueError, match="'positive_weight' expected > 0"):
        WeightedLogisticLoss(0.0)


def test_a_file_without_the_columns_is_a_one_line_error(fraud_run, tmp_path, capsys):
    _, out, _ = fraud_run
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert main(["predict", str(out), str(tmp_path / "bad.csv")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "missing" in error


def test_the_exported_model_predicts_like_the_run(fraud_run, tmp_path):
    recipe, out, _ = fraud_run
    path = write_rows(tmp_path / "rows.csv", generated_splits()["test"][0][:7])
    assert_exported_predicts_like_the_run(recipe, out, [str(path)], tmp_path, formats=("onnx",))


@pytest.mark.slow
def test_credit_card_fraud_reaches_its_target_average_precision(tmp_path):
    scores = get_recipe("credit-card-fraud").train(tmp_path, **FAST)
    assert scores["test_average_precision"] >= 0.70
    assert scores["test_roc_auc"] >= 0.95
