"""The compiled core (C++ forward and backward loops) against the pure-PyTorch engine and the
naive references, its dispatch rule, and the automatic fallback when it cannot be built."""

import contextlib
import os
import warnings

import pytest
import torch

from convrnn.layers.recurrent import RNN, ElmanCell, GatedCell, GRUCell, JordanCell, LSTMCell, MGUCell, _compiled
from convrnn.layers.recurrent.fused import available, disabled, fused_kind, run_fused, takes_raw_input, work_split
from convrnn.layers.recurrent.scan import runner

FUSED = {
    "lstm": lambda F, H: LSTMCell(F, H),
    "lstm_peephole": lambda F, H: LSTMCell(F, H, peephole=True),
    "gru_before": lambda F, H: GRUCell(F, H, reset="before"),
    "gru_after": lambda F, H: GRUCell(F, H, reset="after"),
    "mgu": lambda F, H: MGUCell(F, H),
    "elman_tanh": lambda F, H: ElmanCell(F, H),
    "elman_relu": lambda F, H: ElmanCell(F, H, nonlinearity="relu"),
    "elman_sigmoid": lambda F, H: ElmanCell(F, H, nonlinearity="sigmoid"),
    "elman_leaky_relu": lambda F, H: ElmanCell(F, H, nonlinearity="leaky_relu", negative_slope=0.1),
    "elman_identity": lambda F, H: ElmanCell(F, H, nonlinearity="identity"),
    "gated": lambda F, H: GatedCell(F, H),
    "lstm_layer_norm": lambda F, H: LSTMCell(F, H, layer_norm=True),
    "lstm_peephole_layer_norm": lambda F, H: LSTMCell(F, H, peephole=True, layer_norm=True),
    "gru_before_layer_norm": lambda F, H: GRUCell(F, H, reset="before", layer_norm=True),
    "mgu_layer_norm": lambda F, H: MGUCell(F, H, layer_norm=True),
    "gated_layer_norm": lambda F, H: GatedCell(F, H, layer_norm=True),
    "elman_tanh_layer_norm": lambda F, H: ElmanCell(F, H, layer_norm=True),
    "elman_relu_layer_norm": lambda F, H: ElmanCell(F, H, nonlinearity="relu", layer_norm=True),
    "elman_leaky_relu_layer_norm": lambda F, H: ElmanCell(F, H, nonlinearity="leaky_relu", negative_slope=0.3,
                                                          layer_norm=True),
    "elman_sigmoid_layer_norm": lambda F, H: ElmanCell(F, H, nonlinearity="sigmoid", layer_norm=True),
    "jordan_identity": lambda F, H: JordanCell(F, H),
    "jordan_tanh_wider": lambda F, H: JordanCell(F, H, output_size=H + 2, decision="tanh"),
    "jordan_sigmoid_relu": lambda F, H: JordanCell(F, H, output_size=H - 1, decision="sigmoid",
                                                   nonlinearity="relu"),
    "jordan_softmax": lambda F, H: JordanCell(F, H, output_size=4, decision="softmax"),
}

needs_core = pytest.mark.skipif(not available(), reason="no C++ compiler/ninja: the core cannot be built here")


def random_cell(name, F=3, H=5):
    cell = FUSED[name](F, H).double()
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.uniform_(-0.8, 0.8)
    return cell


def outputs_and_gradients(rnn, x, lengths, weights):
    """Outputs, final state, every state and the gradients of a random linear loss of all three
    with respect to x and every parameter."""
    x = x.clone().requires_grad_()
    rnn.zero_grad(set_to_none=True)
    out, final, states = rnn(x, lengths, return_states=True)
    final = final if isinstance(final, tuple) else (final,)
    states = states if isinstance(states, tuple) else (states,)
    results = [out, *final, *states]
    loss = sum((r * w).sum() for r, w in zip(results, weights, strict=True))
    loss.backward()
    return results, [x.grad] + [p.grad for p in rnn.parameters()]


