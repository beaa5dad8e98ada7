import pytest
import torch
from torch import nn

from convrnn.training import (
    Callback,
    Checkpoint,
    EarlyStopping,
    fit,
    load_checkpoint,
    read_config,
)


def frozen_fit(blobs, tiny_model, callbacks, epochs=10, lr=0.0):
    """lr 0: the validation loss never changes, so nothing ever improves after epoch 1."""
    model = tiny_model()
    return fit(model, blobs(n=32), blobs(n=16, seed=1), batch_size=8, epochs=epochs,
               loss=nn.CrossEntropyLoss(), optimizer=torch.optim.SGD(model.parameters(), lr=lr),
               callbacks=callbacks, progress=False, config={"recipe": "tiny"})


def test_early_stopping_stops_after_patience_epochs_without_improvement(blobs, tiny_model):
    stopper = EarlyStopping("val_loss", patience=2)
    history = frozen_fit(blobs, tiny_model, [stopper])
    assert len(history) == 3  # epoch 1 sets the best, epochs 2 and 3 fail to beat it
    assert stopper.epochs_without_improvement == 2


def test_early_stopping_keeps_going_while_the_metric_improves(blobs, tiny_model):
    stopper = EarlyStopping("val_loss", patience=1, mode="min")
    history = frozen_fit(blobs, tiny_model, [stopper], epochs=4, lr=0.05)
    assert len(history) == 4
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_early_stopping_on_a_missing_key_names_the_available_ones(blobs, tiny_model):
    with pytest.raises(ValueError, match=r"'monitor' expected one of .*'val_loss'.*got 'val_acc'"):
        frozen_fit(blobs, tiny_model, [EarlyStopping("val_acc", mode="max")])


@pytest.mark.parametrize("arguments, match", [({"patience": 0}, "'patience'"),
                                              ({"mode": "lowest"}, "'mode'")])
def test_early_stopping_rejects_bad_arguments(arguments, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**arguments)


def test_checkpoint_keeps_last_and_best(blobs, tiny_model, tmp_path):
    saver = Checkpoint(tmp_path, every_steps=3, monitor="val_loss")
    history = frozen_fit(blobs, tiny_model, [saver], epochs=3, lr=0.05)
    best_epoch = min(range(3), key=lambda e: history["val_loss"][e])
    best = load_checkpoint(tmp_path / "best")
    last = load_checkpoint(tmp_path / "last")
    assert best.training["epoch"] == best_epoch and best.training["epoch_finished"]
    assert last.training["epoch"] == 2 and last.training["global_step"] == 12
    assert saver.best == history["val_loss"][best_epoch]
    assert best.training["callbacks"]["Checkpoint"]["best"] == saver.best
    assert read_config(tmp_path / "last") == {"recipe": "tiny"}


def test_checkpoint_every_steps_writes_at_those_steps(blobs, tiny_model, tmp_path):
    steps = []

    class Spy(Callback):
        order = 200  # after the checkpoint of the step

        def on_batch_end(self, state):
            if (tmp_path / "last").exists():
                steps.append(load_checkpoint(tmp_path / "last").training["global_step"])

    frozen_fit(blobs, tiny_model, [Checkpoint(tmp_path, every_steps=3, every_epochs=None,
                                              monitor=None), Spy()], epochs=2)
    assert steps == [3, 3, 3, 6, 6, 6]  # 4 steps per epoch; saved at 3 and 6


def test_callbacks_run_in_order_and_see_each_hook(blobs, tiny_model):
    calls = []

    class Recorder(Callback):
        def __init__(self, name, order):
            self.name, self.order = name, order

        def on_fit_start(self, state):
            calls.append((self.name, "fit_start"))

        def on_epoch_start(self, state):
            calls.append((self.name, "epoch_start", state.epoch))

        def on_log(self, state, logs):
            calls.append((self.name, "log", state.global_step, sorted(logs)))

        def on_epoch_end(self, state, record):
            calls.append((self.name, "epoch_end", record["epoch"]))

        def on_fit_end(self, state):
            calls.append((self.name, "fit_end"))

        def close(self):
            calls.append((self.name, "close"))

    model = tiny_model()
    fit(model, blobs(n=32), batch_size=8, epochs=1, loss=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), progress=False, log_every=2,
        callbacks=[Recorder("late", 5), Recorder("early", -5)])
    log_keys = ["loss", "lr", "samples_per_s"]
    expected = []
    for event in [("fit_start",), ("epoch_start", 0), ("log", 2, log_keys), ("log", 4, log_keys),
                  ("epoch_end", 1), ("fit_end",), ("close",)]:
        expected += [("early", *event), ("late", *event)]
    assert calls == expected


def test_close_runs_even_when_training_fails(blobs, tiny_model):
    closed = []

    class Closer(Callback):
        def close(self):
            closed.append(True)

    def broken_loss(outputs, targets):
        raise RuntimeError("boom")

    model = tiny_model()
    with pytest.raises(RuntimeError, match="boom"):
        fit(model, blobs(), batch_size=8, epochs=1, loss=broken_loss, callbacks=[Closer()],
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), progress=False)
    assert closed == [True]


@pytest.mark.parametrize("other_rank_overruns", [False, True])
def test_time_limit_stops_every_rank_when_one_would_overrun(monkeypatch, other_rank_overruns):
    from types import SimpleNamespace

    from convrnn.training import TimeLimit, distributed

    # a second rank, simulated: it adds its vote (1: would overrun) to this rank's in the all-reduce
    monkeypatch.setattr(distributed, "is_distributed", lambda: True)
    monkeypatch.setattr(distributed, "collective_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(distributed, "all_reduce_sum", lambda votes: votes.add_(int(other_rank_overruns)))
    limit, state = TimeLimit(minutes=60), SimpleNamespace(stop=False)
    limit.on_fit_start(state)
    limit.on_epoch_end(state, {})  # this rank is far from its hour
    assert state.stop is other_rank_overruns
