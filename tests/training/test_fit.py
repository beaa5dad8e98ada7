import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from convrnn.training import Accuracy, StepOutput, fit
from convrnn.training.fit_state import History

QUIET = {"progress": False}


def test_fit_lowers_the_loss_and_learns_the_blobs(blobs, tiny_model):
    model = tiny_model()
    history = fit(model, blobs(), blobs(seed=1), batch_size=16, epochs=4,
                  loss=nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(model.parameters(), 0.05),
                  metrics={"accuracy": Accuracy()}, **QUIET)
    losses = history["train_loss"]
    assert len(history) == 4
    assert losses[-1] < 0.5 * losses[0]
    assert history["val_accuracy"][-1] > 0.9
    assert history.keys()[:5] == ["epoch", "train_loss", "train_accuracy", "val_loss",
                                  "val_accuracy"]


def test_fit_takes_the_same_steps_as_a_hand_written_loop(blobs, tiny_model):
    """Reference: the textbook loop with the same loader, clipping and schedulers."""
    data = blobs(n=50)

    def run(use_fit: bool):
        model = tiny_model(dropout=0.3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        loader = DataLoader(data, batch_size=8, shuffle=True,
                            generator=torch.Generator().manual_seed(3))
        loss_function = nn.CrossEntropyLoss()
        torch.manual_seed(11)
        if use_fit:
            history = fit(model, loader, loss=loss_function, optimizer=optimizer,
                          scheduler=scheduler, epochs=3, clip_grad_norm=0.5, seed=5, **QUIET)
            return model, history["train_loss"]
        losses = []
        for epoch in range(3):
            loader.generator.manual_seed(5 * 2**20 + epoch)  # fit's documented (seed, epoch) order
            total, count = 0.0, 0
            for inputs, targets in loader:
                optimizer.zero_grad()
                loss = loss_function(model(inputs), targets)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 0.5)
                optimizer.step()
                total += loss.item() * len(targets)
                count += len(targets)
            scheduler.step()
            losses.append(total / count)
        return model, losses

    fitted, fit_losses = run(use_fit=True)
    reference, reference_losses = run(use_fit=False)
    for key, value in reference.state_dict().items():
        assert torch.equal(fitted.state_dict()[key], value), key
    assert fit_losses == pytest.approx(reference_losses, rel=1e-6)


@pytest.mark.parametrize("kind", ["onecycle", "step", "cosine", "plateau", "step_per_batch"])
def test_each_scheduler_kind_steps_at_its_interval(blobs, tiny_model, kind):
    model = tiny_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    epochs, steps_per_epoch = 3, 6  # 48 samples / batch 8
    interval = None
    if kind == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5,
                                                        total_steps=epochs * steps_per_epoch)
        expected_steps = epochs * steps_per_epoch
    elif kind == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.1)
        expected_steps = epochs
    elif kind == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        expected_steps = epochs
    elif kind == "plateau":
        # the optimizer moves only a parameter the model never uses, so the validation loss
        # stays flat and every epoch after the first is a plateau
        unused = nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([unused], lr=0.1)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
        expected_steps = None
    else:
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
        interval, expected_steps = "step", epochs * steps_per_epoch
    history = fit(model, blobs(n=48), blobs(n=24), batch_size=8, epochs=epochs,
                  loss=nn.CrossEntropyLoss(), optimizer=optimizer, scheduler=scheduler,
                  scheduler_interval=interval, **QUIET)
    if kind == "plateau":
        assert history["val_loss"][0] == history["val_loss"][-1] == scheduler.best
        # halved after epochs 2 and 3, the first two without improvement
        assert history["lr"] == pytest.approx([0.1, 0.1, 0.05])
        assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
        return
    assert scheduler.last_epoch == expected_steps
    if kind == "step":
        assert history["lr"] == pytest.approx([0.1, 0.01, 0.001])  # lr in effect in each epoch
    if kind == "cosine":
        assert history["lr"] == pytest.approx(
            [0.05 * (1 + math.cos(math.pi * e / epochs)) for e in range(epochs)])
    if kind == "step_per_batch":
        assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** (18 // 4))


def test_dict_batches_and_models_returning_state_use_the_default_step():
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 3)

        def forward(self, inputs, lengths):
            return self.linear(inputs), lengths.float().mean()  # (logits, some state)

    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 12

        def __getitem__(self, index):
            return {"inputs": torch.full((2,), float(index)), "lengths": torch.tensor(index),
                    "targets": torch.tensor(index % 3)}

    history = fit(Tagger(), Pairs(), batch_size=4, epochs=1, loss=nn.CrossEntropyLoss(),
                  optimizer=torch.optim.SGD(Tagger().parameters(), lr=0.0),
                  metrics={"accuracy": Accuracy()}, **QUIET)
    assert 0.0 <= history["train_accuracy"][0] <= 1.0