@pytest.fixture(params=["sequences", "steps"])
def split(request):
    """Each way the core's loops share work among threads (fused.work_split), on two threads so
    that "sequences" really splits the batch (and unevenly: 5 sequences)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    work_split(request.param)
    yield request.param
    work_split("auto")
    torch.set_num_threads(threads)


@needs_core
@pytest.mark.parametrize("name", sorted(FUSED))
@pytest.mark.parametrize(("with_lengths", "steps"), [(False, 7), (True, 7), (True, 6)])
def test_compiled_core_equals_python_engine_with_gradients(name, with_lengths, steps, split):
    torch.manual_seed(0)
    rnn = RNN(random_cell(name), num_layers=2, bidirectional=True).double()
    rnn.use_native = False
    for cell in rnn.cells[1:]:
        with torch.no_grad():
            for parameter in cell.parameters():
                parameter.uniform_(-0.8, 0.8)
    assert all(fused_kind(cell) is not None for cell in rnn.cells)
    x = torch.randn(5, steps, 3, dtype=torch.float64)
    lengths = torch.tensor([steps, 3, 5, 1, 4]) if with_lengths else None
    first, final, states = rnn(x, lengths, return_states=True)
    final = final if isinstance(final, tuple) else (final,)
    states = states if isinstance(states, tuple) else (states,)
    weights = [torch.randn_like(r) for r in (first, *final, *states)]

    fast, fast_grads = outputs_and_gradients(rnn, x, lengths, weights)
    with disabled():
        assert run_fused(rnn.cells[0], torch.zeros(1, 1, rnn.cells[0].chunks * 5, dtype=torch.float64),
                         tuple(torch.zeros(1, 5, dtype=torch.float64) for _ in rnn.state_sizes)) is None
        slow, slow_grads = outputs_and_gradients(rnn, x, lengths, weights)
    for a, b in zip(fast + fast_grads, slow + slow_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@needs_core
@pytest.mark.parametrize("name", sorted(FUSED))
def test_compiled_core_matches_naive_reference(name, reference):
    torch.manual_seed(1)
    cell = random_cell(name)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    state = tuple(torch.randn(3, size, dtype=torch.float64) for size in cell.state_sizes)
    expected, history = reference(cell, x, state)
    every = run_fused(cell, cell.project(x.transpose(0, 1)), state)
    assert every is not None
    torch.testing.assert_close(every[cell.output_index].transpose(0, 1), expected, rtol=0, atol=1e-10)
    for component, column in zip(every, zip(*history, strict=True), strict=True):
        torch.testing.assert_close(component, torch.stack(column), rtol=0, atol=1e-10)


@needs_core
@pytest.mark.parametrize("name", sorted(FUSED))
def test_compiled_core_gradients_pass_gradcheck(name):
    torch.manual_seed(2)
    cell = random_cell(name, F=2, H=3)
    xw = torch.randn(4, 3, cell.chunks * 3, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(3, size, dtype=torch.float64, requires_grad=True) for size in cell.state_sizes)
    mask = torch.arange(4).unsqueeze(1) < torch.tensor([4, 2, 1])
    # Every parameter the compiled Function takes (the input projection's are outside it).
    names = [n for n, _ in cell.named_parameters() if n not in ("weight_ih", "bias_ih")
             and not n.startswith("input_norm.")]
    weights = tuple(cell.get_parameter(n).detach().clone().requires_grad_() for n in names)
    runner = Runner(cell, mask)

    def run(xw, *rest):
        given, parameters = rest[:len(state)], rest[len(state):]
        replaced = {f"cell.{n}": p for n, p in zip(names, parameters, strict=True)}
        return torch.func.functional_call(runner, replaced, (xw, *given))

    assert torch.autograd.gradcheck(run, (xw, *state, *weights))


class Runner(torch.nn.Module):
    """run_fused as a module, so that torch.func.functional_call can swap the cell's weights."""

    def __init__(self, cell, mask):
        super().__init__()
        self.cell, self.mask = cell, mask

    def forward(self, xw, *state):
        return run_fused(self.cell, xw, state, self.mask)


@needs_core
def test_float32_compiled_core_agrees_with_float64():
    torch.manual_seed(3)
    rnn = RNN("lstm", 8, 16, peephole=True, bidirectional=True).double()
    x = torch.randn(4, 30, 8, dtype=torch.float64)
    lengths = torch.tensor([30, 12, 7, 1])
    exact, _ = rnn(x, lengths)
    single, _ = rnn.float()(x.float(), lengths)
    torch.testing.assert_close(single.double(), exact, rtol=0, atol=1e-5)


