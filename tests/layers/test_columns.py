"""Columns as time: the layout of the sequence, the round trip, and widths followed through conv stacks."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convrnn.layers.columns import (
    ColumnsAsTime,
    column_lengths,
    columns_to_sequence,
    output_width,
    sequence_to_columns,
)
from convrnn.layers.conv import Conv2d
from convrnn.layers.pool import Pool

sizes = st.integers(1, 5)


@given(sizes, sizes, sizes, sizes)
def test_column_w_becomes_step_w_with_feature_c_times_h_plus_h(batch, channels, height, width):
    x = torch.randn(batch, channels, height, width)
    sequence = columns_to_sequence(x)
    assert sequence.shape == (batch, width, channels * height)
    for n in range(batch):
        for c in range(channels):
            for h in range(height):
                for w in range(width):
                    assert sequence[n, w, c * height + h] == x[n, c, h, w]


@given(sizes, sizes, sizes, sizes)
def test_sequence_to_columns_round_trips(batch, channels, height, width):
    x = torch.randn(batch, channels, height, width)
    module = ColumnsAsTime(channels, height)
    torch.testing.assert_close(module.inverse(module(x)), x, rtol=0, atol=0)
    sequence = torch.randn(batch, width, channels * height)
    torch.testing.assert_close(columns_to_sequence(sequence_to_columns(sequence, channels, height)), sequence,
                               rtol=0, atol=0)


def test_gradients_flow_back_to_the_feature_map():
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: columns_to_sequence(t).sin().sum(), (x,))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: columns_to_sequence(torch.zeros(2, 3, 4)), "argument 'x' expected a 4-d tensor"),
    (lambda: sequence_to_columns(torch.zeros(2, 5, 12), 3, 5), "argument 'x' expected C·H = 3·5 = 15 features"),
    (lambda: sequence_to_columns(torch.zeros(2, 5, 12), 0, 5), "argument 'channels' expected an int ≥ 1, got 0"),
    (lambda: ColumnsAsTime(3, 4)(torch.zeros(1, 2, 4, 5)), "argument 'x' expected channels 3"),
    (lambda: ColumnsAsTime(3, 4)(torch.zeros(1, 3, 5, 5)), "argument 'x' expected height 4"),
    (lambda: ColumnsAsTime().inverse(torch.zeros(1, 5, 12)), "arguments 'channels' and 'height' are needed"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)


def conv_stacks():
    return [
        nn.Sequential(Conv2d(1, 2, 3, padding="same"), nn.BatchNorm2d(2), nn.ReLU(), Pool((2, 2), kind="max")),
        nn.Sequential(Conv2d(1, 2, (3, 5), stride=(1, 3), padding="same"), nn.GELU(), Pool((1, 3), (1, 2), ceil_mode=True)),
        nn.Sequential(Conv2d(1, 2, 3, padding="valid", dilation=(1, 2)), nn.Dropout(0.1),
                      Pool((2, 3), stride=(2, 2), padding=(0, (1, 0)), kind="avg")),
        nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.MaxPool2d((2, 3), stride=(1, 2), ceil_mode=True),
                      nn.Conv2d(2, 2, (1, 3), padding="same"), nn.AvgPool2d(2), nn.Identity()),
        nn.Sequential(Conv2d(1, 2, 3, padding="full"), nn.Tanh()),
    ]


@pytest.mark.parametrize("stack", range(len(conv_stacks())))
@given(st.integers(9, 40))
def test_output_width_is_the_width_the_stack_produces(stack, width):
    layers = conv_stacks()[stack].eval()
    with torch.no_grad():
        produced = layers(torch.zeros(1, 1, 12, width)).shape[-1]
    assert output_width(width, layers) == produced
    assert output_width(width, list(layers)) == produced


def test_column_lengths_follow_every_width_of_a_batch():
    stack = conv_stacks()[0]
    widths = torch.tensor([8, 9, 17, 3])
    assert column_lengths(widths, [stack, stack]).tolist() == [2, 2, 4, 0]
    assert column_lengths(widths, stack).dtype == torch.long


def test_a_layer_of_unknown_effect_on_the_width_is_refused():
    with pytest.raises(TypeError, match="cannot tell how a Upsample layer changes the width"):
        output_width(10, nn.Sequential(nn.ReLU(), nn.Upsample(scale_factor=2)))
    with pytest.raises(TypeError, match="argument 'widths' expected integers"):
        column_lengths(torch.tensor([2.0]), nn.ReLU())