def test_custom_step_function_weights_the_epoch_mean_by_its_size():
    data = TensorDataset(torch.arange(6.0))
    model = nn.Linear(1, 1)

    def step(model, batch, loss):
        (values,) = batch
        prediction = model(values[:, None]).squeeze(1)
        # the loss is the batch mean of the values themselves plus a differentiable zero
        return StepOutput(values.mean() + 0 * prediction.sum(), size=len(values))

    history = fit(model, data, batch_size=4, epochs=1, loss=None, step_fn=step,
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.0), **QUIET)
    assert history["train_loss"] == [pytest.approx(2.5)]  # (0+…+5)/6, not mean of batch means


def test_history_names_unknown_keys():
    with pytest.raises(KeyError, match="val_accuracy"):
        History([{"train_loss": 1.0}])["val_accuracy"]


@pytest.mark.parametrize("arguments, error, match", [
    ({"epochs": 0}, ValueError, "'epochs' expected an int ≥ 1, got 0"),
    ({"log_every": 0}, ValueError, "'log_every'"),
    ({"clip_grad_norm": -1.0}, ValueError, "'clip_grad_norm'"),
    ({"optimizer": "adam"}, TypeError, "'optimizer' expected a torch.optim.Optimizer"),
    ({"batch_size": None}, ValueError, "'batch_size' is required"),
    ({"scheduler_interval": "batch"}, ValueError, "'scheduler_interval'"),
    ({"metrics": [object()]}, TypeError, "'metrics' expected a mapping"),
    ({"callbacks": [print]}, TypeError, "'callbacks' expected Callback instances"),
])
def test_bad_arguments_are_named(blobs, tiny_model, arguments, error, match):
    model = tiny_model()
    options = {"epochs": 1, "batch_size": 8, "loss": nn.CrossEntropyLoss(),
               "optimizer": torch.optim.SGD(model.parameters(), lr=0.1)} | arguments
    with pytest.raises(error, match=match):
        fit(model, blobs(), **options, **QUIET)


def test_non_dataset_train_argument_is_a_type_error(tiny_model):
    model = tiny_model()
    with pytest.raises(TypeError, match="'train' expected a DataLoader or a Dataset, got list"):
        fit(model, [1, 2], epochs=1, loss=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), **QUIET)


def test_unseeded_shuffling_loader_warns_that_resume_cannot_be_exact(blobs, tiny_model):
    model = tiny_model()
    with pytest.warns(UserWarning, match="global generator"):
        fit(model, DataLoader(blobs(), batch_size=8, shuffle=True), epochs=1,
            loss=nn.CrossEntropyLoss(), optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            **QUIET)


def test_samplers_with_set_epoch_are_told_each_epoch(blobs, tiny_model):
    """Batch samplers (length buckets) and samplers (DistributedSampler) that shuffle per epoch."""
    told = {"sampler": [], "batch_sampler": []}

    class EpochAware:
        def __init__(self, name, inner):
            self.name, self.inner = name, inner

        def set_epoch(self, epoch):
            told[self.name].append(epoch)

        def __iter__(self):
            return iter(self.inner)

        def __len__(self):
            return len(self.inner)

    data = blobs(n=16)
    batches = [list(range(i, i + 4)) for i in range(0, 16, 4)]
    model = tiny_model()
    for name, loader in (
        ("batch_sampler", DataLoader(data, batch_sampler=EpochAware("batch_sampler", batches))),
        ("sampler", DataLoader(data, batch_size=4, sampler=EpochAware("sampler", range(16)))),
    ):
        fit(model, loader, epochs=3, loss=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), **QUIET)
        assert told[name] == [0, 1, 2]


def test_every_callback_is_closed_when_one_close_raises():
    """A logger whose close fails (its file on a full disk) does not keep the callbacks after it from closing;
    its error still reaches the caller."""
    from convrnn.training.fit import _close_all

    closed = []

    class Closing:
        def __init__(self, name, error=None):
            self.name, self.error = name, error

        def close(self):
            closed.append(self.name)
            if self.error:
                raise self.error

    with pytest.raises(OSError, match="no space"):
        _close_all([Closing("a"), Closing("b", OSError(28, "no space")), Closing("c"), Closing("d", ValueError())])
    assert closed == ["a", "b", "c", "d"]