@needs_core
@pytest.mark.parametrize("cell", ["lstm", "gru", "mgu", "elman", "gated"])
def test_float32_layer_norm_is_accurate_when_the_mean_dwarfs_the_spread(cell):
    """The core's one-pass statistics are shifted by a value of the row: inputs around 1000 with
    unit spread (whose unshifted E[z²] − E[z]² loses every digit in float32) still give the
    float64 result, in training and in inference (which normalises inside the time loop)."""
    torch.manual_seed(4)
    options = {"reset": "before"} if cell == "gru" else {}
    rnn = RNN(cell, 8, 32, layer_norm=True, **options).double()
    x = 1000 + torch.randn(3, 20, 8, dtype=torch.float64)
    with torch.no_grad():
        rnn.cells[0].weight_ih.add_(1.0)   # W x then has a mean near 8000 and a spread near 1
    exact, _ = rnn(x)
    single = rnn.float()
    trained, _ = single(x.float())
    with torch.no_grad():
        inferred, _ = single(x.float())
    for got in (trained, inferred):
        torch.testing.assert_close(got.double(), exact, rtol=0, atol=2e-3)


@pytest.mark.parametrize(("cell", "expected"), [
    (LSTMCell(3, 4), "lstm"),
    (LSTMCell(3, 4, peephole=True), "lstm"),
    (LSTMCell(3, 4, layer_norm=True), "layer_norm_lstm"),
    (GRUCell(3, 4, layer_norm=True), "layer_norm_gru"),
    (GRUCell(3, 4, reset="after", layer_norm=True), None),
    (MGUCell(3, 4, layer_norm=True), "layer_norm_mgu"),
    (ElmanCell(3, 4, nonlinearity="relu", layer_norm=True), "layer_norm_elman_relu"),
    (GRUCell(3, 4, reset="before"), "gru"),
    (GRUCell(3, 4, reset="after"), "gru_after"),
    (GRUCell(3, 4, reset="after", layer_norm=True), None),
    (MGUCell(3, 4), "mgu"),
    (ElmanCell(3, 4, nonlinearity="relu"), "elman_relu"),
    (ElmanCell(3, 4, nonlinearity="leaky_relu"), "elman_leaky_relu"),
    (ElmanCell(3, 4, nonlinearity="identity", layer_norm=True), "layer_norm_elman_identity"),
    (GatedCell(3, 4), "gated_unit"),
    (GatedCell(3, 4, layer_norm=True), "layer_norm_gated_unit"),
    (GRUCell(3, 4, z_multiplies="candidate"), None),
    (GRUCell(3, 4, z_multiplies="candidate").previous_form(), "gru"),
    (GRUCell(3, 4, reset="after", z_multiplies="candidate").previous_form(), "gru_after"),
    (JordanCell(3, 4, decision="softmax"), "jordan"),
    (JordanCell(3, 4, layer_norm=True), None),
    (LSTMCell(3, 4, proj_size=2), None),
    (type("SameEquations", (MGUCell,), {"reset_parameters": lambda self: None})(3, 4), "mgu"),
    (type("OwnStep", (MGUCell,), {"step": lambda self, *args: MGUCell.step(self, *args)})(3, 4), None),
    (type("OwnRecurrent", (MGUCell,), {"recurrent": lambda self, *args: MGUCell.recurrent(self, *args)})(3, 4), None),
])
def test_dispatch_rule_names_the_cells_the_core_computes(cell, expected):
    assert fused_kind(cell) == expected


def test_step_set_on_the_instance_is_honoured():
    cell = MGUCell(3, 4)
    cell.step = lambda xw, state, feedback: (state[0] + 1,)
    assert fused_kind(cell) is None
    out, _ = RNN(cell)(torch.zeros(1, 3, 3))
    torch.testing.assert_close(out[0, :, 0], torch.tensor([1.0, 2.0, 3.0]))


