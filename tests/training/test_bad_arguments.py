"""convrnn.training.fit given bad arguments, one row per (argument, kind of bad value): a ValueError/TypeError
from convrnn's own checks naming fit, the argument and what was expected, raised before the model is touched (a
device that fails must not leave the model moved), never an error from deep inside PyTorch or a silent run on
nothing (see tests/bad_arguments.py)."""

import math

import pytest
import torch
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

from bad_arguments import CI_EXAMPLES, FUZZ_EXAMPLES, NAN_INF, NON_POSITIVE, NOT_A_BOOL, NOT_AN_INT, Row, run_rows
from convrnn.training import fit


def _fit(**changes):
    """fit with good arguments but ``changes``; an argument given as ``...`` takes the drawn value."""
    def call(value):
        model = torch.nn.Linear(3, 2)
        data = TensorDataset(torch.randn(8, 3), torch.randint(2, (8,)))
        given = {"model": model, "train": data, "val": None, "loss": torch.nn.functional.cross_entropy,
                 "optimizer": torch.optim.SGD(model.parameters(), 0.1), "epochs": 1, "batch_size": 4,
                 "progress": False, **{k: (value if v is ... else v) for k, v in changes.items()}}
        return fit(given.pop("model"), given.pop("train"), given.pop("val"), **given)
    return call


EMPTY = TensorDataset(torch.randn(0, 3), torch.zeros(0, dtype=torch.long))
ROWS = [
    Row("fit", "epochs", "count", _fit(epochs=...), st.one_of(NON_POSITIVE, NOT_AN_INT, NAN_INF)),
    Row("fit", "log_every", "count", _fit(log_every=...), st.one_of(NON_POSITIVE, NOT_AN_INT)),
    Row("fit", "batch_size", "count", _fit(batch_size=...), st.one_of(NON_POSITIVE, NOT_AN_INT.filter(
        lambda v: v is not None))),
    Row("fit", "seed", "range or type", _fit(seed=...), st.one_of(st.integers(max_value=-1), st.integers(
        min_value=2**32), NOT_AN_INT)),
    Row("fit", "clip_grad_norm", "not > 0", _fit(clip_grad_norm=...), st.one_of(st.floats(max_value=0),
        st.just(math.nan), st.text(max_size=2))),
    Row("fit", "optimizer", "not an optimizer", _fit(optimizer=...), st.one_of(st.none(), st.text(max_size=2),
        st.just(torch.optim.SGD))),
    Row("fit", "model", "not a module", _fit(model=...), st.one_of(st.none(), st.text(max_size=2),
        st.just(torch.relu))),
    Row("fit", "model", "on the meta device", _fit(model=...), st.builds(lambda: torch.nn.Linear(3, 2,
        device="meta"))),
    Row("fit", "loss", "not callable", _fit(loss=...), st.one_of(st.text(max_size=3), st.integers())),
    Row("fit", "step_fn", "not callable", _fit(step_fn=...), st.one_of(st.none(), st.integers())),
    Row("fit", "batch_fn", "not callable", _fit(batch_fn=...), st.one_of(st.none(), st.integers())),
    Row("fit", "device", "unknown or shapes-only", _fit(device=...), st.sampled_from(["banana", "", "meta", "cpu:x"])),
    Row("fit", "device", "absent from this machine", _fit(device=...),
        st.sampled_from(["cuda:99", "xpu"] + ([] if torch.cuda.is_available() else ["cuda"])), says="but this machine"),
    Row("fit", "device", "not a name", _fit(device=...), st.one_of(st.integers(), st.none(), st.floats())),
    Row("fit", "train", "not data", _fit(train=...), st.one_of(st.integers(), st.none(), st.text(max_size=2))),
    Row("fit", "train", "empty", _fit(train=...), st.sampled_from([EMPTY, DataLoader(EMPTY, batch_size=2)])),
    Row("fit", "train", "a Dataset without batch_size", _fit(batch_size=None, train=...),
        st.builds(lambda: TensorDataset(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))), says="required"),
    Row("fit", "val", "not data", _fit(val=...), st.one_of(st.integers(), st.text(min_size=1, max_size=2))),
    Row("fit", "callbacks", "not callbacks", _fit(callbacks=...), st.one_of(st.integers(), st.just([1]),
        st.just("ab"))),
    Row("fit", "metrics", "not a mapping", _fit(metrics=...), st.one_of(st.just([1]), st.integers())),
    Row("fit", "scheduler_interval", "unknown name", _fit(scheduler_interval=...),
        st.text(max_size=5).filter(lambda s: s not in ("step", "epoch"))),
    Row("fit", "progress", "not a bool", _fit(progress=...), NOT_A_BOOL),
    Row("fit", "resume", "not a path", _fit(resume=...), st.one_of(st.integers(), st.just(b"last"), st.just([1]))),
    Row("fit", "config", "not a dict", _fit(config=...), st.one_of(st.just([1]), st.integers(), st.text(
        min_size=1, max_size=2))),
]


def test_a_device_this_machine_lacks_leaves_the_model_where_it_was():
    model = torch.nn.Linear(3, 2, device="meta")
    with pytest.raises(ValueError, match="fit: argument 'device'"):
        fit(model, TensorDataset(torch.randn(4, 3), torch.zeros(4, dtype=torch.long)), loss=torch.nn.functional.mse_loss,
            optimizer=torch.optim.SGD(model.parameters(), 0.1), epochs=1, batch_size=2, device="banana")
    assert model.weight.device.type == "meta"


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_argument_is_a_clear_error(row):
    run_rows(ROWS, CI_EXAMPLES)(row)


@pytest.mark.fuzz
@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_argument_is_a_clear_error_fuzzed(row):
    run_rows(ROWS, FUZZ_EXAMPLES)(row)


@pytest.mark.parametrize("what", ["missing", "a file"])
def test_resuming_from_a_checkpoint_that_is_not_there_names_fit_and_the_argument(what, tmp_path):
    """Once a bare FileNotFoundError from deep in load_checkpoint; now, before the model is touched, one naming fit,
    'resume', what was expected and what the path is."""
    path = tmp_path / "last"
    if what == "a file":
        path.write_text("x")
    expected = "which is a file" if what == "a file" else "which does not exist"
    with pytest.raises(FileNotFoundError, match=rf"^fit: argument 'resume' expected a checkpoint directory .*, got "
                                                rf"'{path}', {expected}$"):
        _fit(resume=...)(path)
