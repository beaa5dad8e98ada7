"""Pooling over time streamed equals offline (every kind, padding, stride, ceil mode); global pooling
streams the pooled value so far at every step, whose last step is the offline output."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import convrnn
from convrnn.layers import GlobalPool, Pool1d

from .conftest import chunkings, run_stream


@settings(max_examples=25)
@given(kind=st.sampled_from(["max", "min", "avg", "sum", "median", "lp"]), kernel=st.integers(1, 4),
       stride=st.integers(1, 4), dilation=st.integers(1, 2), padding=st.integers(0, 1), ceil_mode=st.booleans(),
       boundary=st.sampled_from([None, "zeros", "reflect", "neumann"]), sizes=chunkings,
       length=st.integers(10, 30))
def test_streamed_pool_equals_offline(kind, kernel, stride, dilation, padding, ceil_mode, boundary, sizes, length):
    padding = min(padding, (dilation * (kernel - 1)) // 2)
    pool = Pool1d(kernel, stride, padding, dilation, kind=kind, p=3.0, ceil_mode=ceil_mode, boundary=boundary)
    x = torch.randn(2, 3, length, dtype=torch.float64)
    try:
        expected = pool(x)
    except ValueError:
        return
    _, y = run_stream(pool, x, sizes, -1)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("module", [nn.MaxPool1d(3, 2, 1), nn.AvgPool1d(4, 2, 2, count_include_pad=False),
                                    nn.MaxPool1d(2, ceil_mode=True), nn.AvgPool1d(3, ceil_mode=True)])
def test_torch_pools_stream_equal_to_offline(module):
    x = torch.randn(2, 3, 23, dtype=torch.float64)
    for sizes in ([1], [2, 5], [23]):
        torch.testing.assert_close(run_stream(module, x, sizes, -1)[1], module(x), rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["max", "min", "avg", "sum", "lp"])
@pytest.mark.parametrize("p", [2.0, float("inf")])
def test_global_pool_streams_the_running_value_whose_last_step_is_offline(kind, p):
    pool = GlobalPool(kind, p)
    x = torch.randn(2, 3, 17, dtype=torch.float64)
    stream, y = run_stream(pool, x, [1, 4, 2], -1)
    assert y.shape == (2, 17, 3)
    for t in (0, 5, 16):
        torch.testing.assert_close(y[:, t], pool(x[..., :t + 1]), rtol=0, atol=1e-10)
    assert stream.latency == 0


def test_layers_after_a_global_pool_act_on_each_steps_value():
    model = nn.Sequential(GlobalPool("max"), nn.Linear(3, 2), nn.Tanh()).double()
    x = torch.randn(2, 3, 9, dtype=torch.float64)
    _, y = run_stream(model, x, [2], -1)
    torch.testing.assert_close(y[:, -1], model(x), rtol=0, atol=1e-10)


def test_a_window_pool_after_a_global_pool_is_refused():
    with pytest.raises(TypeError, match="comes after 0, which turns the sequence into one value"):
        convrnn.stream(nn.Sequential(GlobalPool("max"), Pool1d(2)))


def test_pool_with_indices_refuses():
    with pytest.raises(TypeError, match="return_indices=True"):
        convrnn.stream(nn.MaxPool1d(2, return_indices=True))
