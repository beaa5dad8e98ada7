"""convrnn.nn's LSTM, GRU and RNN against torch.nn's: parameters from the same seed, names and
order, outputs and gradients, packed and unbatched input, state dicts both ways; the extras
against convrnn.layers' stacks given the same weights."""

import copy
import warnings

import pytest
import torch
from torch import nn as torch_nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from convrnn import layers
from convrnn import nn as convrnn_nn

CLASSES = {"LSTM": (torch_nn.LSTM, convrnn_nn.LSTM), "GRU": (torch_nn.GRU, convrnn_nn.GRU),
           "RNN": (torch_nn.RNN, convrnn_nn.RNN)}
CONFIGS = {
    "one layer": {},
    "two layers, bidirectional": {"num_layers": 2, "bidirectional": True},
    "no bias": {"bias": False, "num_layers": 2},
    "batch first, dropout (eval)": {"batch_first": True, "num_layers": 3, "dropout": 0.4},
    "relu": {"nonlinearity": "relu", "num_layers": 2},
    "projection": {"proj_size": 3, "num_layers": 2, "bidirectional": True},
    "projection, no bias": {"proj_size": 2, "bias": False},
}


def cases():
    for name, (theirs, ours) in CLASSES.items():
        for config, options in CONFIGS.items():
            if ("nonlinearity" in options) != (name == "RNN") and config == "relu":
                continue
            if "proj_size" in options and name != "LSTM":
                continue
            yield pytest.param(theirs, ours, options, id=f"{name}-{config}")


def parts(state):
    return state if isinstance(state, tuple) else (state,)


def build_pair(theirs, ours, options, dtype=torch.float32, seed=3):
    torch.manual_seed(seed)
    reference = theirs(4, 5, **options, dtype=dtype)
    after_reference = torch.random.get_rng_state()
    torch.manual_seed(seed)
    module = ours(4, 5, **options, dtype=dtype)
    assert torch.equal(torch.random.get_rng_state(), after_reference), "the generator was drawn differently"
    return reference.eval(), module.eval()


def random_state(module, batch, dtype, unbatched=False):
    rows = module.num_layers * (2 if module.bidirectional else 1)
    sizes = (module.proj_size or module.hidden_size, module.hidden_size)
    shape = (rows,) if unbatched else (rows, batch)
    h = torch.randn(*shape, sizes[0], dtype=dtype)
    return (h, torch.randn(*shape, sizes[1], dtype=dtype)) if module.mode == "LSTM" else h


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("theirs", "ours", "options"), list(cases()))
def test_same_seed_gives_torch_parameters_in_torch_order(theirs, ours, options, dtype):
    reference, module = build_pair(theirs, ours, options, dtype)
    expected = list(reference.named_parameters())
    got = list(module.named_parameters())
    assert [name for name, _ in got] == [name for name, _ in expected]
    for (name, a), (_, b) in zip(got, expected, strict=True):
        assert a.dtype == dtype and torch.equal(a, b), name
    assert module._flat_weights_names == reference._flat_weights_names
    assert [[w.shape for w in ws] for ws in module.all_weights] == [[w.shape for w in ws] for ws in reference.all_weights]
    assert repr(module) == repr(reference)


@pytest.mark.parametrize(("dtype", "native"), [(torch.float32, True), (torch.float64, False)],
                         ids=["float32-native", "float64-engine"])
@pytest.mark.parametrize(("theirs", "ours", "options"), list(cases()))
def test_outputs_final_state_and_gradients_equal_torch(theirs, ours, options, dtype, native):
    """On torch's kernels (native, float32) and on the engine (the compiled core or the Python
    loop, float64)."""
    reference, module = build_pair(theirs, ours, options, dtype)
    module.use_native = native
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 0, "atol": 1e-12}
    T, N = 6, 3
    x = torch.randn((N, T, 4) if module.batch_first else (T, N, 4), dtype=dtype)
    hx = random_state(module, N, dtype)
    results = []
    for m in (reference, module):
        x_m = x.clone().requires_grad_()
        hx_m = tuple(h.clone().requires_grad_() for h in parts(hx))
        output, final = m(x_m, hx_m if len(hx_m) > 1 else hx_m[0])
        torch.manual_seed(7)
        loss = (output * torch.randn_like(output)).sum() + sum((f * torch.randn_like(f)).sum() for f in parts(final))
        loss.backward()
        results.append((output, parts(final), x_m.grad, [h.grad for h in hx_m], [p.grad for p in m.parameters()]))
    (out_a, final_a, gx_a, gh_a, gp_a), (out_b, final_b, gx_b, gh_b, gp_b) = results
    torch.testing.assert_close(out_b, out_a, **tolerance)
    for tensors_b, tensors_a in ((final_b, final_a), ([gx_b], [gx_a]), (gh_b, gh_a), (gp_b, gp_a)):
        for b, a in zip(tensors_b, tensors_a, strict=True):
            torch.testing.assert_close(b, a, **tolerance)


