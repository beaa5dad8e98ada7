"""LanguageModel: against torch.nn.LSTM with copied weights, state carried across calls, masks, gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from convrnn.models.language_model import CELL_NAMES, PARALLEL_LAYERS, LanguageModel


def small_model(**options) -> LanguageModel:
    return LanguageModel(11, 5, 6, 2, **options).double()


def test_logits_match_torch_lstm_with_copied_weights():
    model = small_model().eval()
    reference = nn.LSTM(5, 6, 2, batch_first=True).double()
    model.rnn.load_torch_state_dict(reference.state_dict())
    tokens = torch.randint(0, 11, (3, 7))
    logits, (h, c) = model(tokens)
    outputs, (h_ref, c_ref) = reference(model.embedding(tokens))
    torch.testing.assert_close(logits, model.output(outputs))
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(c, c_ref)
    assert logits.shape == (3, 7, 11)


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
def test_carried_state_continues_the_text(cell):
    model = small_model(cell=cell).eval()
    tokens = torch.randint(0, 11, (2, 9))
    whole, _ = model(tokens)
    first, state = model(tokens[:, :4])
    second, _ = model(tokens[:, 4:], state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)


def test_padding_never_changes_real_steps():
    model = small_model().eval()
    tokens = torch.randint(4, 11, (2, 6))
    padded = tokens.clone()
    padded[1, 3:] = 0
    logits, _ = model(padded, lengths=torch.tensor([6, 3]))
    alone, _ = model(tokens[1:, :3])
    torch.testing.assert_close(logits[1, :3], alone[0])


def test_tied_weights_are_one_parameter():
    model = LanguageModel(13, 8, 8, 1, tie_weights=True)
    assert model.output.weight is model.embedding.weight
    assert sum(p.numel() for p in model.parameters()) == 13 * 8 + 13 + sum(p.numel() for p in model.rnn.parameters())
    with pytest.raises(ValueError, match="needs embedding_size == hidden_size, got 4 and 8"):
        LanguageModel(13, 4, 8, tie_weights=True)


def test_init_range_draws_every_weight_uniformly():
    model = LanguageModel(20, 8, 8, 2, init_range=0.05)
    assert all(p.abs().max() <= 0.05 for p in model.parameters())


def test_gradients_match_finite_differences():
    model = LanguageModel(7, 3, 4, 2).double()
    tokens = torch.randint(0, 7, (2, 3))
    names = ["embedding.weight", "rnn.cells.0.weight_ih", "rnn.cells.1.weight_hh"]
    params = dict(model.named_parameters())

    def loss(*tensors):
        values = {**params, **dict(zip(names, tensors))}
        logits, _ = functional_call(model, values, (tokens,))
        return torch.log_softmax(logits, -1).sum()

    inputs = tuple(params[name].detach().clone().requires_grad_() for name in names)
    assert torch.autograd.gradcheck(loss, inputs)


def test_rejects_float_tokens_and_bad_sizes():
    model = LanguageModel(10, 4, 4, 1)
    with pytest.raises(TypeError, match=r"'tokens' expected an integer tensor of ids, got dtype torch\.float32"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="'tokens' expected a 2-d tensor"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="'vocab_size' expected a positive int, got 0"):
        LanguageModel(0)


# ----------------------------------------------------------------------------- parallel-in-time layers

PARALLEL = ["mingru", "minlstm", "qrnn"]


@pytest.mark.parametrize("cell", PARALLEL)
def test_parallel_cells_build_their_layer_with_the_model_sizes(cell):
    model = LanguageModel(11, 5, 6, 3, cell=cell, dropout=0.25)
    layer = model.rnn
    assert type(layer) is PARALLEL_LAYERS[cell]
    assert (layer.input_size, layer.hidden_size, layer.num_layers, layer.dropout) == (5, 6, 3, 0.25)
    assert layer.window == (2 if cell == "qrnn" else 1)
    assert cell != "qrnn" or layer.pooling == "fo"
    logits, state = model(torch.randint(0, 11, (4, 7)))
    assert logits.shape == (4, 7, 11)
    if cell == "qrnn":  # h, then each layer's last k − 1 = 1 inputs
        assert [tuple(s.shape) for s in state] == [(3, 4, 6), (1, 4, 5), (1, 4, 6), (1, 4, 6)]
    else:
        assert state.shape == (3, 4, 6)


@pytest.mark.parametrize("cell", PARALLEL)
def test_parallel_cells_carry_the_state_across_windows_exactly(cell):
    torch.manual_seed(0)
    model = small_model(cell=cell).eval()
    tokens = torch.randint(0, 11, (3, 12))
    whole, final = model(tokens)
    first, state = model(tokens[:, :5])
    second, state = model(tokens[:, 5:], state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=0, atol=1e-10)
    for carried, once in zip(state if cell == "qrnn" else (state,), final if cell == "qrnn" else (final,),
                             strict=True):
        torch.testing.assert_close(carried, once, rtol=0, atol=1e-10)


def test_qrnn_from_zeros_is_the_layer_itself_and_token_by_token_continues_it():
    torch.manual_seed(1)
    model = small_model(cell="qrnn", window=3).eval()
    tokens = torch.randint(0, 11, (2, 9))
    whole, _ = model(tokens)
    outputs, _ = model.rnn(model.embedding(tokens))  # the layer alone, independent of the model's path
    torch.testing.assert_close(whole, model.output(outputs), rtol=0, atol=1e-10)
    state, pieces = None, []
    for t in range(9):  # as sampling feeds it
        logits, state = model(tokens[:, t:t + 1], state=state)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, rtol=0, atol=1e-10)
    # carrying h alone, as the layer would, is not enough: the window then sees zeros
    _, carried = model(tokens[:, :4])
    h_only, _ = model.rnn(model.embedding(tokens[:, 4:]), state=carried[0])
    assert (model.output(h_only) - whole[:, 4:]).abs().max() > 1e-3


@pytest.mark.parametrize("cell", PARALLEL)
def test_parallel_padding_never_changes_real_steps_or_final_states(cell):
    torch.manual_seed(2)
    model = small_model(cell=cell).eval()
    tokens = torch.randint(4, 11, (3, 6))
    lengths = torch.tensor([6, 1, 4])
    logits, state = model(tokens, lengths=lengths)
    for row, length in enumerate(lengths.tolist()):
        alone, alone_state = model(tokens[row:row + 1, :length])
        torch.testing.assert_close(logits[row, :length], alone[0], rtol=0, atol=1e-10)
        pairs = zip(state, alone_state, strict=True) if cell == "qrnn" else [(state, alone_state)]
        for batched, single in pairs:
            torch.testing.assert_close(batched[:, row:row + 1], single, rtol=0, atol=1e-10)


def test_qrnn_model_gradients_match_finite_differences():
    model = LanguageModel(7, 3, 4, 2, cell="qrnn").double()
    tokens = torch.randint(0, 7, (2, 4))
    names = ["embedding.weight", "rnn.projections.0.weight", "rnn.projections.1.bias"]
    params = dict(model.named_parameters())

    def loss(*tensors):
        first, state = functional_call(model, {**params, **dict(zip(names, tensors))}, (tokens[:, :2],))
        second, _ = functional_call(model, {**params, **dict(zip(names, tensors))}, (tokens[:, 2:],),
                                    {"state": state})
        return torch.log_softmax(torch.cat([first, second], 1), -1).sum()

    inputs = tuple(params[name].detach().clone().requires_grad_() for name in names)
    assert torch.autograd.gradcheck(loss, inputs)


def test_qrnn_model_with_context_runs_on_the_compiled_core_with_the_pytorch_results(monkeypatch):
    """The QRNN language model (each layer continuing from its last inputs) uses the layer's
    recurrence, so the compiled core where it runs: outputs, states and every gradient equal
    the pure-PyTorch path's, with lengths."""
    import convrnn.layers.recurrent.parallel as parallel
    from convrnn.layers.recurrent.fused import available, disabled

    compiled_runs = []
    original = parallel.run_parallel

    def counted(*args, **kwargs):
        result = original(*args, **kwargs)
        compiled_runs.append(result is not None)
        return result

    monkeypatch.setattr(parallel, "run_parallel", counted)

    if not available():
        pytest.skip("no C++ compiler/ninja: the core cannot be built here")
    torch.manual_seed(11)
    model = LanguageModel(9, 4, 6, 2, cell="qrnn", window=3).double()
    tokens = torch.randint(0, 9, (3, 7))
    lengths = torch.tensor([7, 4, 5])
    state = tuple(s.detach() for s in model(tokens[:, :3])[1])

    def run():
        model.zero_grad(set_to_none=True)
        logits, final = model(tokens, lengths=lengths, state=state)
        (logits.sin().sum() + sum(f.cos().sum() for f in final)).backward()
        return [logits, *final] + [p.grad for p in model.parameters()]

    fast = run()
    assert compiled_runs and all(compiled_runs)      # both layers went through the core
    with disabled():
        slow = run()
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("cell", PARALLEL)
def test_greedy_sampling_with_the_carried_state_equals_rereading_the_text(cell):
    from convrnn.generate import sample

    torch.manual_seed(3)
    model = LanguageModel(9, 6, 8, 2, cell=cell).double().eval()
    tokens = sample(model, [1, 2, 3], 12, greedy=True)
    text = [1, 2, 3]
    with torch.no_grad():
        for _ in range(12):  # no state: the whole text again for every token
            logits, _ = model(torch.tensor([text]))
            text.append(int(logits[0, -1].argmax()))
    assert tokens == text[3:]
    assert sample(model, [1], 20, temperature=0.8, seed=5) == sample(model, [1], 20, temperature=0.8, seed=5)


def test_unknown_cells_and_bad_states_are_clear_errors():
    with pytest.raises(ValueError, match=r"'cell' expected one of \[.*'lstm'.*'mingru', 'minlstm', 'qrnn'\], got 'gpt'"):
        LanguageModel(10, cell="gpt")
    with pytest.raises(ValueError, match="reads left to right; got bidirectional=True"):
        LanguageModel(10, cell="mingru", bidirectional=True)
    model = LanguageModel(10, 4, 5, 2, cell="qrnn")
    with pytest.raises(ValueError, match=r"'state' expected tensors of shapes \[\(2, 1, 5\), \(1, 1, 4\), "
                                         r"\(1, 1, 5\)\].*got \[\(2, 1, 5\)\]"):
        model(torch.zeros(1, 3, dtype=torch.long), state=(torch.zeros(2, 1, 5),))
    assert set(CELL_NAMES) >= {"lstm", "gru", "mingru", "minlstm", "qrnn"}
