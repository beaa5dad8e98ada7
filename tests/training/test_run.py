"""fit_to_best: the run directory's layout, the best epoch kept, and resume's missing checkpoint."""

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from convrnn.training.checkpoint import load_model_weights, read_config
from convrnn.training.metrics import Accuracy
from convrnn.training.run import fit_to_best


def _data():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    y = (x[:, 0] > 0).long()
    return TensorDataset(x, y), TensorDataset(x[:32], y[:32])


def _fit(out, **options):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    train, val = _data()
    history = fit_to_best(model, train, val, out=out, config={"recipe": "tiny"}, monitor="val_loss", mode="min",
                          loss=nn.CrossEntropyLoss(), optimizer=torch.optim.SGD(model.parameters(), lr=0.5),
                          epochs=3, batch_size=16, metrics={"accuracy": Accuracy()}, progress=False, **options)
    return model, history


def test_the_best_epoch_is_saved_with_its_config_and_the_log(tmp_path):
    model, history = _fit(tmp_path)
    assert (tmp_path / "log.csv").is_file() and (tmp_path / "checkpoints" / "last").is_dir()
    assert read_config(tmp_path / "model")["recipe"] == "tiny"
    saved = nn.Linear(4, 2)
    load_model_weights(tmp_path / "model", saved)
    torch.testing.assert_close(saved.weight, model.weight)
    _, val = _data()
    with torch.no_grad():
        best = nn.functional.cross_entropy(saved(val.tensors[0]), val.tensors[1]).item()
    losses = [record["val_loss"] for record in history.records]
    assert best == pytest.approx(min(losses), rel=1e-5)          # the best epoch, not the last


def test_a_second_model_gets_its_own_files(tmp_path):
    _fit(tmp_path, name="cnn")
    assert (tmp_path / "cnn_log.csv").is_file() and (tmp_path / "cnn_checkpoints").is_dir()
    assert (tmp_path / "cnn" / "config.json").is_file()


def test_resume_without_a_checkpoint_is_an_error_unless_missing_ok(tmp_path):
    with pytest.raises(FileNotFoundError, match="--resume found no checkpoint at"):
        _fit(tmp_path / "a", resume=True)
    _fit(tmp_path / "b", resume=True, missing_ok=True)              # starts afresh
    assert (tmp_path / "b" / "model" / "config.json").is_file()
