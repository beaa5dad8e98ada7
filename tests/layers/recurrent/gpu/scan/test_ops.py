"""The linear-scan kernel (``torch.ops.convrnn_gpu.linear_scan`` and its backward) against the naive
step-by-step reference, and the parallel layers (MinGRU, MinLSTM, QRNN) on it against the Python
engine. Without CUDA the kernel runs on CPU tensors through Triton's interpreter."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("triton", reason="Triton is not installed (pip install 'convrnn[gpu]'): the GPU kernels' "
                                     "tests need it (on a CPU, through its interpreter)")

from convrnn.layers.recurrent import QRNN, MinGRU, MinLSTM, linear_recurrence
from convrnn.layers.recurrent.fused import disabled
from convrnn.layers.recurrent.gpu import dispatch
from convrnn.layers.recurrent.gpu.dispatch import backend, kernels_everywhere
from convrnn.layers.recurrent.gpu.scan import naive
from convrnn.layers.recurrent.gpu.scan.ops import BLOCK_T


def check(a, b, h0, rtol=1e-13, atol=1e-13):
    a, b, h0 = (t.detach().requires_grad_() for t in (a, b, h0))
    with kernels_everywhere():
        ours = linear_recurrence(a, b, h0)
    expected = naive.linear_recurrence(a.double(), b.double(), h0.double())
    torch.testing.assert_close(ours.double(), expected, rtol=rtol, atol=atol)
    weights = torch.randn(expected.shape, dtype=torch.float64)
    got = torch.autograd.grad((ours * weights.to(ours.dtype)).sum(), [a, b, h0])
    wanted = torch.autograd.grad((expected * weights).sum(), [a, b, h0])
    for g, w, t in zip(got, wanted, (a, b, h0)):
        assert g.dtype == t.dtype
        torch.testing.assert_close(g.double(), w.double(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("steps", [1, BLOCK_T - 1, BLOCK_T, BLOCK_T + 1, 3 * BLOCK_T + 5])
def test_kernel_matches_the_naive_recurrence_across_chunk_boundaries(steps):
    generator = torch.Generator().manual_seed(steps)
    a = torch.rand(steps, 3, 11, dtype=torch.float64, generator=generator) * 1.2   # some a > 1
    a[a < 0.1] = 0.0                                                                 # and exact zeros
    b = torch.randn(steps, 3, 11, dtype=torch.float64, generator=generator)
    h0 = torch.randn(3, 11, dtype=torch.float64, generator=generator)
    check(a, b, h0)


@settings(max_examples=6)
@given(steps=st.integers(1, 40), shape=st.lists(st.integers(1, 5), min_size=0, max_size=2))
def test_kernel_matches_the_naive_recurrence_for_any_shape(steps, shape):
    generator = torch.Generator().manual_seed(steps)
    a = torch.rand((steps, *shape), dtype=torch.float64, generator=generator)
    b = torch.randn((steps, *shape), dtype=torch.float64, generator=generator)
    check(a, b, torch.randn(tuple(shape), dtype=torch.float64, generator=generator))


def test_float32_and_bfloat16_inputs_within_their_rounding():
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(20, 4, 8, generator=generator)
    b = torch.randn(20, 4, 8, generator=generator)
    h0 = torch.randn(4, 8, generator=generator)
    check(a, b, h0, rtol=1e-5, atol=1e-5)
    check(a.bfloat16(), b.bfloat16(), h0, rtol=3e-2, atol=3e-2)     # a few bfloat16 ulps


@pytest.mark.parametrize("layer", [MinGRU, MinLSTM, QRNN])
def test_parallel_layers_on_the_kernel_match_the_engine(layer, monkeypatch):
    calls = []
    kernel = dispatch.linear_scan
    monkeypatch.setattr(dispatch, "linear_scan", lambda *args: calls.append(1) or kernel(*args))
    torch.manual_seed(4)
    module = layer(3, 5, num_layers=2, bidirectional=True).double()
    x = torch.randn(2, 9, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([9, 4])
    with kernels_everywhere():
        assert backend(module, x)[0] == "gpu kernels"
        outputs, final, states = module(x, lengths, return_states=True)
        ours = torch.autograd.grad(outputs.sum() + final.square().sum() + states.sum(), [x, *module.parameters()])
    assert len(calls) == 4      # two layers × two directions
    with disabled():
        assert backend(module, x)[0] == "python engine"
        expected_outputs, expected_final, expected_states = module(x, lengths, return_states=True)
        expected = torch.autograd.grad(expected_outputs.sum() + expected_final.square().sum() + expected_states.sum(),
                                       [x, *module.parameters()])
    torch.testing.assert_close(outputs, expected_outputs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(final, expected_final, rtol=1e-12, atol=1e-12)
    for g, e in zip(ours, expected):
        torch.testing.assert_close(g, e, rtol=1e-11, atol=1e-11)


def test_operator_passes_opcheck():
    generator = torch.Generator().manual_seed(1)
    a = torch.rand(5, 2, 3, dtype=torch.float64, generator=generator).requires_grad_()
    b = torch.randn(5, 2, 3, dtype=torch.float64, generator=generator).requires_grad_()
    h0 = torch.randn(2, 3, dtype=torch.float64, generator=generator).requires_grad_()
    dispatch.linear_scan(a, b, h0)      # registers the operators
    results = torch.library.opcheck(torch.ops.convrnn_gpu.linear_scan.default, (a, b, h0))
    assert set(results.values()) == {"SUCCESS"}