@pytest.mark.parametrize(("theirs", "ours", "options"), list(cases()))
def test_packed_and_unbatched_input_like_torch(theirs, ours, options):
    reference, module = build_pair(theirs, ours, options, torch.float64)
    lengths = torch.tensor([4, 6, 1, 3])
    x = torch.randn(4, 6, 4, dtype=torch.float64)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    hx = random_state(module, 4, torch.float64)
    out_a, final_a = reference(packed, hx)
    out_b, final_b = module(packed, hx)
    assert isinstance(out_b, type(out_a))
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        assert torch.equal(getattr(out_b, field), getattr(out_a, field))
    torch.testing.assert_close(out_b.data, out_a.data, rtol=0, atol=1e-12)
    for b, a in zip(parts(final_b), parts(final_a), strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    # masking by lengths= gives what packing gives
    batch_first = module.batch_first
    padded = x if batch_first else x.transpose(0, 1)
    out_c, final_c = module(padded, hx, lengths=lengths)
    expected, _ = pad_packed_sequence(out_a, batch_first=batch_first, total_length=6)
    torch.testing.assert_close(out_c, expected, rtol=0, atol=1e-12)
    for c, a in zip(parts(final_c), parts(final_a), strict=True):
        torch.testing.assert_close(c, a, rtol=0, atol=1e-12)
    # one unbatched sequence: (L, H_in), hx without the batch dimension
    sequence, state = torch.randn(5, 4, dtype=torch.float64), random_state(module, 1, torch.float64, unbatched=True)
    for args in ((sequence,), (sequence, state)):
        out_a, final_a = reference(*args)
        out_b, final_b = module(*args)
        assert out_b.shape == out_a.shape
        torch.testing.assert_close(out_b, out_a, rtol=0, atol=1e-12)
        for b, a in zip(parts(final_b), parts(final_a), strict=True):
            assert b.shape == a.shape
            torch.testing.assert_close(b, a, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("theirs", "ours", "options"), list(cases()))
def test_state_dicts_load_both_ways(theirs, ours, options):
    torch.manual_seed(1)
    reference = theirs(4, 5, **options).eval()
    module = ours(4, 5, **options).eval()
    module.load_state_dict(reference.state_dict())
    x = torch.randn(3, 2, 4)
    torch.testing.assert_close(module(x)[0], reference(x)[0], rtol=0, atol=0)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.uniform_(-0.5, 0.5)
    reference.load_state_dict(module.state_dict())
    torch.testing.assert_close(reference(x)[0], module(x)[0], rtol=0, atol=0)
    assert list(module.state_dict()) == list(reference.state_dict())


def test_dropout_in_training_draws_torch_masks():
    """A plain stack runs torch's own kernel, so the same seed gives the same dropout masks."""
    reference, module = build_pair(torch_nn.LSTM, convrnn_nn.LSTM, {"num_layers": 3, "dropout": 0.5})
    reference.train(), module.train()
    x = torch.randn(5, 2, 4)
    torch.manual_seed(11)
    expected = reference(x)[0]
    torch.manual_seed(11)
    torch.testing.assert_close(module(x)[0], expected, rtol=0, atol=0)


def test_torch_warning_for_dropout_with_one_layer_and_torch_errors():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        convrnn_nn.GRU(3, 4, dropout=0.2)
    with pytest.raises(ValueError, match=r"convrnn.nn.LSTM: argument 'dropout' expected a probability in \[0, 1\]"):
        convrnn_nn.LSTM(3, 4, dropout=1.5)
    with pytest.raises(TypeError, match=r"argument 'hidden_size' expected an int, got float 4.0"):
        convrnn_nn.LSTM(3, 4.0)
    with pytest.raises(ValueError, match=r"argument 'num_layers' expected an int greater than zero, got 0"):
        convrnn_nn.RNN(3, 4, 0)
    with pytest.raises(ValueError, match=r"'proj_size' expected an int smaller than hidden_size = 4, got 4"):
        convrnn_nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match=r"'proj_size' is only supported for LSTM"):
        convrnn_nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match=r"'nonlinearity' expected 'tanh' or 'relu', got 'sigmoid'"):
        convrnn_nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['batchfirst'\] for cell 'lstm', "
                                        r"whose options are \[.*'peephole'.*\]"):
        convrnn_nn.LSTM(3, 4, batchfirst=True)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['peephole'\] for cell 'mgu'"):
        convrnn_nn.LSTM(3, 4, cell="mgu", peephole=True)
    with pytest.raises(ValueError, match=r"'cell' expected one of \[.*'mingru'.*\] or a convrnn Cell subclass, "
                                         r"got 'lstn'"):
        convrnn_nn.LSTM(3, 4, cell="lstn")
    with pytest.raises(ValueError, match=r"'lookahead' .*needs bidirectional=True"):
        convrnn_nn.LSTM(3, 4, lookahead=1)
    with pytest.raises(ValueError, match=r"'zoneout' expected a probability in \[0, 1\), got 1.0"):
        convrnn_nn.GRU(3, 4, zoneout=1.0)
    with pytest.raises(ValueError, match=r"cell 'mingru' runs on the parallel scan, which takes none of "
                                         r"\['layer_norm', 'bias'\]"):
        convrnn_nn.GRU(3, 4, cell="mingru", layer_norm=True, bias=False)


