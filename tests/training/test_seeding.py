import random

import numpy as np
import pytest
import torch

from convrnn.training.seeding import get_rng_state, seed_everything, set_rng_state


def draw() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.rand(3)


def test_seed_everything_makes_every_generator_repeat():
    seed_everything(123)
    first = draw()
    seed_everything(123)
    second = draw()
    assert first[:2] == second[:2]
    assert torch.equal(first[2], second[2])


def test_rng_state_round_trip_replays_the_same_draws():
    seed_everything(7)
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's state
    np.random.randn()  # leaves one in NumPy's
    scalars, tensors = get_rng_state()
    expected = (random.gauss(0, 1), float(np.random.randn()), torch.randn(4))
    draw()
    set_rng_state(scalars, tensors)
    again = (random.gauss(0, 1), float(np.random.randn()), torch.randn(4))
    assert expected[:2] == again[:2]
    assert torch.equal(expected[2], again[2])


def test_rng_state_scalars_are_plain_json():
    import json

    scalars, tensors = get_rng_state()
    assert json.loads(json.dumps(scalars)) == scalars
    assert tensors["torch"].dtype == torch.uint8


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                         (True, TypeError)])
def test_seed_everything_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="'seed'"):
        seed_everything(seed)


def test_deterministic_mode_turns_on_deterministic_algorithms(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
              torch.backends.cudnn.deterministic)
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
        import os

        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    finally:  # a process-wide switch: leave it as the other tests expect
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[1:]
