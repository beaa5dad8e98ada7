"""pad() against numpy.pad for every boundary, gradients, and its errors."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.functional import pad
from numpy_reference import NUMPY_MODE
from numpy_reference import pad as numpy_reference


@pytest.mark.parametrize("boundary", list(NUMPY_MODE))
@pytest.mark.parametrize(
    ("shape", "pairs"),
    [
        ((2, 3, 6), [(2, 3)]),
        ((1, 2, 4, 5), [(1, 2), (3, 0)]),
        ((1, 1, 3, 4, 3), [(1, 1), (2, 2), (0, 2)]),
    ],
)
def test_every_boundary_matches_numpy_pad(boundary, shape, pairs):
    x = np.random.default_rng(1).standard_normal(shape)
    value = 0.75 if boundary in ("constant", "neumann") else 0.0
    got = pad(torch.tensor(x), pairs, boundary, value).numpy()
    np.testing.assert_allclose(got, numpy_reference(x, pairs, boundary, value), atol=1e-12)


@pytest.mark.parametrize("boundary", ["symmetric", "circular", "neumann"])
def test_padding_larger_than_the_signal_repeats_like_numpy(boundary):
    x = np.arange(3.0).reshape(1, 1, 3)
    got = pad(torch.tensor(x), [(7, 8)], boundary).numpy()
    np.testing.assert_array_equal(got, numpy_reference(x, [(7, 8)], boundary, 0.0))


def test_neumann_outward_difference_equals_value():
    x = torch.tensor([[[1.0, 2.0, 4.0]]])
    y = pad(x, 3, "neumann", value=0.5)[0, 0]
    assert y.tolist() == [2.5, 2.0, 1.5, 1.0, 2.0, 4.0, 4.5, 5.0, 5.5]
    outward_low = y[:3] - y[1:4]  # each padded cell minus its inner neighbour
    outward_high = y[6:] - y[5:8]
    assert torch.all(outward_low == 0.5) and torch.all(outward_high == 0.5)


def test_dirichlet_cells_equal_value():
    y = pad(torch.zeros(1, 1, 2, 2), 1, "constant", value=3.0)
    assert y.sum().item() == 3.0 * 12


@pytest.mark.parametrize("boundary", list(NUMPY_MODE))
def test_gradcheck_every_boundary(boundary):
    x = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: pad(t, [(1, 2), (2, 1)], boundary, 0.3), (x,))


def test_symmetric_index_path_gradcheck_3d():
    x = torch.randn(1, 1, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: pad(t, 2, "symmetric"), (x,))


@given(
    dims=st.integers(1, 3),
    data=st.data(),
    boundary=st.sampled_from(list(NUMPY_MODE)),
)
def test_property_random_shapes_agree_with_numpy(dims, data, boundary):
    sizes = data.draw(st.lists(st.integers(1, 5), min_size=dims, max_size=dims))
    limit = [n - 1 if boundary == "reflect" else 6 for n in sizes]
    pairs = [
        (data.draw(st.integers(0, m)), data.draw(st.integers(0, m))) for m in limit
    ]
    x = np.random.default_rng(0).standard_normal((1, 2, *sizes))
    got = pad(torch.tensor(x), pairs, boundary, 0.25).numpy()
    assert got.shape == (1, 2, *(n + lo + hi for n, (lo, hi) in zip(sizes, pairs)))
    np.testing.assert_allclose(got, numpy_reference(x, pairs, boundary, 0.25), atol=1e-12)


def test_reflect_padding_not_smaller_than_input_is_refused():
    with pytest.raises(ValueError, match=r"reflect.*padding < input size.*size 3"):
        pad(torch.zeros(1, 1, 3), 3, "reflect")


def test_unknown_boundary_is_refused():
    with pytest.raises(ValueError, match=r"'boundary' expected one of .*got 'mirror'"):
        pad(torch.zeros(1, 1, 3), 1, "mirror")


@pytest.mark.parametrize("padding", [-1, (1, 2, 3), ((1, 2, 3),), "same", 1.5])
def test_bad_padding_is_refused(padding):
    with pytest.raises(ValueError, match="'padding' expected"):
        pad(torch.zeros(1, 1, 3), padding)


def test_input_without_spatial_dimension_is_refused():
    with pytest.raises(ValueError, match=r"'x' expected shape \(N, C, \*spatial\)"):
        pad(torch.zeros(2, 3), 1)


@pytest.mark.parametrize("boundary", ["circular", "symmetric", "neumann", "reflect"])
def test_second_derivatives_of_boundary_padding(boundary):
    x = torch.randn(1, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: pad(t, [(2, 1), (1, 2)], boundary, 0.3), (x,))
