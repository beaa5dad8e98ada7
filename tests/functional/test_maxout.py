"""convrnn.functional.maxout against a numpy loop, its gradient (gradcheck, ties), shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.functional import maxout


def numpy_maxout(x: np.ndarray, pieces: int, dim: int) -> np.ndarray:
    """The definition, unit by unit: y[..., g, ...] = max_j x[..., g·k + j, ...]."""
    x = np.moveaxis(x, dim, 0)
    units = x.shape[0] // pieces
    y = np.empty((units, *x.shape[1:]), dtype=x.dtype)
    for g in range(units):
        best = x[g * pieces]
        for j in range(1, pieces):
            best = np.maximum(best, x[g * pieces + j])
        y[g] = best
    return np.moveaxis(y, 0, dim)


@given(before=st.lists(st.integers(1, 3), min_size=0, max_size=2),
       after=st.lists(st.integers(1, 4), min_size=0, max_size=3),
       units=st.integers(1, 4), pieces=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_maxout_is_the_max_over_contiguous_groups_of_any_axis(before, after, units, pieces, seed):
    shape = (*before, units * pieces, *after)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    dim = len(before)
    y = maxout(x, pieces, dim=dim)
    assert y.shape == (*before, units, *after)
    np.testing.assert_array_equal(y.numpy(), numpy_maxout(x.numpy(), pieces, dim))
    np.testing.assert_array_equal(maxout(x, pieces, dim=dim - len(shape)).numpy(), y.numpy())


@pytest.mark.parametrize("shape", [(3, 6), (2, 6, 5), (2, 6, 4, 3), (1, 6, 3, 2, 2)])
def test_gradient_passes_through_the_maximum_only(shape):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: maxout(t, 3), (x,))
    assert torch.autograd.gradgradcheck(lambda t: maxout(t, 3), (x,))
    y = maxout(x, 3)
    y.backward(torch.ones_like(y))
    grouped = x.detach().unflatten(1, (2, 3))
    winner = grouped == grouped.amax(2, keepdim=True)
    torch.testing.assert_close(x.grad.unflatten(1, (2, 3)), winner.to(torch.float64))


def test_ties_send_the_whole_gradient_to_the_first_maximal_piece():
    x = torch.tensor([[1.0, 5.0, 5.0, 2.0, 7.0, 7.0, 7.0, 0.0]], dtype=torch.float64, requires_grad=True)
    y = maxout(x, 4)
    torch.testing.assert_close(y, torch.tensor([[5.0, 7.0]], dtype=torch.float64))
    y.backward(torch.tensor([[10.0, 20.0]], dtype=torch.float64))
    torch.testing.assert_close(x.grad, torch.tensor([[0.0, 10.0, 0.0, 0.0, 20.0, 0.0, 0.0, 0.0]],
                                                    dtype=torch.float64))


def test_one_piece_is_the_identity():
    x = torch.randn(2, 5, 3)
    assert maxout(x, 1) is x


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: maxout(torch.zeros(2, 6), 4), ValueError,
     r"maxout: argument 'x' expected axis 1 divisible by pieces=4, got shape \(2, 6\)"),
    (lambda: maxout(torch.zeros(2, 6), 0), ValueError, r"maxout: argument 'pieces' expected an int ≥ 1, got 0"),
    (lambda: maxout(torch.zeros(2, 6), 2.0), ValueError, r"maxout: argument 'pieces' expected an int ≥ 1, got 2.0"),
    (lambda: maxout(torch.zeros(2, 6), 2, dim=2), ValueError,
     r"maxout: argument 'dim' expected an int in \[-2, 1\] for x of shape \(2, 6\), got 2"),
    (lambda: maxout([1.0, 2.0], 2), TypeError, r"maxout: argument 'x' expected a Tensor, got list"),
])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
