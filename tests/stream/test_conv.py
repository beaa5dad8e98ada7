"""Convolution over time streamed chunk by chunk equals the convolution of the whole signal, for every
padding, dilation, stride, group count and boundary that streams; the others refuse in one line."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import convrnn
from convrnn.layers import Conv1d, SeparableConv, SharedFilterConv
from convrnn.stream import NotCausalError

from .conftest import chunkings, run_stream

PADDINGS = ["valid", "same", "full", 0, 3, [(4, 0)], [(0, 2)], [(1, 5)]]
BOUNDARIES = ["zeros", "constant", "neumann", "reflect", "symmetric"]


@given(padding=st.sampled_from(PADDINGS), kernel=st.integers(1, 5), dilation=st.integers(1, 3),
       boundary=st.sampled_from(BOUNDARIES), groups=st.sampled_from([1, 2]), sizes=chunkings,
       length=st.integers(12, 40))
def test_streamed_conv_equals_offline_for_every_padding_and_chunking(padding, kernel, dilation, boundary, groups,
                                                                     sizes, length):
    conv = Conv1d(4, 6, kernel, padding=padding, dilation=dilation, groups=groups, boundary=boundary,
                  value=0.5).double()
    x = torch.randn(2, 4, length, dtype=torch.float64)
    try:
        expected = conv(x)
    except ValueError:  # offline refuses (e.g. reflect padding wider than the signal): nothing to compare
        return
    stream, y = run_stream(conv, x, sizes, -1)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-10)


@given(kernel=st.integers(1, 5), stride=st.integers(1, 4), dilation=st.integers(1, 2),
       low=st.integers(0, 4), high=st.integers(0, 4), sizes=chunkings, length=st.integers(12, 40))
def test_strided_conv_streams_equal_to_offline(kernel, stride, dilation, low, high, sizes, length):
    conv = Conv1d(3, 2, kernel, stride=stride, padding=[(low, high)], dilation=dilation).double()
    x = torch.randn(1, 3, length, dtype=torch.float64)
    stream, y = run_stream(conv, x, sizes, -1)
    torch.testing.assert_close(y, conv(x), rtol=0, atol=1e-10)
    assert stream.output_step == stride


@pytest.mark.parametrize("padding,mode", [(2, "zeros"), (1, "reflect"), (3, "replicate"), ("same", "zeros")])
def test_torch_conv1d_streams_equal_to_offline(padding, mode):
    conv = nn.Conv1d(3, 5, 5, padding=padding, padding_mode=mode, dilation=1).double()
    x = torch.randn(2, 3, 29, dtype=torch.float64)
    for sizes in ([1], [2, 3], [7], [29]):
        torch.testing.assert_close(run_stream(conv, x, sizes, -1)[1], conv(x), rtol=0, atol=1e-10)


def test_separable_and_shared_filter_convs_stream_through_their_parts():
    model = nn.Sequential(SeparableConv(4, 6, 3, padding="same", dims=1), nn.ReLU(),
                          SharedFilterConv(5, padding=[(4, 0)], dims=1)).double()
    x = torch.randn(2, 4, 21, dtype=torch.float64)
    for sizes in ([1], [2, 5], [21]):
        torch.testing.assert_close(run_stream(model, x, sizes, -1)[1], model(x), rtol=0, atol=1e-10)


@pytest.mark.parametrize("padding,kernel,dilation,expected", [
    ("same", 5, 1, 2), ("same", 5, 2, 4), ("same", 4, 1, 2), ([(8, 0)], 5, 2, 0), ("valid", 3, 1, 2),
    ("full", 3, 1, 0)])
def test_conv_declares_its_look_ahead(padding, kernel, dilation, expected):
    assert convrnn.stream(Conv1d(1, 1, kernel, padding=padding, dilation=dilation)).latency == expected


def test_float32_stream_equals_offline_to_rounding():
    conv = Conv1d(8, 8, 5, padding="same", dilation=3)
    x = torch.randn(3, 8, 100)
    torch.testing.assert_close(run_stream(conv, x, [1, 7, 3], -1)[1], conv(x), rtol=1e-5, atol=1e-5)


def test_same_padding_whose_start_depends_on_the_length_refuses_naming_an_explicit_padding():
    with pytest.raises(NotCausalError, match=r"stream: Conv1d.*depending on the signal's length.*padding=\["):
        convrnn.stream(Conv1d(1, 1, 3, stride=2, padding="same"))


def test_circular_boundary_refuses_to_stream():
    with pytest.raises(NotCausalError, match="circular"):
        convrnn.stream(Conv1d(1, 1, 3, padding="same", boundary="circular"))


def test_two_dimensional_conv_refuses_naming_time():
    with pytest.raises(TypeError, match="only convolutions with one spatial dimension"):
        convrnn.stream(nn.Sequential(convrnn.layers.Conv2d(1, 1, 3)))


def test_a_chunk_of_another_shape_is_refused_in_one_line():
    stream = convrnn.stream(Conv1d(2, 2, 3))
    stream.push(torch.randn(1, 2, 4))
    with pytest.raises(ValueError, match=r"Stream.push: argument 'chunk' expected the shape of the first chunk"):
        stream.push(torch.randn(1, 3, 4))
    with pytest.raises(TypeError, match=r"Stream\.push: argument 'chunk' expected a tensor"):
        stream.push([1, 2])
