"""A run killed at any step and resumed from its last checkpoint ends bit for bit where an
uninterrupted run ends: same weights, same optimizer state, same history."""

import pytest
import torch
from torch import nn

from convrnn.training import (
    Accuracy,
    Callback,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    fit,
    seed_everything,
)

DETERMINISTIC_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")
EPOCHS, BATCH = 3, 8  # 44 samples: 6 steps per epoch, the last one a partial batch of 4


class KilledError(Exception):
    pass


class KillAt(Callback):
    """Stops the process after optimizer step ``step`` (after the checkpoint of that step)."""

    order = 200

    def __init__(self, step: int):
        self.step = step

    def on_batch_end(self, state):
        if state.global_step == self.step:
            raise KilledError


def run(blobs, tiny_model, directory, *, model_seed=0, kill_at=None, resume=None,
        every_epochs=1):
    model = tiny_model(seed=model_seed, dropout=0.5)  # dropout draws from the global generator
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05,
                                                    total_steps=EPOCHS * 6)
    callbacks = [EarlyStopping("val_loss", patience=10), CSVLogger(directory / "log.csv"),
                 Checkpoint(directory, every_steps=4, every_epochs=every_epochs)]
    if kill_at is not None:
        callbacks.append(KillAt(kill_at))
    history = fit(model, blobs(n=44), blobs(n=20, seed=1), batch_size=BATCH, epochs=EPOCHS,
                  loss=nn.CrossEntropyLoss(), optimizer=optimizer, scheduler=scheduler,
                  metrics={"accuracy": Accuracy()}, callbacks=callbacks, seed=3, resume=resume,
                  progress=False, config={"recipe": "tiny"})
    return model, optimizer, history


@pytest.mark.parametrize("kill_at, every_epochs", [
    (6, 1),      # resumes from step 4, in the middle of epoch 1
    (10, None),  # from step 8, in the middle of epoch 2
    (13, None),  # from step 12: epoch 2's batches done, its validation not yet
    (17, 1),     # from the end of epoch 2 (the epoch checkpoint replaced step 12's)
])
def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(
        blobs, tiny_model, tmp_path, kill_at, every_epochs):
    seed_everything(0)
    straight, straight_optimizer, straight_history = run(blobs, tiny_model, tmp_path / "a",
                                                         every_epochs=every_epochs)

    seed_everything(0)
    with pytest.raises(KilledError):
        run(blobs, tiny_model, tmp_path / "b", kill_at=kill_at, every_epochs=every_epochs)
    seed_everything(12345)  # a fresh process: different generator states, different init
    resumed, resumed_optimizer, resumed_history = run(
        blobs, tiny_model, tmp_path / "b", model_seed=99, resume=tmp_path / "b" / "last",
        every_epochs=every_epochs)

    for key, value in straight.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    for index, slots in straight_optimizer.state_dict()["state"].items():
        for name, value in slots.items():
            assert torch.equal(resumed_optimizer.state_dict()["state"][index][name], value)
    assert len(resumed_history) == EPOCHS
    for key in DETERMINISTIC_KEYS:
        assert resumed_history[key] == straight_history[key], key
    straight_rows = read_rows(tmp_path / "a" / "log.csv")
    resumed_rows = read_rows(tmp_path / "b" / "log.csv")
    assert len(resumed_rows) == EPOCHS  # no row twice, whatever the killed run had written
    for straight_row, resumed_row in zip(straight_rows, resumed_rows, strict=True):
        assert all(straight_row[key] == resumed_row[key] for key in DETERMINISTIC_KEYS)


def read_rows(path):
    import csv

    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_resume_with_another_seed_is_refused(blobs, tiny_model, tmp_path):
    run(blobs, tiny_model, tmp_path)
    model = tiny_model()
    with pytest.raises(ValueError, match="'seed' expected 3"):
        fit(model, blobs(n=44), batch_size=BATCH, epochs=EPOCHS, loss=nn.CrossEntropyLoss(),
            optimizer=torch.optim.AdamW(model.parameters()), seed=4, progress=False,
            resume=tmp_path / "last", metrics={"accuracy": Accuracy()})


def test_resume_from_a_final_model_is_refused(tiny_model, blobs, tmp_path):
    from convrnn.training import save_model

    model = tiny_model()
    save_model(tmp_path / "final", model, {"recipe": "tiny"})
    with pytest.raises(ValueError, match="holds no optimizer state"):
        fit(model, blobs(), batch_size=BATCH, epochs=1, loss=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), progress=False,
            resume=tmp_path / "final")
