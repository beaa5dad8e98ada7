"""A run's settings: the recipe's defaults under the command line's overrides, and the device,
checked once for every task kind with errors that name the argument."""

from types import SimpleNamespace

import pytest
import torch

from convrnn.tasks.settings import Settings, resolve_device, resolve_settings

DEFAULTS = SimpleNamespace(epochs=5, batch_size=32, lr=1e-3)


def test_defaults_hold_where_nothing_is_given_and_overrides_win():
    assert resolve_settings(DEFAULTS, None, None, None) == Settings(5, 32, 1e-3)
    settings = resolve_settings(DEFAULTS, 2, 8, 1, seed=4, limit=10, resume=True, progress=False)
    assert settings == Settings(2, 8, 1.0, 4, "cpu", True, False, 10) and isinstance(settings.lr, float)


@pytest.mark.parametrize(("arguments", "options", "message"), [
    ((True, None, None), {}, "'epochs' expected an int ≥ 1, got True"),
    ((None, 0, None), {}, "'batch_size' expected an int ≥ 1, got 0"),
    ((None, None, "fast"), {}, "'lr' expected a positive finite number, got 'fast'"),
    ((None, None, None), {"limit": 1, "min_limit": 2, "limit_unit": "tokens"}, "'limit' expected an int ≥ 2 tokens"),
])
def test_bad_settings_name_the_argument(arguments, options, message):
    with pytest.raises(ValueError, match=message):
        resolve_settings(DEFAULTS, *arguments, **options)


def test_a_device_this_machine_has_is_returned_as_given():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(torch.device("cpu")) == "cpu"


def test_a_device_name_torch_does_not_know_is_one_line():
    with pytest.raises(ValueError, match=r"^eval: argument 'device' expected a device name such as 'cpu', 'cuda' or "
                                         r"'cuda:1', got 'gpu0'$"):
        resolve_device("gpu0", where="eval")
    with pytest.raises(TypeError, match="argument 'device' expected a device name"):
        resolve_device(0)


def test_cuda_without_a_cuda_device_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="'cuda', but this machine has no CUDA device"):
        resolve_device("cuda")


def test_a_cuda_index_past_the_devices_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError, match=r"'cuda:2', but this machine has 2 CUDA devices \(cuda:0 … cuda:1\)"):
        resolve_device("cuda:2")


def test_the_batch_is_global_and_the_launch_is_recorded():
    settings = Settings(epochs=1, batch_size=32, lr=0.1, world_size=4, backend="nccl")
    assert settings.per_rank_batch == 8
    assert settings.launch() == {"world_size": 4, "per_rank_batch": 8, "backend": "nccl"}
    assert Settings(1, 32, 0.1).launch() == {"world_size": 1, "per_rank_batch": 32, "backend": None}


@pytest.mark.parametrize(("device", "message"), [
    ("meta", "expected a device that holds data"),
    ("xpu", "argument 'device' is 'xpu', but this machine"),
    ("cuda:99", "argument 'device' is 'cuda:99'"),
])
def test_a_device_without_data_or_absent_from_this_torch_is_refused(device, message):
    if device.startswith("xpu") and torch.xpu.is_available():
        device, message = "xpu:99", "argument 'device' is 'xpu:99'"
    with pytest.raises(ValueError, match=message):
        resolve_device(device, where="train")
