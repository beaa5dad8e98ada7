"""The border-corrected convolution equals padding then convolving, values and gradients."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.functional import conv, pad
from convrnn.functional.border_conv import _slabs, border_conv

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
BOUNDARIES = ("constant", "neumann", "reflect", "symmetric", "circular")


def padded_then_convolved(x, w, b, stride, padding, dilation, groups, boundary, value):
    return CONV[x.dim() - 2](pad(x, padding, boundary, value), w, b, stride, 0, dilation, groups)


@settings(max_examples=60, deadline=None)
@given(dims=st.integers(1, 3), boundary=st.sampled_from(BOUNDARIES), kernel=st.integers(1, 4),
       padding=st.integers(0, 3), stride=st.integers(1, 3), dilation=st.integers(1, 2), groups=st.sampled_from([1, 2]),
       size=st.integers(4, 7), value=st.floats(-2, 2), seed=st.integers(0, 2**16))
def test_values_and_gradients_equal_padding_then_convolving(dims, boundary, kernel, padding, stride, dilation,
                                                           groups, size, value, seed):
    sizes = [size, size - 1, size + 1][:dims]
    if boundary == "reflect":
        padding = min(padding, min(sizes) - 1)
    if min(sizes) + 2 * padding < dilation * (kernel - 1) + 1:
        return
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 2 * groups, *sizes, dtype=torch.float64, generator=generator, requires_grad=True)
    w = torch.randn(2 * groups, 2, *[kernel] * dims, dtype=torch.float64, generator=generator, requires_grad=True)
    b = torch.randn(2 * groups, dtype=torch.float64, generator=generator, requires_grad=True)
    args = ([stride] * dims, [padding] * dims, [dilation] * dims, groups, boundary, value)
    expected = padded_then_convolved(x, w, b, *args)
    got = border_conv(x, w, b, *args)
    torch.testing.assert_close(got, expected)
    g = torch.randn(expected.shape, dtype=torch.float64, generator=generator)
    for a, e in zip(torch.autograd.grad(got, (x, w, b), g), torch.autograd.grad(expected, (x, w, b), g)):
        torch.testing.assert_close(a, e)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_gradcheck_and_gradgradcheck(boundary):
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)

    def f(x, w, b):
        return border_conv(x, w, b, [1, 2], [1, 2], [1, 1], 1, boundary, 0.3)

    assert torch.autograd.gradcheck(f, (x, w, b))
    assert torch.autograd.gradgradcheck(f, (x, w, b))


def test_slabs_cover_each_margin_once_and_only_the_outputs_that_see_it():
    # n = 8, p = 2, k = 5, s = 3: outputs 0..2 (windows 0-4, 3-7, 6-10); the low margin (rows 0, 1)
    # reaches output 0 only; of the high margin (rows 10, 11) only row 10 is seen, by output 2
    slabs = _slabs([8], [2], [5], [3], [1])
    assert [(s.rows, s.margin, s.taps, s.outputs) for s in slabs] == [((0, 2), (0, 2), (0, 2), (0, 1)),
                                                                      ((10, 11), (10, 11), (4, 5), (2, 1))]
    assert _slabs([8, 8], [0, 0], [3, 3], [1, 1], [1, 1]) == ()


def test_conv_takes_the_border_path_for_symmetric_padding_and_keeps_its_errors():
    x = torch.randn(1, 1, 3, 3)
    w = torch.randn(1, 1, 3, 3)
    for boundary in BOUNDARIES:
        torch.testing.assert_close(conv(x, w, padding=1, boundary=boundary, value=0.5),
                                   padded_then_convolved(x, w, None, 1, 1, 1, 1, boundary, 0.5))
    with pytest.raises(ValueError, match="conv: argument 'padding' with boundary 'reflect' expected padding < input size"):
        conv(x, w, padding=3, boundary="reflect")
