"""Output-size formulas against real PyTorch ops, and receptive fields against the support of a gradient."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convrnn.functional import (
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    receptive_field,
    same_padding,
)


@given(n=st.integers(1, 30), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3))
def test_conv_output_size_matches_torch(n, k, s, p, d):
    expected = conv_output_size(n, k, s, p, d)
    if expected == 0:
        with pytest.raises(RuntimeError):
            F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
        return
    y = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
    assert y.shape[-1] == expected


@given(n=st.integers(1, 30), k=st.integers(1, 5), s=st.integers(1, 4), d=st.integers(1, 2), ceil=st.booleans(),
       data=st.data())
def test_pool_output_size_matches_torch_max_pool(n, k, s, d, ceil, data):
    p = data.draw(st.integers(0, k // 2))  # torch allows padding ≤ kernel/2
    if n + 2 * p < d * (k - 1) + 1:
        return
    y = F.max_pool1d(torch.zeros(1, 1, n), k, s, p, d, ceil_mode=ceil)
    assert pool_output_size(n, k, s, p, d, ceil) == y.shape[-1]


@given(n=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 4), d=st.integers(1, 3), data=st.data())
def test_conv_transpose_output_size_matches_torch(n, k, s, d, data):
    p = data.draw(st.integers(0, (d * (k - 1)) // 2))
    op = data.draw(st.integers(0, max(s, d) - 1))
    expected = conv_transpose_output_size(n, k, s, p, d, op)
    if expected < 1:
        return
    y = F.conv_transpose1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p,
                           output_padding=op, dilation=d)
    assert y.shape[-1] == expected


@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 5), d=st.integers(1, 3))
def test_same_padding_gives_ceil_n_over_s(n, k, s, d):
    low, high = same_padding(n, k, s, d)
    assert 0 <= high - low <= 1
    assert conv_output_size(n, k, s, (low, high), d) == -(-n // s)


def _empirical_field(layers, n=64):
    """Support of ∂y[unit]/∂x through a real stack of 1-D convolutions with positive weights."""
    x = torch.zeros(1, 1, n, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d, p in layers:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d, padding=p)
    unit = y.shape[-1] // 2
    (grad,) = torch.autograd.grad(y[0, 0, unit], x)
    support = grad[0, 0].nonzero().flatten()
    return support, unit


@pytest.mark.parametrize(
    "layers",
    [
        [(3, 1, 1, 0), (3, 1, 1, 0)],
        [(5, 1, 1, 2), (2, 2, 1, 0), (5, 1, 1, 2), (2, 2, 1, 0)],  # LeNet-like: conv, pool, conv, pool
        [(3, 2, 1, 1), (3, 1, 2, 2), (3, 2, 1, 0)],
        [(7, 2, 1, 3), (3, 2, 1, 1), (3, 1, 1, 1)],  # ResNet stem: 7×7/2 conv, 3×3/2 pool
    ],
)
def test_receptive_field_jump_and_start_match_gradient_support(layers):
    field = receptive_field([(k, s, d, p) for k, s, d, p in layers])[-1]
    support, unit = _empirical_field(layers)
    first, last = support.min().item(), support.max().item()
    centre = field.start + unit * field.jump
    # the field may be clipped by the input edges; choose a middle unit so it is not
    assert last - first + 1 == field.size
    assert (first + last) / 2 == centre


def test_receptive_field_of_seed_mnist_net():
    # 2 × (5×5 'same' conv + 2×2 max pool)
    fields = receptive_field([(5, 1, 1, 2), (2, 2, 1, 0), (5, 1, 1, 2), (2, 2, 1, 0)])
    assert [f.size for f in fields] == [5, 6, 14, 16]
    assert [f.jump for f in fields] == [1, 2, 2, 4]