def test_other_dtypes_and_recurrent_dropout_run_on_the_python_engine():
    cell = MGUCell(3, 4).to(torch.bfloat16)
    xw = torch.zeros(2, 1, 8, dtype=torch.bfloat16)
    assert run_fused(cell, xw, (torch.zeros(1, 4, dtype=torch.bfloat16),)) is None
    rnn = RNN("gru", 3, 4, recurrent_dropout=0.5).double().train()
    out, _ = rnn(torch.randn(2, 5, 3, dtype=torch.float64))
    assert out.shape == (2, 5, 4)


def test_without_a_compiler_the_engine_runs_in_pure_pytorch(monkeypatch):
    torch.manual_seed(4)
    rnn = RNN("mgu", 3, 4, bidirectional=True).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 4])
    with disabled():
        expected, _ = rnn(x, lengths)
    monkeypatch.setattr(_compiled, "_toolchain_present", lambda: False)
    monkeypatch.delenv("CONVRNN_NO_COMPILE", raising=False)
    _compiled.load.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert _compiled.load() is None
            assert _compiled.load() is None            # asked again: no second warning
        assert [str(w.message) for w in caught if w.category is RuntimeWarning] == [
            "convrnn: no C++ compiler and ninja found, so the C++ recurrent core is not built; recurrent cells run "
            "on the pure-PyTorch engine (install a compiler and ninja, then run `convrnn build-core`)"]
        assert run_fused(rnn.cells[0], torch.zeros(1, 1, 8, dtype=torch.float64),
                         (torch.zeros(1, 4, dtype=torch.float64),)) is None
        out, _ = rnn(x, lengths)
        torch.testing.assert_close(out, expected, rtol=0, atol=0)
    finally:
        monkeypatch.undo()
        _compiled.load.cache_clear()


def test_a_failed_build_warns_and_falls_back(monkeypatch, tmp_path):
    broken = tmp_path / "cells.cpp"
    broken.write_text("this is not C++\n")
    monkeypatch.setattr(_compiled, "SOURCES", [broken])
    monkeypatch.setenv("CONVRNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_compiled, "_toolchain_present", lambda: True)
    _compiled.load.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="pure-PyTorch engine"):
            assert _compiled.load() is None
        leftovers = list((tmp_path / "cache" / "extensions").glob("*/*.so"))
        assert leftovers == []          # nothing half-built where a later run would load it
    finally:
        monkeypatch.undo()
        _compiled.load.cache_clear()


@pytest.mark.skipif(os.environ.get("CONVRNN_NO_COMPILE") == "1" or not _compiled._toolchain_present(),
                    reason="no C++ compiler/ninja, or building switched off")
