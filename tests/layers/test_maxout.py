"""Maxout and ChannelMaxout: the maximum of k affine pieces (against a per-piece reference), the
channel-group convention, gradients, the summary's counts, errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.inspect.summary import summary
from convrnn.layers import ChannelMaxout, Conv2d, Conv3d, Maxout


@given(batch=st.lists(st.integers(1, 3), min_size=1, max_size=2), features=st.integers(1, 5),
       units=st.integers(1, 4), pieces=st.integers(1, 4))
def test_maxout_unit_is_the_max_of_its_affine_pieces(batch, features, units, pieces):
    layer = Maxout(features, units, pieces).double()
    x = torch.randn(*batch, features, dtype=torch.float64)
    weight = layer.linear.weight.detach().reshape(units, pieces, features)
    bias = layer.linear.bias.detach().reshape(units, pieces)
    # z[..., i, j] = x · W_ij + b_ij, each piece on its own
    z = torch.stack([torch.stack([x @ weight[i, j] + bias[i, j] for j in range(pieces)], -1)
                     for i in range(units)], -2)
    torch.testing.assert_close(layer(x), z.max(-1).values, rtol=0, atol=1e-12)


def test_maxout_layer_gradients():
    layer = Maxout(4, 3, 2).double()
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    weight = layer.linear.weight.detach().clone().requires_grad_()
    bias = layer.linear.bias.detach().clone().requires_grad_()

    def with_parameters(t, w, b):
        return torch.func.functional_call(layer, {"linear.weight": w, "linear.bias": b}, (t,))

    assert torch.autograd.gradcheck(with_parameters, (x, weight, bias))
    assert torch.autograd.gradgradcheck(with_parameters, (x, weight, bias))


@pytest.mark.parametrize(("conv", "shape"), [(Conv2d, (2, 3, 5, 4)), (Conv3d, (1, 3, 3, 3, 2))])
def test_channel_maxout_after_a_convolution_takes_each_unit_over_its_k_filters(conv, shape):
    dims = len(shape) - 2
    layer = torch.nn.Sequential(conv(3, 4 * 3, 3, padding="same"), ChannelMaxout(3)).double()
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    feature_maps = layer[0](x)
    y = layer(x)
    assert y.shape == (shape[0], 4, *shape[2:])
    for g in range(4):
        want = torch.stack([feature_maps[:, 3 * g + j] for j in range(3)]).max(0).values
        torch.testing.assert_close(y[:, g], want, rtol=0, atol=0)
    assert torch.autograd.gradcheck(layer, (x,)) and dims in (2, 3)


def test_summary_counts_the_pieces():
    model = torch.nn.Sequential(Conv2d(1, 8, 3), ChannelMaxout(4), torch.nn.Flatten(), Maxout(2 * 4 * 4, 5, 3))
    table = summary(model, (1, 6, 6))
    assert table.total_params == 8 * 9 + 8 + 3 * 5 * (32 + 1)
    assert [row.output_shape for row in table.rows] == [(8, 4, 4), (2, 4, 4), (32,), (15,)]
    assert table.rows[1].receptive == (3, 3) and table.rows[-1].receptive == ()
    assert table.total_macs == 8 * 16 * 9 + 15 * 32


@pytest.mark.parametrize(("call", "message"), [
    (lambda: Maxout(4, 3, 0), r"Maxout: argument 'pieces' expected an int ≥ 1, got 0"),
    (lambda: Maxout(0, 3, 2), r"Maxout: argument 'in_features' expected an int ≥ 1, got 0"),
    (lambda: Maxout(4, 3, 2)(torch.zeros(2, 5)), r"Maxout: argument 'x' expected shape \(N, \*, 4\), got \(2, 5\)"),
    (lambda: ChannelMaxout(-1), r"ChannelMaxout: argument 'pieces' expected an int ≥ 1, got -1"),
    (lambda: ChannelMaxout(3)(torch.zeros(1, 4, 2, 2)),
     r"maxout: argument 'x' expected axis 1 divisible by pieces=3, got shape \(1, 4, 2, 2\)"),
])
def test_bad_input_is_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()