def test_bad_forward_arguments_name_argument_expected_and_actual():
    lstm = convrnn_nn.LSTM(3, 4, num_layers=2)
    x = torch.randn(5, 2, 3)
    where = r"convrnn.nn.LSTM.forward: "
    with pytest.raises(ValueError, match=where + r"argument 'input' expected a 3-D .* got shape \(5, 2, 3, 1\)"):
        lstm(x.unsqueeze(-1))
    with pytest.raises(ValueError, match=where + r"argument 'input' expected input_size = 3 features .*got 7"):
        lstm(torch.randn(5, 2, 7))
    with pytest.raises(ValueError, match=where + r"argument 'input' expected dtype torch.float32 .*got torch.float64"):
        lstm(x.double())
    with pytest.raises(TypeError, match=where + r"argument 'hx' expected a tuple of 2 tensors \(h, c\) for cell "
                                                r"'lstm', got Tensor"):
        lstm(x, torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=where + r"argument 'hx \(c\)' expected shape \(D·num_layers, N, c size\) = "
                                                 r"\(2, 2, 4\), got \(1, 2, 4\)"):
        lstm(x, (torch.zeros(2, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match=where + r"argument 'hx \(h\)' expected a 2-D tensor for unbatched 2-D "
                                                 r"input, got shape \(2, 1, 4\)"):
        lstm(x[:, 0], (torch.zeros(2, 1, 4), torch.zeros(2, 1, 4)))
    with pytest.raises(ValueError, match=where + r"argument 'lengths' expected values in \[1, T\] = \[1, 5\]"):
        lstm(x, lengths=torch.tensor([6, 2]))
    packed = pack_padded_sequence(x, torch.tensor([5, 3]))
    with pytest.raises(ValueError, match=where + r"argument 'lengths' expected None with a PackedSequence input"):
        lstm(packed, lengths=torch.tensor([5, 3]))


def test_one_state_cell_in_the_lstm_face_says_how_to_pass_its_state():
    """MGU in place of an LSTM: its state is h alone. nn.LSTM(cell="mgu") given (h, c) refuses
    with the way out; nn.GRU(cell="mgu") is the face whose scripts pass h."""
    x = torch.randn(5, 2, 3)
    h, c = torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)
    with pytest.raises(TypeError, match=r"argument 'hx' expected one tensor h .*got a tuple of 2 — a script written "
                                        r"for an LSTM passes \(h, c\), but the state of cell 'mgu' is h alone: pass h .*"
                                        r"convrnn.nn.GRU\(..., cell='mgu'\)"):
        convrnn_nn.LSTM(3, 4, cell="mgu")(x, (h, c))
    output, h_n = convrnn_nn.GRU(3, 4, cell="mgu")(x, h)
    assert output.shape == (5, 2, 4) and isinstance(h_n, torch.Tensor) and h_n.shape == (1, 2, 4)
    output, (h_n, y_n) = convrnn_nn.RNN(3, 4, cell="jordan", output_size=2)(x)
    assert output.shape == (5, 2, 2) and h_n.shape == (1, 2, 4) and y_n.shape == (1, 2, 2)


EXTRAS = {
    "peephole, layer norm, bidirectional": (convrnn_nn.LSTM, {"peephole": True, "layer_norm": True,
                                                             "num_layers": 2, "bidirectional": True},
                                            lambda: layers.RNN("lstm", 4, 5, 2, bidirectional=True, peephole=True,
                                                               layer_norm=True)),
    "peephole, projection": (convrnn_nn.LSTM, {"peephole": True, "proj_size": 3, "num_layers": 2},
                             lambda: layers.RNN("lstm", 4, 5, 2, peephole=True, proj_size=3)),
    "look-ahead, zoneout": (convrnn_nn.LSTM, {"lookahead": 1, "bidirectional": True, "zoneout": 0.2},
                            lambda: layers.RNN("lstm", 4, 5, bidirectional=True, lookahead=1, zoneout=0.2)),
    "GRU reset before, no bias": (convrnn_nn.GRU, {"reset": "before", "bias": False, "num_layers": 2},
                                  lambda: layers.RNN("gru", 4, 5, 2, reset="before", bias=False)),
    "MGU, recurrent dropout": (convrnn_nn.GRU, {"cell": "mgu", "recurrent_dropout": 0.3},
                               lambda: layers.RNN("mgu", 4, 5, recurrent_dropout=0.3)),
    "Jordan relu": (convrnn_nn.RNN, {"cell": "jordan", "nonlinearity": "relu", "decision": "tanh"},
                    lambda: layers.RNN("jordan", 4, 5, nonlinearity="relu", decision="tanh")),
    "Elman layer norm": (convrnn_nn.RNN, {"layer_norm": True, "num_layers": 2},
                         lambda: layers.RNN("elman", 4, 5, 2, layer_norm=True)),
    "MinGRU": (convrnn_nn.GRU, {"cell": "mingru", "num_layers": 2}, lambda: layers.recurrent.MinGRU(4, 5, 2)),
    "QRNN": (convrnn_nn.LSTM, {"cell": "qrnn", "bidirectional": True, "window": 3},
             lambda: layers.recurrent.QRNN(4, 5, bidirectional=True, window=3)),
}


def copy_by_torch_names(module, stack):
    """The documented naming: a cell's parameter path with dots as underscores, plus torch's
    layer suffix; the parallel layers' projections are weight_ih / bias_ih."""
    directions = 2 if module.bidirectional else 1
    parallel = not isinstance(stack, layers.RNN)
    parts_of_stack = stack.projections if parallel else stack.cells
    with torch.no_grad():
        for position, part in enumerate(parts_of_stack):
            layer, direction = divmod(position, directions)
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            for path, parameter in part.named_parameters():
                name = {"weight": "weight_ih", "bias": "bias_ih"}[path] if parallel else path.replace(".", "_")
                parameter.copy_(getattr(module, name + suffix))


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_extras_compute_what_the_layers_stack_computes(extra):
    face, options, build = EXTRAS[extra]
    module = face(4, 5, **options, dtype=torch.float64)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.uniform_(-0.7, 0.7)   # peepholes and norm gains away from their neutral start
    stack = build().double()
    copy_by_torch_names(module, stack)
    assert sum(p.numel() for p in module.parameters()) == sum(p.numel() for p in stack.parameters())
    x = torch.randn(6, 3, 4, dtype=torch.float64)   # time-major, torch's default
    lengths = torch.tensor([6, 2, 4])
    module.eval(), stack.eval()
    expected, expected_final, expected_states = stack(x.transpose(0, 1), lengths, return_states=True)
    output, final, states = module(x, lengths=lengths, return_states=True)
    torch.testing.assert_close(output, expected.transpose(0, 1), rtol=0, atol=1e-12)
    for a, b in zip(parts(final), parts(expected_final), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    for a, b in zip(parts(states), parts(expected_states), strict=True):
        torch.testing.assert_close(a, b.transpose(0, 1), rtol=0, atol=1e-12)


def test_extras_start_neutral_so_the_extended_lstm_starts_as_torchs():
    """Same seed: torch's parameters drawn identically, peepholes 0 and layer-norm gains 1 /
    shifts 0 drawn from nothing; with peepholes alone the first outputs are torch's."""
    reference, _ = build_pair(torch_nn.LSTM, convrnn_nn.LSTM, {"num_layers": 2})
    torch.manual_seed(3)
    module = convrnn_nn.LSTM(4, 5, num_layers=2, peephole=True).eval()
    names = [name for name, _ in module.named_parameters()]
    assert names == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_peephole_l0",
                     "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_peephole_l1"]
    assert module.weight_peephole_l0.shape == (3, 5) and module.weight_peephole_l1.abs().sum() == 0
    x = torch.randn(5, 2, 4)
    torch.testing.assert_close(module(x)[0], reference(x)[0], rtol=1e-6, atol=1e-6)
    normed = convrnn_nn.GRU(4, 5, layer_norm=True)
    assert [name for name, _ in normed.named_parameters()][4:] == [
        "input_norm_weight_l0", "input_norm_bias_l0", "recurrent_norm_weight_l0", "recurrent_norm_bias_l0"]
    assert torch.all(normed.input_norm_weight_l0 == 1) and torch.all(normed.recurrent_norm_bias_l0 == 0)


def test_return_states_every_step_in_the_module_layout():
    module = convrnn_nn.LSTM(4, 5, num_layers=2, batch_first=True)
    output, (h_n, c_n), (h_all, c_all) = module(torch.randn(3, 6, 4), return_states=True)
    assert h_all.shape == c_all.shape == (3, 6, 2, 5)
    torch.testing.assert_close(h_all[:, :, -1], output, rtol=0, atol=0)
    torch.testing.assert_close(c_all[:, -1].transpose(0, 1), c_n, rtol=0, atol=0)
    _, _, h_one = convrnn_nn.GRU(4, 5)(torch.randn(6, 4), return_states=True)
    assert h_one.shape == (6, 1, 5)


def test_moving_copying_and_assigning_keep_the_engine_on_the_modules_parameters():
    reference, module = build_pair(torch_nn.GRU, convrnn_nn.GRU, {"num_layers": 2})
    x = torch.randn(4, 2, 4, dtype=torch.float64)
    module.double(), reference.double()
    torch.testing.assert_close(module(x)[0], reference(x)[0], rtol=0, atol=1e-12)
    clone = copy.deepcopy(module)
    with torch.no_grad():
        clone.weight_hh_l1.zero_()
    assert not torch.allclose(clone(x)[0], module(x)[0])
    fresh = {key: torch.zeros_like(value) for key, value in module.state_dict().items()}
    module.load_state_dict(fresh, assign=True)
    assert module(x)[0].abs().max() == 0
    assert module.flatten_parameters() is None   # a no-op on a CPU, as torch's


def test_does_not_touch_the_generator_beyond_torchs_draws():
    torch.manual_seed(5)
    torch_nn.LSTM(4, 5, 2, bidirectional=True)
    expected = torch.random.get_rng_state()
    torch.manual_seed(5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        convrnn_nn.LSTM(4, 5, 2, bidirectional=True, peephole=True, layer_norm=True)
    assert torch.equal(torch.random.get_rng_state(), expected)


COMPILED = {
    "LSTM": lambda: convrnn_nn.LSTM(4, 5, 2, bidirectional=True),
    "LSTM, proj_size": lambda: convrnn_nn.LSTM(4, 5, proj_size=3),
}


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_compiles_whole_with_the_eager_outputs_and_gradients(name):
    """torch.compile(fullgraph=True) takes each stack whole (plain stacks on a CPU run the compiled
    core's operator there, not torch's fused kernel, which breaks the graph; a projected LSTM the
    engine's loop), with lengths too."""
    torch.manual_seed(6)
    torch._dynamo.reset()
    module = COMPILED[name]().double()
    x, lengths = torch.randn(6, 3, 4, dtype=torch.float64), torch.tensor([6, 2, 4])

    def run(model):
        out, final = model(x, lengths=lengths)
        loss = out.pow(2).sum() + sum(part.sum() for part in parts(final))
        return [out, *parts(final), *torch.autograd.grad(loss, list(module.parameters()))]

    expected = run(module)
    for got, want in zip(run(torch.compile(module, backend="aot_eager", fullgraph=True)), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_exports_with_batch_and_length_dynamic():
    """torch.export takes the face as it takes convrnn.layers' stacks (the engine's scan)."""
    torch.manual_seed(7)
    module = convrnn_nn.LSTM(4, 5).eval()
    steps, batch = torch.export.Dim("steps", min=2), torch.export.Dim("batch", min=2)
    program = torch.export.export(module, (torch.randn(5, 2, 4),), dynamic_shapes=({0: steps, 1: batch},))
    x = torch.randn(9, 3, 4)
    (out, (h, c)), (want, (h_want, c_want)) = program.module()(x), module(x)
    for got, expected in ((out, want), (h, h_want), (c, c_want)):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