def test_the_core_builds_wherever_a_toolchain_is_present():
    """Every other test of the core skips where it is not available; so that a compile error in
    its sources fails the suite rather than skipping those tests, the build itself must succeed
    wherever a compiler and ninja are found."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # a failed build warns and returns None
        assert _compiled.load() is not None


@needs_core
def test_built_library_is_cached_outside_the_scratch_directory():
    module = _compiled.load()
    libraries = list((_compiled._cache_root() / "extensions").glob(f"*/{module.__name__}*.so"))
    assert len(libraries) == 1


@needs_core
@pytest.mark.parametrize("name", sorted(FUSED))
def test_one_step_of_one_sequence_leaves_the_parameters_untouched(name):
    """A (1, 1, ·) output buffer is "contiguous" even as a broadcast view of a parameter; the core
    must never write into a parameter (it once did, through the Jordan bias)."""
    torch.manual_seed(5)
    cell = random_cell(name)
    before = [p.detach().clone() for p in cell.parameters()]
    xw = torch.randn(1, 1, cell.chunks * 5, dtype=torch.float64)
    state = tuple(torch.randn(1, size, dtype=torch.float64) for size in cell.state_sizes)
    first = run_fused(cell, xw, state)
    again = run_fused(cell, xw, state)
    for a, b in zip(first, again, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for p, old in zip(cell.parameters(), before, strict=True):
        torch.testing.assert_close(p.detach(), old, rtol=0, atol=0)


@needs_core
@pytest.mark.parametrize(("cell", "options"), [("lstm", {"peephole": True}), ("lstm", {"layer_norm": True}),
                                               ("lstm", {"peephole": True, "layer_norm": True}),
                                               ("gru", {"reset": "before", "layer_norm": True}),
                                               ("mgu", {"layer_norm": True}), ("gated", {"layer_norm": True})])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_inference_in_place_equals_the_training_path(cell, options, with_lengths, split):
    """Without gradients the LSTMs and the layer-normalised GRU, MGU and gated unit compute in the
    projection's own memory (run_fused consume=True): the autograd path's outputs and states,
    float32 and float64, and run_fused leaves a tensor it was not told to consume untouched."""
    torch.manual_seed(6)
    rnn = RNN(cell, 3, 5, num_layers=2, bidirectional=True, **options)
    x = torch.randn(5, 9, 3)
    lengths = torch.tensor([9, 2, 5, 7, 4]) if with_lengths else None
    for dtype in (torch.float32, torch.float64):
        rnn, x = rnn.to(dtype), x.to(dtype)
        expected = rnn(x, lengths, return_states=True)
        with torch.no_grad():
            got = rnn(x, lengths, return_states=True)
        # Equal up to rounding: where rows sit in memory decides which units the vectorised and
        # which the scalar exp computes, and the two round differently.
        tolerance = 1e-5 if dtype == torch.float32 else 1e-12
        for a, b in zip(torch.utils._pytree.tree_leaves(got), torch.utils._pytree.tree_leaves(expected),
                        strict=True):
            torch.testing.assert_close(a, b.detach(), rtol=tolerance, atol=tolerance)
    cell = rnn.cells[0]
    xw = torch.randn(6, 2, cell.chunks * 5, dtype=torch.float64)
    before = xw.clone()
    with torch.no_grad():
        run_fused(cell, xw, tuple(torch.zeros(2, size, dtype=torch.float64) for size in cell.state_sizes))
    torch.testing.assert_close(xw, before, rtol=0, atol=0)


@needs_core
@pytest.mark.parametrize("strategy", ["blas", "packed", "split"])
def test_every_step_product_strategy_gives_the_same_results(strategy):
    from convrnn.layers.recurrent.fused import step_products

    torch.manual_seed(7)
    rnn = RNN("lstm", 8, 64, peephole=True)
    x = torch.randn(3, 12, 8)
    expected, _ = rnn(x)
    expected.sum().backward()
    grads = [p.grad.clone() for p in rnn.parameters()]
    rnn.zero_grad()
    try:
        step_products(strategy)
        got, _ = rnn(x)
        got.sum().backward()
    finally:
        step_products("auto")
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    for p, g in zip(rnn.parameters(), grads, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="'strategy'"):
        step_products("fast")


def test_work_split_names_its_choices():
    with pytest.raises(ValueError, match=r"'split'.*'sequences'.*got 'rows'"):
        work_split("rows")


RAW_INPUT = sorted(name for name in FUSED if not name.startswith("jordan") and name != "gru_after")


@needs_core
@pytest.mark.parametrize("name", RAW_INPUT)
def test_cells_on_raw_projections_pass_gradcheck(name):
    """run_fused(raw_input=True): the core adds b_W (after the input layer norm, its gain and
    shift, where the cell has one) itself; gradients of W x and of every parameter, input norm
    included, against finite differences, and values against the cell's own projection."""
    torch.manual_seed(8)
    cell = random_cell(name, F=2, H=3)
    raw = torch.randn(4, 3, cell.chunks * 3, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(3, 3, dtype=torch.float64, requires_grad=True) for _ in cell.state_names)
    mask = torch.arange(4).unsqueeze(1) < torch.tensor([4, 2, 1])
    names = [n for n, _ in cell.named_parameters() if n != "weight_ih"]
    weights = tuple(cell.get_parameter(n).detach().clone().requires_grad_() for n in names)

    class RawRunner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = cell

        def forward(self, raw, *given):
            return run_fused(self.cell, raw, given, mask, raw_input=True)

    runner = RawRunner()

    def run(raw, *rest):
        given, parameters = rest[:len(state)], rest[len(state):]
        replaced = {f"cell.{n}": p for n, p in zip(names, parameters, strict=True)}
        return torch.func.functional_call(runner, replaced, (raw, *given))

    assert torch.autograd.gradcheck(run, (raw, *state, *weights))
    projected = raw + cell.bias_ih if cell.input_norm is None else cell.input_norm(raw, bias=cell.bias_ih)
    for a, b in zip(run_fused(cell, raw, state, mask, raw_input=True), run_fused(cell, projected, state, mask),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@needs_core
def test_raw_input_is_refused_for_the_jordan_cell():
    cell = random_cell("jordan_identity")
    xw = torch.zeros(2, 1, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"raw_input=True.*JordanCell"):
        run_fused(cell, xw, tuple(torch.zeros(1, size, dtype=torch.float64) for size in cell.state_sizes),
                  raw_input=True)
    gru = random_cell("gru_after")      # its input bias stays outside the reset gate's product
    assert not takes_raw_input(gru, xw)
    with pytest.raises(ValueError, match=r"raw_input=True.*torch.nn.GRU"):
        run_fused(gru, torch.zeros(2, 1, 15, dtype=torch.float64), (torch.zeros(1, 5, dtype=torch.float64),),
                  raw_input=True)


@needs_core
@pytest.mark.parametrize("name", sorted(FUSED))
@pytest.mark.parametrize(("batch", "hidden", "steps"), [(7, 5, 9), (13, 37, 8), (2, 16, 12), (6, 3, 7), (12, 20, 10)])
def test_the_panel_kernel_equals_blas_in_float32_and_the_float64_engine(name, batch, hidden, steps, split):
    """The core's own step product (``_compiled/panel_product.h``: the recurrent matrix packed in
    panels of 16 columns, tiles of 6 rows) against BLAS on every compiled cell, in float32, with
    widths that leave a narrower last panel, batches that leave a shorter last tile, and a loop
    under 8 steps (where BLAS runs); outputs, states and every gradient, under both work splits;
    and the outputs against the float64 Python engine. Built wherever torch runs AVX2 code."""
    from convrnn.layers.recurrent.fused import step_products

    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        assert _compiled.load().has_panels()
    torch.manual_seed(13)
    rnn = RNN(random_cell(name, 4, hidden), num_layers=1).float()
    x = torch.randn(batch, steps, 4)
    lengths = torch.randint(1, steps + 1, (batch,))
    lengths[0] = steps
    weight = torch.randn(rnn(x, lengths)[0].shape)
    results = {}
    try:
        for strategy in ("panels", "blas"):
            step_products(strategy)
            x_leaf = x.clone().requires_grad_()
            rnn.zero_grad(set_to_none=True)
            out, final, states = rnn(x_leaf, lengths, return_states=True)
            final = final if isinstance(final, tuple) else (final,)
            states = states if isinstance(states, tuple) else (states,)
            (out * weight).sum().backward()
            results[strategy] = [out, *final, *states, x_leaf.grad, *(p.grad for p in rnn.parameters())]
    finally:
        step_products("auto")
    # Up to float32 rounding relative to each tensor's scale (the Jordan cells' unbounded feedback
    # makes gradients of 100s, whose summation orders differ in the 4th decimal: against float64
    # the kernel's errors measured half of BLAS's); a wrong column or a stale tail row would be
    # off by the scale itself.
    for a, b in zip(results["panels"], results["blas"], strict=True):
        assert (a - b).abs().max() <= 2e-5 * max(1.0, b.abs().max().item())
    reference = RNN(random_cell(name, 4, hidden), num_layers=1)
    reference.load_state_dict(rnn.double().state_dict())
    with disabled():
        expected = reference(x.double(), lengths)[0]
    # (relative to the outputs' scale: the identity Elman cell's linear recurrence grows them)
    scale = max(1.0, expected.abs().max().item())
    torch.testing.assert_close(results["panels"][0].double(), expected, rtol=1e-4, atol=2e-4 * scale)


@pytest.mark.parametrize("layer", ["lstm_peephole", "lstm_layer_norm", "gru_before", "mgu_layer_norm", "jordan",
                                   "qrnn", "mingru", "minlstm"])
def test_a_device_without_the_core_runs_the_pytorch_path(layer):
    """The compiled core and the projection pool are CPU-only; on another device (here "meta",
    which has shapes but no data, standing in for CUDA where no GPU is lent) every layer must
    take the PyTorch path, forward and backward, without touching data_ptr or CPU buffers."""
    from convrnn.layers.recurrent import QRNN, MinGRU, MinLSTM, projection_buffers
    from convrnn.layers.recurrent.fused import core_for

    builders = {"lstm_peephole": lambda: RNN("lstm", 3, 5, peephole=True, num_layers=2, bidirectional=True),
                "lstm_layer_norm": lambda: RNN("lstm", 3, 5, layer_norm=True),
                "gru_before": lambda: RNN("gru", 3, 5, reset="before"),
                "mgu_layer_norm": lambda: RNN("mgu", 3, 5, layer_norm=True),
                "jordan": lambda: RNN("jordan", 3, 5),
                "qrnn": lambda: QRNN(3, 5, bidirectional=True), "mingru": lambda: MinGRU(3, 5),
                "minlstm": lambda: MinLSTM(3, 5, num_layers=2)}
    module = builders[layer]().to("meta")
    x = torch.randn(2, 7, 3, device="meta", requires_grad=True)
    assert core_for(x) is None
    held = projection_buffers.held_bytes()
    out = module(x, torch.tensor([7, 4]))[0]
    out.sum().backward()
    assert out.device.type == "meta" and out.shape == (2, 7, 10 if layer in ("lstm_peephole", "qrnn") else 5)
    assert x.grad is not None and x.grad.shape == x.shape
    assert projection_buffers.held_bytes() == held


@needs_core
@pytest.mark.parametrize("layer", ["lstm_peephole", "gru_with_lengths", "qrnn"])
def test_second_derivatives_are_refused_clearly_not_silently_wrong(layer):
    """The core's backward passes are not differentiable. With create_graph=True and a loss linear
    in the outputs, torch's once_differentiable alone would let second derivatives through with
    the core's terms missing; the core refuses instead, naming the way out, and the Python engine
    (fused.disabled()) gives second derivatives, checked against gradgradcheck."""
    from convrnn.layers.recurrent import QRNN

    torch.manual_seed(15)
    module = {"lstm_peephole": lambda: RNN("lstm", 3, 4, peephole=True),
              "gru_with_lengths": lambda: RNN("gru", 3, 4, reset="after"),
              "qrnn": lambda: QRNN(3, 4)}[layer]().double()
    lengths = torch.tensor([5, 3]) if layer == "gru_with_lengths" else None
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    first = torch.autograd.grad(module(x, lengths)[0].sum(), x, create_graph=False)[0]
    assert first.shape == x.shape
    with pytest.raises(RuntimeError, match=r"first derivatives only.*create_graph=True.*fused.disabled\(\)"):
        torch.autograd.grad(module(x, lengths)[0].sum(), x, create_graph=True)
    if layer != "qrnn":     # the parallel layers' scan has no second derivative on either path
        with disabled():
            assert torch.autograd.gradgradcheck(lambda v: module(v, lengths)[0], (x,))


@needs_core
@pytest.mark.parametrize("name", ["gru_before", "gru_after", "gru_before_layer_norm"])
def test_seed_004_gru_runs_on_the_core_as_its_previous_form(name):
    """A GRU with z_multiplies="candidate" runs on the core as the "previous" cell on negated z
    weights: same outputs, final states and gradients (of its own parameters) as the Python
    engine running seed 004's equation, with lengths, both directions and look-ahead."""
    torch.manual_seed(3)
    cell = random_cell(name)
    cell.z_multiplies = "candidate"
    assert fused_kind(runner(cell, torch.zeros(2, 2, 3, dtype=torch.float64))) is not None   # the core runs it
    for lookahead in (None, 1):
        rnn = RNN(cell, num_layers=2, bidirectional=True, lookahead=lookahead).double()
        rnn.use_native = False
        x = torch.randn(3, 6, 3, dtype=torch.float64)
        lengths = torch.tensor([6, 2, 4])
        weights = [torch.randn(3, 6, 10, dtype=torch.float64), torch.randn(4, 3, 5, dtype=torch.float64)]
        results = []
        for engine in (contextlib.nullcontext(), disabled()):
            with engine:
                rnn.zero_grad(set_to_none=True)
                xi = x.clone().requires_grad_()
                out, final = rnn(xi, lengths)
                ((out * weights[0]).sum() + (final * weights[1]).sum()).backward()
                results.append([out, final, xi.grad, *[p.grad for p in rnn.parameters()]])
        for got, expected in zip(*results, strict=True):
            torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
