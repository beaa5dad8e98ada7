"""Many → one classifiers: padding never changes a prediction; each is checked against an
independent reference (torch.nn.LSTM on packed sequences, a naive loop for the CNN)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from convrnn.models.sequence_classifier import (
    ConvTextClassifier,
    RecurrentClassifier,
    masked_max,
    masked_mean,
)


def _pad(batch: torch.Tensor, extra: int) -> torch.Tensor:
    shape = (batch.shape[0], extra, *batch.shape[2:])
    return torch.cat([batch, torch.zeros(shape, dtype=batch.dtype)], dim=1)


def _tokens(lengths, vocab=30, seed=0):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, vocab, (len(lengths), max(lengths)), generator=generator)
    for row, length in enumerate(lengths):
        tokens[row, length:] = 0
    return tokens, torch.tensor(lengths)


@pytest.mark.parametrize("pooling", ["final", "mean", "max"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_never_changes_a_recurrent_prediction(pooling, cell):
    model = RecurrentClassifier(4, vocab_size=30, embedding_dim=8, hidden_size=6, num_layers=2,
                                cell=cell, pooling=pooling).eval()
    tokens, lengths = _tokens([5, 2, 7])
    logits = model(tokens, lengths)
    # appended padding, with any id in the padded cells, and each sequence alone
    noisy = _pad(tokens, 4)
    noisy[:, 7:] = 17
    assert torch.allclose(model(noisy, lengths), logits, atol=1e-6)
    for row, length in enumerate(lengths.tolist()):
        alone = model(tokens[row:row + 1, :length])
        assert torch.allclose(alone, logits[row:row + 1], atol=1e-6)


def test_padding_never_changes_a_feature_input_prediction():
    model = RecurrentClassifier(3, input_size=5, hidden_size=6, pooling="mean").eval()
    x = torch.randn(2, 6, 5)
    lengths = torch.tensor([6, 3])
    padded = torch.cat([x, torch.randn(2, 5, 5)], dim=1)  # random values in the padding
    assert torch.allclose(model(padded, lengths), model(x, lengths), atol=1e-6)


@pytest.mark.parametrize("lengths", [[5, 1, 3], [2, 2]])
def test_padding_never_changes_a_convolutional_prediction(lengths):
    model = ConvTextClassifier(3, vocab_size=30, embedding_dim=6, channels=4, kernel_sizes=(2, 3, 5)).eval()
    tokens, lengths = _tokens(lengths)
    logits = model(tokens, lengths)
    noisy = _pad(tokens, 6)
    noisy[:, tokens.shape[1]:] = 9
    assert torch.allclose(model(noisy, lengths), logits, atol=1e-6)


def test_recurrent_final_pooling_matches_torch_lstm_on_packed_sequences():
    model = RecurrentClassifier(3, input_size=4, hidden_size=5, num_layers=2, pooling="final").double().eval()
    reference = nn.LSTM(4, 5, 2, bidirectional=True, batch_first=True).double()
    model.rnn.load_torch_state_dict(reference.state_dict())
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    _, (h, _) = reference(packed)
    pooled = torch.cat([h[-2], h[-1]], dim=1)
    expected = model.classifier(pooled)
    assert torch.allclose(model(x, lengths), expected, atol=1e-10)


def test_conv_classifier_matches_a_naive_loop():
    model = ConvTextClassifier(2, vocab_size=20, embedding_dim=3, channels=2, kernel_sizes=(2, 4)).double().eval()
    tokens, lengths = _tokens([3, 6], vocab=20)
    embedding = model.embedding.weight.detach().numpy()
    for row, length in enumerate(lengths.tolist()):
        e = embedding[tokens[row, :length].numpy()]                     # (length, E)
        features = []
        for k, convolution in zip(model.kernel_sizes, model.convolutions, strict=True):
            w = convolution.weight.detach().numpy()                       # (C, E, k)
            b = convolution.bias.detach().numpy()
            padded = np.concatenate([np.zeros((k - 1, 3)), e, np.zeros((k - 1, 3))])
            responses = [np.maximum(np.einsum("cek,ke->c", w, padded[j:j + k]) + b, 0)
                         for j in range(length + k - 1)]
            features.append(np.max(responses, axis=0))
        z = np.concatenate(features)
        expected = model.classifier.weight.detach().numpy() @ z + model.classifier.bias.detach().numpy()
        np.testing.assert_allclose(model(tokens, lengths)[row].detach().numpy(), expected, atol=1e-10)


def test_masked_pooling_matches_a_loop():
    values = torch.randn(3, 5, 2, dtype=torch.float64)
    mask = torch.arange(5) < torch.tensor([5, 1, 3]).unsqueeze(1)
    for row, length in enumerate([5, 1, 3]):
        assert torch.allclose(masked_mean(values, mask)[row], values[row, :length].mean(0))
        assert torch.allclose(masked_max(values, mask)[row], values[row, :length].amax(0))


@pytest.mark.parametrize("pooling", ["final", "mean", "max"])
def test_recurrent_classifier_gradients_match_finite_differences(pooling):
    model = RecurrentClassifier(2, input_size=3, hidden_size=3, pooling=pooling).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])
    assert torch.autograd.gradcheck(lambda x: model(x, lengths), (x,))


def test_conv_classifier_gradients_match_finite_differences():
    model = ConvTextClassifier(2, vocab_size=10, embedding_dim=3, channels=2, kernel_sizes=(2, 3), dropout=0.0).double()
    tokens, lengths = _tokens([4, 2], vocab=10)
    weight = model.embedding.weight.detach().clone().requires_grad_(True)

    # the forward pass written out with the embedding weight as an input, so gradcheck can vary it
    def through(weight):
        x = torch.nn.functional.embedding(tokens, weight)
        mask = (torch.arange(tokens.shape[1]) < lengths.unsqueeze(1)).unsqueeze(-1)
        x = x.masked_fill(~mask, 0.0).transpose(1, 2)
        pooled = [masked_max(torch.relu(c(x)).transpose(1, 2),
                             torch.arange(tokens.shape[1] + k - 1) < (lengths + k - 1).unsqueeze(1))
                  for k, c in zip(model.kernel_sizes, model.convolutions, strict=True)]
        return model.classifier(torch.cat(pooled, 1))

    assert torch.allclose(through(weight), model(tokens, lengths))
    assert torch.autograd.gradcheck(through, (weight,))


@settings(max_examples=15)
@given(batch=st.integers(1, 3), steps=st.integers(1, 6), classes=st.integers(2, 4),
       pooling=st.sampled_from(["final", "mean", "max"]), bidirectional=st.booleans())
def test_logits_have_one_row_per_sequence(batch, steps, classes, pooling, bidirectional):
    model = RecurrentClassifier(classes, vocab_size=11, embedding_dim=4, hidden_size=3,
                                pooling=pooling, bidirectional=bidirectional)
    tokens = torch.randint(1, 11, (batch, steps))
    lengths = torch.randint(1, steps + 1, (batch,))
    assert model(tokens, lengths).shape == (batch, classes)
    assert ConvTextClassifier(classes, vocab_size=11, embedding_dim=4, channels=2)(tokens, lengths).shape == (batch, classes)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="exactly one of 'vocab_size'"):
        RecurrentClassifier(2)
    with pytest.raises(ValueError, match="argument 'pooling' expected one of"):
        RecurrentClassifier(2, input_size=3, pooling="sum")
    model = RecurrentClassifier(2, vocab_size=10)
    with pytest.raises(TypeError, match="argument 'inputs' expected integer token ids"):
        model(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"argument 'lengths' expected shape \(2,\)"):
        model(torch.ones(2, 3, dtype=torch.long), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="argument 'kernel_sizes'"):
        ConvTextClassifier(2, vocab_size=10, kernel_sizes=())
