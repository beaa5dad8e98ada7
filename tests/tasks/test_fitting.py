"""Fitting a recipe's model: its optimizer and schedule, the one-cycle span counted in batches of
the data set or the loader, the best epoch saved into the run directory."""

from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from convrnn.tasks.fitting import fit_model, make_optimizer
from convrnn.tasks.runs import Run
from convrnn.tasks.settings import Settings
from convrnn.training.checkpoint import read_config
from convrnn.training.metrics import Accuracy


def _data(n):
    generator = torch.Generator().manual_seed(0)
    return TensorDataset(torch.randn(n, 4, generator=generator), torch.arange(n) % 2)


def _last_lr(lr, epochs, batches):
    """The rate a one-cycle schedule over epochs × batches steps reaches after all of them."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=batches)
    for _ in range(epochs * batches):
        optimizer.step()
        scheduler.step()
    return optimizer.param_groups[0]["lr"]


@pytest.mark.parametrize("as_loader", [False, True])
def test_a_one_cycle_schedule_spans_every_batch_of_the_run(tmp_path, as_loader):
    recipe = SimpleNamespace(optimizer="adamw", weight_decay=0.0, momentum=0.9, scheduler="onecycle")
    settings = Settings(epochs=2, batch_size=4, lr=0.1, progress=False)
    train, val = _data(10), _data(6)  # 3 batches of 4 per epoch, as data sets or as loaders
    if as_loader:
        train, val = DataLoader(train, batch_size=4), DataLoader(val, batch_size=4)
    history = fit_model(recipe, Run("probe", tmp_path, settings), torch.nn.Linear(4, 2), train, val,
                        loss=torch.nn.CrossEntropyLoss(), metrics={"accuracy": Accuracy()}, monitor="val_accuracy",
                        config={"recipe": "probe"})
    assert history.records[-1]["lr"] == pytest.approx(_last_lr(0.1, 2, 3), rel=1e-12)
    assert history.records[-1]["lr"] != pytest.approx(_last_lr(0.1, 2, 4), rel=1e-6)
    assert read_config(tmp_path / "model") == {"recipe": "probe", "launch": {"world_size": 1, "per_rank_batch": 4,
                                                                            "backend": None}}
    assert (tmp_path / "log.csv").is_file() and (tmp_path / "checkpoints" / "best").is_dir()


def test_the_recipe_names_its_optimizer():
    model = torch.nn.Linear(2, 2)
    adam = make_optimizer(SimpleNamespace(optimizer="adam", weight_decay=0.0), model, 0.1)
    sgd = make_optimizer(SimpleNamespace(optimizer="sgd", weight_decay=1e-4, momentum=0.8), model, 0.1)
    assert type(adam) is torch.optim.Adam
    assert type(sgd) is torch.optim.SGD and sgd.defaults["nesterov"] and sgd.defaults["momentum"] == 0.8
