"""The compiled path of the parallel-in-time layers against their PyTorch path (gates as PyTorch ops,
then ``linear_recurrence``): values and gradients in float64, masking, both directions, gradcheck."""

import pytest
import torch

from convrnn.layers.recurrent import QRNN, MinGRU, MinLSTM
from convrnn.layers.recurrent.fused import available, disabled
from convrnn.layers.recurrent.linear_scan import linear_recurrence
from convrnn.layers.recurrent.parallel_fused import KINDS, run_parallel

needs_core = pytest.mark.skipif(not available(), reason="no C++ compiler/ninja: the core cannot be built here")

# H-sized blocks of the projection each kind reads (the layers' own ``gates``).
GATES = {"mingru": MinGRU.gates, "minlstm": MinLSTM.gates,
         **{f"qrnn_{pooling}": gates for pooling, gates in QRNN.poolings.items()}}

LAYERS = {
    "mingru": lambda **kw: MinGRU(3, 5, **kw),
    "minlstm": lambda **kw: MinLSTM(3, 5, **kw),
    "qrnn_f": lambda **kw: QRNN(3, 5, pooling="f", **kw),
    "qrnn_fo": lambda **kw: QRNN(3, 5, pooling="fo", **kw),
    "qrnn_ifo": lambda **kw: QRNN(3, 5, pooling="ifo", window=3, **kw),
}


def results_and_gradients(layer, x, lengths, state, weights):
    x = x.clone().requires_grad_()
    state = state.clone().requires_grad_()
    layer.zero_grad(set_to_none=True)
    out, final, every = layer(x, lengths, state, return_states=True)
    loss = sum((r * w).sum() for r, w in zip((out, final, every), weights, strict=True))
    loss.backward()
    return [out, final, every, x.grad, state.grad] + [p.grad for p in layer.parameters()]


@needs_core
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
def test_compiled_path_equals_pytorch_path_with_gradients(name, with_lengths, batch_first):
    torch.manual_seed(0)
    layer = LAYERS[name](num_layers=2, bidirectional=True, batch_first=batch_first).double()
    assert layer.compiled == name
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.uniform_(-1.5, 1.5)       # gates far from 1/2, so mistakes show
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    if not batch_first:
        x = x.transpose(0, 1).contiguous()
    lengths = torch.tensor([9, 4, 6, 1]) if with_lengths else None
    state = torch.randn(4, 4, 5, dtype=torch.float64)
    with torch.no_grad():
        shapes = [r.shape for r in layer(x, lengths, state, return_states=True)]
    weights = [torch.randn(shape, dtype=torch.float64) for shape in shapes]
    fast = results_and_gradients(layer, x, lengths, state, weights)
    with disabled():
        assert run_parallel(name, torch.zeros(1, 1, 10, dtype=torch.float64), torch.zeros(1, 5, dtype=torch.float64),
                            None) is None
        slow = results_and_gradients(layer, x, lengths, state, weights)
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@needs_core
@pytest.mark.parametrize("name", sorted(KINDS))
def test_compiled_path_passes_gradcheck(name):
    torch.manual_seed(1)
    gates = GATES[name]
    projected = (2 * torch.randn(5, 3, gates * 2, dtype=torch.float64)).requires_grad_()
    h0 = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    mask = torch.arange(5).unsqueeze(1) < torch.tensor([5, 2, 3])
    assert torch.autograd.gradcheck(lambda p, h: run_parallel(name, p, h, mask), (projected, h0))
    assert torch.autograd.gradcheck(lambda p, h: run_parallel(name, p, h, None), (projected, h0))


@needs_core
@pytest.mark.parametrize("name", sorted(KINDS))
def test_batch_major_projection_is_read_in_place_with_the_same_results(name):
    """A transposed (N, T, G) projection (a batch-first caller's) runs without a copy: the same
    states, outputs and gradients as its time-major copy, the results batch-major too; gradcheck
    through the strided path."""
    torch.manual_seed(2)
    gates = GATES[name]
    batch_major = (2 * torch.randn(3, 6, gates * 4, dtype=torch.float64)).transpose(0, 1).requires_grad_()
    time_major = batch_major.detach().contiguous().requires_grad_()
    h0 = torch.randn(3, 4, dtype=torch.float64)
    mask = torch.arange(6).unsqueeze(1) < torch.tensor([6, 2, 4])
    strided, packed = run_parallel(name, batch_major, h0, mask), run_parallel(name, time_major, h0, mask)
    assert all(r.transpose(0, 1).is_contiguous() for r in strided)
    weights = [torch.randn_like(r) for r in packed]
    for results in (strided, packed):
        sum((r * w).sum() for r, w in zip(results, weights, strict=True)).backward()
    for a, b in zip((*strided, batch_major.grad), (*packed, time_major.grad), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # strided gradients flowing in (a transposed grad_h) are read in place as well
    leaf = batch_major.detach().requires_grad_()
    assert torch.autograd.gradcheck(lambda p: run_parallel(name, p.transpose(0, 1), h0, mask)[1].transpose(0, 1),
                                    (leaf.transpose(0, 1).contiguous().requires_grad_(),))


@needs_core
def test_float32_compiled_path_agrees_with_float64():
    torch.manual_seed(2)
    layer = MinLSTM(8, 16, bidirectional=True).double()
    x = torch.randn(3, 200, 8, dtype=torch.float64)
    lengths = torch.tensor([200, 77, 5])
    exact, _ = layer(x, lengths)
    single, _ = layer.float()(x.float(), lengths)
    torch.testing.assert_close(single.double(), exact, rtol=0, atol=1e-5)


@needs_core
@pytest.mark.parametrize("name", sorted(KINDS))
def test_saturated_gates_stay_finite_and_exact(name):
    """Projections of ±80 (σ underflows to 0 in float32): no 0/0, the same limits as the
    PyTorch path in float64."""
    torch.manual_seed(3)
    projected = 80 * torch.randn(6, 2, GATES[name] * 4, dtype=torch.float64).sign()
    projected[:, :, -4:] = torch.randn(6, 2, 4, dtype=torch.float64)     # the candidate or gate stays moderate
    h0 = torch.randn(2, 4, dtype=torch.float64)
    single = projected.float().requires_grad_()
    h, out = run_parallel(name, single, h0.float(), None)
    (h.sum() + out.sum()).backward()
    assert torch.isfinite(h).all() and torch.isfinite(single.grad).all()
    exact = projected.clone().requires_grad_()
    with disabled():
        layer = {"mingru": MinGRU, "minlstm": MinLSTM}.get(name)
        layer = layer(1, 4) if layer else QRNN(1, 4, pooling=name.split("_")[1])
        a, b, o = layer.coefficients(exact)
        ref_h = linear_recurrence(a, b, h0)
        ref_out = ref_h if o is None else o * ref_h
        (ref_h.sum() + ref_out.sum()).backward()
    torch.testing.assert_close(h.double(), ref_h, rtol=0, atol=1e-5)
    torch.testing.assert_close(single.grad.double(), exact.grad, rtol=0, atol=1e-4)


@needs_core
def test_one_unit_gradients_with_any_stride_of_their_size_one_dimension_are_accepted():
    """With H = 1 a gradient can be contiguous yet have a stride other than 1 in its last
    dimension (here through a permute); the core takes it as it is."""
    torch.manual_seed(3)
    projected = torch.randn(4, 2, GATES["qrnn_fo"], dtype=torch.float64, requires_grad=True)
    h0 = torch.zeros(2, 1, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda p: tuple(r.permute(2, 0, 1) for r in run_parallel("qrnn_fo", p, h0, None)), (projected,))
