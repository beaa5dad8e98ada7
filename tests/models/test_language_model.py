"""LanguageModel: against torch.nn.LSTM with copied weights, state carried across calls, masks, gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from convrnn.models.language_model import LanguageModel


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
