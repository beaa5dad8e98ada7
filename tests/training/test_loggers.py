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

        def flush(self, fsync=False):
            pass

        def close(self):
            written.append(("close",))

    monkeypatch.setattr(loggers_module, "_summary_writer_class", lambda: FakeWriter)
    run(blobs, tiny_model, [TensorBoardLogger(tmp_path)], epochs=2, log_every=2)
    assert written[0] == ("open", str(tmp_path), None)
    assert written[-1] == ("close",)
    tags = {entry for entry in written[1:-1]}
    assert {("train/loss", 2), ("train/accuracy", 6), ("train/samples_per_s", 8)} <= tags
    # 4 steps per epoch: the epoch records at the step each epoch ends (one x axis for every tag)
    assert {("epoch/epoch", 4), ("epoch/val_loss", 4), ("epoch/val_accuracy", 8), ("epoch/train_loss", 8)} <= tags


def _shown(log_dir):
    """What TensorBoard shows of ``log_dir``: each scalar series as (step, value), after its purges."""
    import logging

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logging.getLogger("tensorboard").setLevel(logging.ERROR)
    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"] if tag != "train/samples_per_s" and "seconds" not in tag
            and tag != "epoch/samples_per_s"}


def _fit_logged(blobs, tiny_model, out, resume=None):
    from convrnn.training import Checkpoint

    model = tiny_model(seed=0)
    return fit(model, blobs(n=32), blobs(n=16, seed=1), batch_size=8, epochs=3, loss=nn.CrossEntropyLoss(),
               optimizer=torch.optim.SGD(model.parameters(), lr=0.1), metrics={"accuracy": Accuracy()},
               callbacks=[TensorBoardLogger(out / "tb"), Checkpoint(out / "checkpoints")], progress=False,
               log_every=2, seed=1, resume=resume)


def test_a_full_disk_under_tensorboard_stops_training_with_that_error_and_resume_shows_each_step_once(
        blobs, tiny_model, tmp_path, capfd):
    """ENOSPC at the first event write of epoch 2: fit raises that OSError (naming the event file) in the
    training process, no thread's traceback is printed, the event file ends on a whole record, the checkpoint
    of epoch 1 is intact; resuming from it, TensorBoard shows every step and epoch once, as an uninterrupted
    run logs them."""
    import errno

    from convrnn.training import load_checkpoint
    from convrnn.training.event_file import read_events
    from faults import Injector, count_operations

    _fit_logged(blobs, tiny_model, tmp_path / "whole")
    operations = count_operations(tmp_path / "counted" / "tb", lambda: _fit_logged(blobs, tiny_model,
                                                                                   tmp_path / "counted"))
    epoch_2 = operations.index("fsync") + 1   # after epoch 1's events were made durable
    while not operations[epoch_2].startswith("write"):
        epoch_2 += 1
    out = tmp_path / "faulted"
    with Injector(out / "tb", epoch_2 + 1, errno.ENOSPC).active(), pytest.raises(OSError) as raised:
        _fit_logged(blobs, tiny_model, out)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename.startswith(str(out / "tb" / "events."))
    assert capfd.readouterr().err == ""
    (events_file,) = (out / "tb").iterdir()
    records = list(read_events(events_file))
    assert sum(len(event.SerializeToString()) + 16 for event in records) == events_file.stat().st_size
    assert load_checkpoint(out / "checkpoints" / "last").training["global_step"] == 4   # epoch 1's
    _fit_logged(blobs, tiny_model, out, resume=out / "checkpoints" / "last")
    assert len(list((out / "tb").iterdir())) == 2
    assert _shown(out / "tb") == _shown(tmp_path / "whole" / "tb")
