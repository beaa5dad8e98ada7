"""A training loss that becomes NaN or ±inf stops the run with one error naming the step and the last
good checkpoint, before anything trained on it is saved; resuming from that checkpoint ends bit for bit
where a run that never went bad ends."""

import math

import pytest
import torch
from torch import nn

from convrnn.training import Checkpoint, FiniteLoss, NonFiniteLossError, fit, load_checkpoint, seed_everything

EPOCHS, BATCH = 3, 8   # 44 samples: 6 steps per epoch


class PoisonedLoss(nn.Module):
    """Cross-entropy, except at the ``at``-th call (counted from 1), whose value is ``value``."""

    def __init__(self, at=None, value=math.nan):
        super().__init__()
        self.at, self.value, self.calls = at, value, 0
        self.inner = nn.CrossEntropyLoss()

    def forward(self, outputs, targets):
        loss = self.inner(outputs, targets)
        if not torch.is_grad_enabled():   # validation: never poisoned, never counted
            return loss
        self.calls += 1
        return loss * self.value if self.calls == self.at else loss


def run(blobs, tiny_model, directory, *, poison_at=None, value=math.nan, resume=None, log_every=50):
    seed_everything(0)
    model = tiny_model(seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    history = fit(model, blobs(n=44), blobs(n=20, seed=1), batch_size=BATCH, epochs=EPOCHS,
                  loss=PoisonedLoss(poison_at, value), optimizer=optimizer, seed=3, resume=resume,
                  callbacks=[Checkpoint(directory, every_steps=4, every_epochs=1)], progress=False,
                  log_every=log_every, config={"recipe": "tiny"})
    return model, history


@pytest.mark.parametrize(("poison_at", "value", "log_every", "saved_step"), [
    (7, math.nan, 50, 6),    # epoch 2, found at the step-8 save; the last good one is epoch 1's end (6)
    (10, math.inf, 50, 8),   # inf, found before the step-12 save
    (3, -math.inf, 2, None),  # found at the step-4 log, before any checkpoint
])
def test_a_non_finite_loss_stops_before_saving_and_names_the_step_and_checkpoint(
        blobs, tiny_model, tmp_path, poison_at, value, log_every, saved_step):
    with pytest.raises(NonFiniteLossError) as raised:
        run(blobs, tiny_model, tmp_path, poison_at=poison_at, value=value, log_every=log_every)
    error = raised.value
    assert error.step == poison_at and error.checkpoint_step == saved_step
    assert f"at step {poison_at};" in str(error) and "\n" not in str(error)
    if saved_step is None:
        assert error.checkpoint is None and "no checkpoint was saved before it" in str(error)
        assert not (tmp_path / "last").exists()
    else:
        assert error.checkpoint == tmp_path / "last" and f"'{tmp_path / 'last'}' (step {saved_step})" in str(error)
        model = tiny_model(seed=1)
        loaded = load_checkpoint(tmp_path / "last", model)
        assert loaded.training["global_step"] == saved_step
        assert all(torch.isfinite(p).all() for p in model.parameters())


def test_resuming_from_the_last_good_checkpoint_ends_where_a_clean_run_ends(blobs, tiny_model, tmp_path):
    clean, clean_history = run(blobs, tiny_model, tmp_path / "clean")
    with pytest.raises(NonFiniteLossError) as raised:
        run(blobs, tiny_model, tmp_path / "bad", poison_at=10)
    resumed, history = run(blobs, tiny_model, tmp_path / "bad", resume=raised.value.checkpoint)
    for a, b in zip(clean.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert history["train_loss"] == clean_history["train_loss"]


def test_finite_loss_counts_the_steps_before_the_first_bad_one():
    watch = FiniteLoss()
    watch.start(100)
    assert watch.first_bad_step() is None
    for value in (1.0, 2.0, math.nan, 3.0, math.inf):
        watch.update(torch.tensor(value))
    assert watch.first_bad_step() == 103
    watch.start(7)
    watch.update(torch.tensor(0.5))
    assert watch.first_bad_step() is None
