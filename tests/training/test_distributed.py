"""Two gloo processes on 127.0.0.1, each with half the batch, train exactly like one process."""

import json
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import TensorDataset

from convrnn.training import (
    Accuracy,
    Checkpoint,
    fit,
    init_distributed,
    load_checkpoint,
    load_model_weights,
    save_model,
)
from convrnn.training.distributed import (
    Launch,
    all_reduce_sum,
    backend_for,
    is_distributed,
    is_peer_failure,
    launch,
    process_group,
    rank,
    world_size,
)

GLOBAL_BATCH, EPOCHS = 8, 2


def data(n: int, seed: int) -> TensorDataset:
    centres = torch.randn(3, 4, generator=torch.Generator().manual_seed(0)) * 3
    targets = torch.arange(n) % 3
    inputs = centres[targets] + torch.randn(n, 4, generator=torch.Generator().manual_seed(seed))
    return TensorDataset(inputs, targets)


def train(per_process_batch: int, checkpoints) -> tuple[nn.Module, dict]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = fit(model, data(48, 1), data(20, 2), batch_size=per_process_batch, epochs=EPOCHS,
                  loss=nn.CrossEntropyLoss(), optimizer=optimizer, seed=7,
                  metrics={"accuracy": Accuracy()}, callbacks=[Checkpoint(checkpoints)],
                  progress=False)
    return model, history.records


def worker(process: int, processes: int, port: int, directory: str) -> None:
    os.environ.update(RANK=str(process), WORLD_SIZE=str(processes), LOCAL_RANK=str(process),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    torch.set_num_threads(1)
    device = init_distributed(backend="gloo")  # CPU processes, even on a machine with a GPU
    try:
        assert device == torch.device("cpu") and is_distributed()
        assert (rank(), world_size()) == (process, processes)
        assert all_reduce_sum(torch.tensor([process + 1.0])).item() == 3.0
        model, records = train(GLOBAL_BATCH // processes, os.path.join(directory, f"rank{process}"))
        save_model(os.path.join(directory, f"final{process}"), model, {"process": process})
        with open(os.path.join(directory, f"history{process}.json"), "w") as handle:
            json.dump(records, handle)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    mp.spawn(worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    single, single_records = train(GLOBAL_BATCH, tmp_path / "single")

    for process in range(2):
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        assert load_model_weights(tmp_path / f"final{process}", model) == {"process": process}
        for key, value in single.state_dict().items():
            torch.testing.assert_close(model.state_dict()[key], value, rtol=1e-5, atol=1e-6)
        records = json.loads((tmp_path / f"history{process}.json").read_text())
        for record, expected in zip(records, single_records, strict=True):
            for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
                assert record[key] == pytest.approx(expected[key], rel=1e-5), key

    assert (tmp_path / "rank0" / "last").is_dir()
    assert not (tmp_path / "rank1").exists()  # only rank 0 writes
    plain = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    load_checkpoint(tmp_path / "rank0" / "last", plain)  # keys carry no "module." prefix
    for key, value in single.state_dict().items():
        torch.testing.assert_close(plain.state_dict()[key], value, rtol=1e-5, atol=1e-6)


def test_without_torchrun_variables_nothing_is_initialised(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert init_distributed().type in ("cpu", "cuda")
    assert not dist.is_initialized() and world_size() == 1 and rank() == 0


def test_incomplete_torchrun_environment_is_named(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match=r"missing \['WORLD_SIZE'"):
        init_distributed()


TORCHRUN_SCRIPT = """
import sys
import torch
from torch import nn
sys.path.insert(0, {tests!r})
from test_distributed import data
from convrnn.training import Checkpoint, fit, init_distributed, is_main_process, save_model

torch.set_num_threads(1)
init_distributed(backend="gloo")
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
fit(model, data(48, 1), batch_size={batch}, epochs={epochs}, loss=nn.CrossEntropyLoss(),
    optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), seed=7,
    callbacks=[Checkpoint({checkpoints!r}, monitor=None)], progress=False)
if is_main_process():
    save_model({final!r}, model, {{"launched_by": "torchrun"}})
"""


@pytest.mark.slow
def test_fit_under_torchrun_matches_one_process(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "train.py"
    script.write_text(TORCHRUN_SCRIPT.format(
        tests=str(Path(__file__).parent), batch=GLOBAL_BATCH // 2, epochs=EPOCHS,
        checkpoints=str(tmp_path / "checkpoints"), final=str(tmp_path / "final")))
    source = str(Path(__file__).parents[2] / "src")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [source, os.environ.get("PYTHONPATH", "")]), GLOO_SOCKET_IFNAME="lo")
    completed = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(script)], env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]

    torch.manual_seed(0)
    single = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    fit(single, data(48, 1), batch_size=GLOBAL_BATCH, epochs=EPOCHS, loss=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(single.parameters(), lr=0.1, momentum=0.9), seed=7,
        progress=False)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    assert load_model_weights(tmp_path / "final", model) == {"launched_by": "torchrun"}
    for key, value in single.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    assert load_checkpoint(tmp_path / "checkpoints" / "last").training["epoch"] == EPOCHS - 1


TORCHRUN_NAMES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def test_launch_reads_this_process_s_place_from_torchrun_s_environment(monkeypatch):
    for name in TORCHRUN_NAMES:
        monkeypatch.delenv(name, raising=False)
    assert launch() is None
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    for name, value in {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4"}.items():
        monkeypatch.setenv(name, value)
    assert launch() == Launch(rank=5, world_size=8, local_rank=1, local_world_size=4)
    monkeypatch.setenv("RANK", "8")
    with pytest.raises(ValueError, match=r"expected 0 ≤ RANK < WORLD_SIZE"):
        launch()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match=r"environment variable RANK expected an integer, got 'x'"):
        launch()


def test_the_backend_follows_the_device():
    assert (backend_for("cpu"), backend_for("cuda"), backend_for(torch.device("cuda", 1))) == ("gloo", "nccl", "nccl")
    with pytest.raises(ValueError, match=r"argument 'device' expected 'cpu' or 'cuda' under torchrun .*'mps'"):
        backend_for("mps")


def test_without_torchrun_the_process_group_block_only_yields_the_device(monkeypatch):
    for name in TORCHRUN_NAMES:
        monkeypatch.delenv(name, raising=False)
    with process_group("cpu") as device:
        assert device == torch.device("cpu") and not dist.is_initialized()


def test_only_errors_of_a_lost_peer_count_as_one():
    assert is_peer_failure(RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer"))
    assert is_peer_failure(dist.DistNetworkError("timed out"))
    assert not is_peer_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_peer_failure(ValueError("gloo"))
