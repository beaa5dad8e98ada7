import csv
import io
import sys

import pytest
import torch
from torch import nn

from convrnn.training import Accuracy, CSVLogger, ProgressBar, TensorBoardLogger, fit
from convrnn.training import loggers as loggers_module


def run(blobs, tiny_model, callbacks, epochs=2, log_every=50):
    model = tiny_model()
    return fit(model, blobs(n=32), blobs(n=16, seed=1), batch_size=8, epochs=epochs,
               loss=nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(model.parameters(), 0.01),
               metrics={"accuracy": Accuracy()}, callbacks=callbacks, progress=False,
               log_every=log_every)


def test_csv_log_holds_one_row_per_epoch_equal_to_the_history(blobs, tiny_model, tmp_path):
    path = tmp_path / "logs" / "train.csv"
    history = run(blobs, tiny_model, [CSVLogger(path)], epochs=3)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == history.keys()
    assert len(rows) == 3
    for row, record in zip(rows, history.records, strict=True):
        assert {key: float(value) for key, value in row.items()} == record  # repr round-trips
    assert sorted(p.name for p in path.parent.iterdir()) == ["train.csv"]  # no temp files left


def test_progress_bar_off_a_terminal_prints_one_line_per_epoch(blobs, tiny_model):
    stream = io.StringIO()
    history = run(blobs, tiny_model, [ProgressBar(file=stream)], epochs=2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("epoch 2/2  train_loss ")
    assert f"val_accuracy {history['val_accuracy'][1]:.4g}" in lines[1]
    assert "samples_per_s" in lines[1]


def test_live_progress_bar_shows_loss_metric_and_throughput(blobs, tiny_model):
    stream = io.StringIO()
    run(blobs, tiny_model, [ProgressBar(live=True, file=stream)], epochs=1, log_every=1)
    text = stream.getvalue()
    assert "epoch 1/1" in text and "4/4" in text
    assert "loss=" in text and "accuracy=" in text and "samples/s" in text


def test_fit_adds_a_progress_bar_unless_told_not_to(blobs, tiny_model, capsys):
    model = tiny_model()
    fit(model, blobs(n=16), batch_size=8, epochs=1, loss=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert "epoch 1/1" in capsys.readouterr().err
    fit(model, blobs(n=16), batch_size=8, epochs=1, loss=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), progress=False)
    assert capsys.readouterr().err == ""


def test_tensorboard_logger_without_tensorboard_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now fails
    with pytest.raises(ImportError, match="pip install tensorboard"):
        TensorBoardLogger("runs")


def test_tensorboard_logger_writes_step_and_epoch_scalars(blobs, tiny_model, monkeypatch,
                                                          tmp_path):
    written = []

    class FakeWriter:
        def __init__(self, log_dir, purge_step):
            written.append(("open", log_dir, purge_step))

        def add_scalar(self, tag, value, step):
            written.append((tag, step))

        def flush(self):
            pass

        def close(self):
            written.append(("close",))

    monkeypatch.setattr(loggers_module, "_summary_writer_class", lambda: FakeWriter)
    run(blobs, tiny_model, [TensorBoardLogger(tmp_path)], epochs=2, log_every=2)
    assert written[0] == ("open", str(tmp_path), None)
    assert written[-1] == ("close",)
    tags = {entry for entry in written[1:-1]}
    assert {("train/loss", 2), ("train/accuracy", 6), ("train/samples_per_s", 8)} <= tags
    assert {("epoch/val_loss", 1), ("epoch/val_accuracy", 2), ("epoch/train_loss", 2)} <= tags
