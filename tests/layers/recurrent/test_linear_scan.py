"""The chunked linear scan against a step-by-step loop, its gradients, and its argument checks."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.layers.recurrent.fused import available, disabled
from convrnn.layers.recurrent.linear_scan import linear_recurrence


def loop(a, b, h0):
    h, states = h0, []
    for t in range(a.shape[0]):
        h = a[t] * h + b[t]
        states.append(h)
    return torch.stack(states)


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(1, 70), rest=st.lists(st.integers(1, 3), min_size=0, max_size=2),
       scale=st.sampled_from([0.5, 1.0, 1.5]), seed=st.integers(0, 2**16))
def test_chunked_scan_equals_step_by_step_loop(steps, rest, scale, seed):
    generator = torch.Generator().manual_seed(seed)
    a = torch.rand((steps, *rest), generator=generator, dtype=torch.float64) * scale
    b = torch.randn((steps, *rest), generator=generator, dtype=torch.float64)
    h0 = torch.randn(tuple(rest), generator=generator, dtype=torch.float64)
    expected = loop(a, b, h0)
    torch.testing.assert_close(linear_recurrence(a, b, h0), expected, rtol=1e-12, atol=1e-12)
    with disabled():                    # the chunked scan, whatever the compiled core does
        torch.testing.assert_close(linear_recurrence(a, b, h0), expected, rtol=1e-12, atol=1e-12)


def test_long_sequence_with_zero_and_unit_decays_matches_loop_to_1e_10():
    torch.manual_seed(0)
    a = torch.rand(1000, 2, 3, dtype=torch.float64)
    a[::7] = 0.0            # a state reset: nothing before it may leak through
    a[3::11] = 1.0
    b = torch.randn(1000, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(linear_recurrence(a, b), loop(a, b, torch.zeros(2, 3, dtype=torch.float64)),
                               rtol=0, atol=1e-10)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("steps", [1, 2, 5, 10])
def test_gradients_pass_gradcheck(steps, compiled):
    if compiled and not available():
        pytest.skip("no C++ compiler/ninja: the compiled core cannot be built here")
    torch.manual_seed(steps)
    a = torch.rand(steps, 2, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(steps, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    if compiled:
        assert torch.autograd.gradcheck(linear_recurrence, (a, b, h0))
    else:
        with disabled():
            assert torch.autograd.gradcheck(linear_recurrence, (a, b, h0))


def test_gradients_of_compiled_pass_and_chunked_scan_equal_those_of_the_loop():
    torch.manual_seed(1)
    a = torch.rand(40, 3, 5000, dtype=torch.float64, requires_grad=True)   # several thread slices
    b = torch.randn(40, 3, 5000, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 5000, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(40, 3, 5000, dtype=torch.float64)
    theirs = torch.autograd.grad((loop(a, b, h0) * weights).sum(), (a, b, h0))
    ours = torch.autograd.grad((linear_recurrence(a, b, h0) * weights).sum(), (a, b, h0))
    with disabled():
        chunked = torch.autograd.grad((linear_recurrence(a, b, h0) * weights).sum(), (a, b, h0))
    for mine, other, reference in zip(ours, chunked, theirs, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(other, reference, rtol=1e-12, atol=1e-12)


def test_bad_shapes_name_the_argument_expected_and_actual():
    a = torch.rand(4, 3)
    with pytest.raises(ValueError, match=r"'a' and 'b' expected the same shape .* got \(4, 3\) and \(4, 2\)"):
        linear_recurrence(a, torch.rand(4, 2))
    with pytest.raises(ValueError, match=r"'h0' expected shape \(3,\) .* got \(2,\)"):
        linear_recurrence(a, a, torch.zeros(2))
    with pytest.raises(TypeError, match="'a'"):
        linear_recurrence([1.0], a)
