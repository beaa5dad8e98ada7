"""The compiled path of the parallel-in-time layers against their PyTorch path (gates as PyTorch ops,
then ``linear_recurrence``): values and gradients in float64, masking, both directions, gradcheck."""

import contextlib

import pytest
import torch
from torch.nn.utils import prune

from convrnn.layers.recurrent import QRNN, MinGRU, MinLSTM, projection_buffers
from convrnn.layers.recurrent.fused import available, disabled
from convrnn.layers.recurrent.linear_scan import linear_recurrence
from convrnn.layers.recurrent.parallel_fused import KINDS, project_and_run, run_parallel

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


def _layer_results_and_grads(layer, x, state, loss):
    layer.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_()
    state = state.clone().requires_grad_()
    out, final = layer(x, None, state)
    loss(out, final).backward()
    return [out, final, x.grad, state.grad] + [p.grad for p in layer.parameters()]


@needs_core
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("read", ["outputs", "final state", "both"])
def test_a_loss_reading_only_outputs_or_only_the_state_gets_the_pytorch_gradients(name, read):
    """With a gradient for only one of h and the outputs, the core gets None for the other (no
    full-size zeros), and a sum()'s broadcast gradient is read in place; every gradient, the
    output gate's block included, must still equal the PyTorch path's."""
    torch.manual_seed(4)
    layer = LAYERS[name](bidirectional=True).double()
    x, state = torch.randn(3, 7, 3, dtype=torch.float64), torch.randn(2, 3, 5, dtype=torch.float64)
    loss = {"outputs": lambda out, final: out.sum(), "final state": lambda out, final: (final * final).sum(),
            "both": lambda out, final: out.sum() + final.sum()}[read]
    fast = _layer_results_and_grads(layer, x, state, loss)
    with disabled():
        slow = _layer_results_and_grads(layer, x, state, loss)
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@needs_core
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_second_backward_pass_with_retain_graph_recomputes_the_overwritten_projection(name):
    """The first backward pass writes ∂L/∂P over the projection; a second one (retain_graph)
    must compute P again and give the same gradients, not read the first pass's ∂L/∂P."""
    torch.manual_seed(5)
    layer = LAYERS[name](num_layers=2).double()
    x = torch.randn(3, 6, 3, dtype=torch.float64, requires_grad=True)
    loss = (layer(x)[0] ** 2).sum()
    first = torch.autograd.grad(loss, [x, *layer.parameters()], retain_graph=True)
    second = torch.autograd.grad(loss, [x, *layer.parameters()])
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@needs_core
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_training_steps_reuse_the_projection_block_and_inference_returns_it(name, monkeypatch):
    """The backward pass hands the projection's block to ``projection_buffers`` and the next
    forward pass takes it (the same memory); a no-grad forward returns its block at once. The
    results are those of the PyTorch path whichever block is used."""
    monkeypatch.setattr(projection_buffers, "MIN_BYTES", 0)
    projection_buffers.release_buffers()
    torch.manual_seed(6)
    layer = LAYERS[name]().double()
    x = torch.randn(4, 8, 3, dtype=torch.float64)
    blocks = []
    original_take = projection_buffers.take

    def spy(rows, cols, dtype):
        block = original_take(rows, cols, dtype)
        blocks.append(block.data_ptr())
        return block

    monkeypatch.setattr(projection_buffers, "take", spy)
    with disabled():
        expected = layer(x)[0]
    for _ in range(2):
        out = layer(x)[0]
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
        out.sum().backward()
        assert projection_buffers.held_bytes() == 4 * 8 * layer.gates * 5 * 8
    assert blocks[0] == blocks[1]
    with torch.no_grad():
        torch.testing.assert_close(layer(x)[0], expected, rtol=0, atol=1e-12)
    assert blocks[2] == blocks[0] and projection_buffers.held_bytes() == 4 * 8 * layer.gates * 5 * 8
    projection_buffers.release_buffers()
    assert projection_buffers.held_bytes() == 0


