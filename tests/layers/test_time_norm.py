"""ClipNorm normalises by the clip's statistics; RunningNorm by the statistics so far, against a plain
step-by-step loop (Welford / exponential averages), and continued from a carried state."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.layers import ClipNorm, RunningNorm


def _loop(x: np.ndarray, tau, min_std: float) -> np.ndarray:
    """Reference: the running mean and variance updated one step at a time."""
    y = np.zeros_like(x)
    mean = np.zeros(x.shape[:2])
    var = np.zeros(x.shape[:2])
    for t in range(x.shape[-1]):
        w = 1 / (t + 1) if tau is None else max(1 / (t + 1), 1 / tau)
        d = x[..., t] - mean
        mean = mean + w * d
        var = (1 - w) * (var + w * d * d)
        y[..., t] = (x[..., t] - mean) / np.maximum(np.sqrt(var), min_std)
    return y


def test_clip_norm_uses_the_clips_mean_and_unbiased_std():
    x = torch.randn(2, 3, 50, dtype=torch.float64)
    expected = (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True)
    torch.testing.assert_close(ClipNorm()(x), expected)


@settings(max_examples=15, deadline=None)
@given(lengths=st.lists(st.integers(2, 12), min_size=1, max_size=4))
def test_clip_norm_with_lengths_normalises_each_clip_as_if_alone(lengths):
    x = torch.randn(len(lengths), 3, max(lengths), dtype=torch.float64) * 2 + 5
    y = ClipNorm()(x, torch.tensor(lengths))
    for n, length in enumerate(lengths):
        torch.testing.assert_close(y[n:n + 1, :, :length], ClipNorm()(x[n:n + 1, :, :length]))


def test_clip_norm_with_lengths_gradients_in_float64_and_bad_lengths_refused():
    x = torch.randn(2, 2, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: ClipNorm()(v, torch.tensor([6, 3])), (x,))
    with pytest.raises(ValueError, match=r"ClipNorm: argument 'lengths' expected 2 integers in \[1, 6\], got \[0, 3\]"):
        ClipNorm()(x, torch.tensor([0, 3]))


@settings(max_examples=15)
@given(tau=st.sampled_from([None, 1.0, 3.0, 10.0]), length=st.integers(1, 40))
def test_running_norm_equals_a_step_by_step_loop(tau, length):
    x = torch.randn(2, 3, length, dtype=torch.float64) * 3 + 1
    np.testing.assert_allclose(RunningNorm(tau)(x).numpy(), _loop(x.numpy(), tau, 1e-3), rtol=1e-9, atol=1e-9)


def test_running_norm_without_a_time_constant_ends_at_the_population_statistics():
    x = torch.randn(1, 2, 30, dtype=torch.float64)
    y = RunningNorm()(x)
    last = (x[..., -1] - x.mean(-1)) / x.std(-1, unbiased=False)
    torch.testing.assert_close(y[..., -1], last)
    assert torch.all(y[..., 0] == 0)


def test_running_norm_continues_from_a_carried_state():
    norm = RunningNorm(5.0)
    x = torch.randn(2, 3, 20, dtype=torch.float64)
    zeros = x.new_zeros(2, 3)
    first, mean, var, seen = norm.run(x[..., :7], zeros, zeros, torch.zeros((), dtype=torch.long))
    second, *_ = norm.run(x[..., 7:], mean, var, seen)
    torch.testing.assert_close(torch.cat([first, second], -1), norm(x))


def test_running_norm_gradients_in_float64():
    x = torch.randn(1, 2, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(RunningNorm(3.0), (x,))


@pytest.mark.parametrize("module,message", [
    (lambda: RunningNorm(0.5), "RunningNorm: argument 'time_constant' expected None or a number ≥ 1"),
    (lambda: RunningNorm(min_std=0), "RunningNorm: argument 'min_std' expected a finite number > 0"),
    (lambda: ClipNorm(-1), "ClipNorm: argument 'min_std' expected a finite number > 0")])
def test_bad_arguments_are_refused_in_one_line(module, message):
    with pytest.raises(ValueError, match=message):
        module()