@needs_core
@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("batch_major", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_project_and_run_equals_run_parallel_of_the_product(name, batch_major, with_bias):
    """project_and_run(X, W, b) = run_parallel(X Wᵀ + b) in both row orders, with and without a
    bias (the core adds it in its forward pass and sums its gradient in the backward pass), and
    passes gradcheck in X, W, b and h0."""
    torch.manual_seed(7)
    steps, batch, features, hidden = 5, 3, 4, 2
    width = GATES[name] * hidden
    inputs = torch.randn(steps * batch, features, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(width, features, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(width, dtype=torch.float64, requires_grad=True) if with_bias else None
    h0 = torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True)
    mask = torch.arange(steps).unsqueeze(1) < torch.tensor([5, 2, 4])

    def fused(inputs, weight, h0, *bias):
        return project_and_run(name, inputs, weight, bias[0] if bias else None, h0, mask, steps, batch_major)

    def reference(inputs, weight, h0, *bias):
        projected = torch.nn.functional.linear(inputs, weight, bias[0] if bias else None)
        if batch_major:
            projected = projected.view(batch, steps, width).transpose(0, 1)
        return run_parallel(name, projected.reshape(steps, batch, width) if not batch_major else projected, h0, mask)

    arguments = (inputs, weight, h0, *((bias,) if with_bias else ()))
    for a, b in zip(fused(*arguments), reference(*arguments), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(fused, arguments)


@pytest.fixture
def pooled(monkeypatch):
    """Every projection block goes through the pool, however small."""
    monkeypatch.setattr(projection_buffers, "MIN_BYTES", 0)
    projection_buffers.release_buffers()
    yield
    projection_buffers.release_buffers()


@needs_core
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("frozen", ["nothing", "weights", "input and state"])
def test_gradients_through_reused_blocks_equal_the_pytorch_path(name, frozen, pooled):
    """Three training steps whose projections live in reused blocks (lengths, both directions,
    two layers), with some inputs not needing gradients: every result and gradient equals the
    PyTorch path's at every step, so no gradient is a view of a block the next step overwrites."""
    torch.manual_seed(8)
    layer = LAYERS[name](num_layers=2, bidirectional=True).double()
    if frozen == "weights":
        for parameter in layer.parameters():
            if parameter.dim() > 1:
                parameter.requires_grad_(False)
    lengths = torch.tensor([6, 3, 5])
    grads = []
    for _ in range(3):
        x = torch.randn(3, 6, 3, dtype=torch.float64)
        state = torch.randn(4, 3, 5, dtype=torch.float64)
        results = []
        for context in (disabled(), contextlib.nullcontext()):
            with context:
                layer.zero_grad(set_to_none=True)
                inputs = [x.clone().requires_grad_(frozen != "input and state"),
                          state.clone().requires_grad_(frozen != "input and state")]
                out, final = layer(inputs[0], lengths, inputs[1])
                (out.sin().sum() + (final ** 2).sum()).backward()
                results.append([out, final, *(t.grad for t in inputs), *(p.grad for p in layer.parameters())])
        for a, b in zip(*results, strict=True):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-10)
        grads += [(g, g.clone()) for g in results[1] if g is not None]
    assert projection_buffers.held_bytes() > 0
    for kept, copy in grads:        # results and gradients of earlier steps were not overwritten later
        assert torch.equal(kept, copy)


@needs_core
def test_a_block_made_in_inference_mode_serves_a_training_step(pooled):
    """An inference tensor cannot be written outside torch.inference_mode; the pool keeps its
    storage and hands it to the next training step as an ordinary tensor."""
    layer = MinGRU(3, 5)
    x = torch.randn(4, 8, 3)
    with torch.inference_mode():
        expected = layer(x)[0].clone()
    assert projection_buffers.held_bytes() == 4 * 8 * 2 * 5 * 4
    out = layer(x)[0]
    out.sum().backward()
    torch.testing.assert_close(out, expected)
    assert layer.projections[0].weight.grad is not None


@needs_core
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_retained_graph_survives_a_forward_pass_between_its_backward_passes(name, pooled):
    """loss.backward(retain_graph=True), another forward pass that takes the first pass's block,
    then loss.backward() again: the second pass recomputes P (no stale read, no version error)."""
    torch.manual_seed(9)
    layer = LAYERS[name]().double()
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    loss = layer(x)[0].pow(2).sum()
    first = torch.autograd.grad(loss, [x, *layer.parameters()], retain_graph=True)
    layer(torch.randn(2, 5, 3, dtype=torch.float64))[0].sum().backward()   # reuses the block
    second = torch.autograd.grad(loss, [x, *layer.parameters()])
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


@needs_core
@pytest.mark.parametrize("window", [1, 3])
def test_hooks_on_a_projection_run_as_when_it_is_called(window):
    """Pruning (a forward pre-hook that sets the weight) must act: the layer then calls its
    projection as a module, on the PyTorch path, with the pruned weight."""
    torch.manual_seed(10)
    layer = QRNN(3, 5, window=window).double()
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    prune.l1_unstructured(layer.projections[0], "weight", amount=0.5)
    with torch.no_grad():
        layer.projections[0].weight_orig.mul_(3.0)     # seen only if the hook recomputes the weight
    pruned = layer.projections[0].weight_orig * layer.projections[0].weight_mask
    plain = QRNN(3, 5, window=window).double()
    with torch.no_grad():
        plain.projections[0].weight.copy_(pruned.reshape_as(plain.projections[0].weight))
        plain.projections[0].bias.copy_(layer.projections[0].bias)
    torch.testing.assert_close(layer(x)[0], plain(x)[0], rtol=0, atol=1e-12)
    seen = []
    layer.projections[0].register_forward_hook(lambda module, args, out: seen.append(out.shape))
    layer(x)
    assert seen == [(2, 7, 15)] if window == 1 else seen == [(2, 15, 7)]


@needs_core
def test_checkpointing_sees_the_projection_and_gives_the_same_gradients():
    """P is saved with save_for_backward, so saved-tensor hooks (and non-reentrant
    checkpointing, which frees and recomputes what they pack) see it."""
    torch.manual_seed(11)
    layer = QRNN(3, 5, num_layers=2).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    shapes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: shapes.append(tuple(t.shape)) or t, lambda t: t):
        layer(x)
    assert (12, 15) in shapes                               # (N·T, 3·H)
    plain = torch.autograd.grad(layer(x)[0].sum(), [x, *layer.parameters()])
    checkpointed = torch.autograd.grad(
        torch.utils.checkpoint.checkpoint(lambda v: layer(v)[0], x, use_reentrant=False).sum(),
        [x, *layer.parameters()])
    for a, b in zip(plain, checkpointed, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@needs_core
def test_autocast_keeps_the_pytorch_path():
    """Under CPU autocast the projection runs in bfloat16 as F.linear would; the fused path
    (float32 products into its own block) is not taken."""
    layer = MinLSTM(3, 5)
    x = torch.randn(2, 6, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast = layer(x)[0]
        with disabled():
            slow = layer(x)[0]
    assert fast.dtype == slow.dtype
    torch.testing.assert_close(fast, slow, rtol=0, atol=0)
