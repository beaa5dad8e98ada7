"""Many → one classifiers: padding never changes a prediction; each is checked against an
independent reference (torch.nn.LSTM on packed sequences, a naive loop for the CNN, a by-hand
average of probabilities for the ensemble); the multichannel CNN's static channel never trains."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from convrnn.models.sequence_classifier import (
    ConvTextClassifier,
    EnsembleClassifier,
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


@pytest.mark.parametrize("pooling", ["final", "mean", "max", "max+mean"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_never_changes_a_recurrent_prediction(pooling, cell):
    model = RecurrentClassifier(4, vocab_size=30, embedding_dim=8, hidden_size=6, num_layers=2,
                                cell=cell, pooling=pooling, multichannel=pooling == "max+mean").eval()
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


@pytest.mark.parametrize("multichannel", [False, True])
@pytest.mark.parametrize("lengths", [[5, 1, 3], [2, 2]])
def test_padding_never_changes_a_convolutional_prediction(lengths, multichannel):
    model = ConvTextClassifier(3, vocab_size=30, embedding_dim=6, channels=4, kernel_sizes=(2, 3, 5),
                               multichannel=multichannel).eval()
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


@pytest.mark.parametrize("multichannel", [False, True])
def test_max_plus_mean_pooling_concatenates_the_max_and_the_mean_of_the_real_steps(multichannel):
    model = RecurrentClassifier(2, vocab_size=20, embedding_dim=4, hidden_size=3, pooling="max+mean",
                                multichannel=multichannel).double().eval()
    if multichannel:
        with torch.no_grad():
            model.static_embedding.weight[1:].normal_()
    tokens, lengths = _tokens([5, 2, 4], vocab=20)
    words = model.embedding(tokens) + (model.static_embedding(tokens) if multichannel else 0)  # E[w] + S[w]
    outputs, _ = model.rnn(words, lengths)                                          # (N, T, 2H)
    for row, length in enumerate(lengths.tolist()):
        real = outputs[row, :length]
        expected = model.classifier(torch.cat([real.amax(0), real.mean(0)]))
        torch.testing.assert_close(model(tokens, lengths)[row], expected)


@pytest.mark.parametrize("multichannel", [False, True])
def test_conv_classifier_matches_a_naive_loop(multichannel):
    model = ConvTextClassifier(2, vocab_size=20, embedding_dim=3, channels=2, kernel_sizes=(2, 4),
                               multichannel=multichannel).double().eval()
    tokens, lengths = _tokens([3, 6], vocab=20)
    embedding = model.embedding.weight.detach().numpy()
    channels = [embedding]
    if multichannel:
        with torch.no_grad():  # a static channel unlike the tuned one, so a mix-up would show
            model.static_embedding.weight[1:].normal_()
        channels.append(model.static_embedding.weight.detach().numpy())
    for row, length in enumerate(lengths.tolist()):
        words = tokens[row, :length].numpy()
        features = []
        for k, convolution in zip(model.kernel_sizes, model.convolutions, strict=True):
            w = convolution.weight.detach().numpy()                       # (C, E, k)
            b = convolution.bias.detach().numpy()
            # Kim's multichannel: each filter reads every channel and the responses add, bias once
            padded = [np.concatenate([np.zeros((k - 1, 3)), c[words], np.zeros((k - 1, 3))]) for c in channels]
            responses = [np.maximum(sum(np.einsum("cek,ke->c", w, p[j:j + k]) for p in padded) + b, 0)
                         for j in range(length + k - 1)]
            features.append(np.max(responses, axis=0))
        z = np.concatenate(features)
        expected = model.classifier.weight.detach().numpy() @ z + model.classifier.bias.detach().numpy()
        np.testing.assert_allclose(model(tokens, lengths)[row].detach().numpy(), expected, atol=1e-10)


@pytest.mark.parametrize("kind", [ConvTextClassifier, RecurrentClassifier])
def test_multichannel_training_never_changes_the_static_channel(kind):
    model = kind(2, vocab_size=12, embedding_dim=4, multichannel=True)
    torch.testing.assert_close(model.static_embedding.weight, model.embedding.weight)  # starts as a copy
    static, tuned = model.static_embedding.weight.detach().clone(), model.embedding.weight.detach().clone()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1, weight_decay=0.1)
    tokens, lengths = _tokens([4, 3, 2], vocab=12)
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(tokens, lengths), torch.tensor([0, 1, 1])).backward()
        assert model.static_embedding.weight.grad is None
        optimizer.step()
    assert torch.equal(model.static_embedding.weight, static)
    assert not torch.allclose(model.embedding.weight[tokens.unique()[1:]], tuned[tokens.unique()[1:]])
    assert "static_embedding.weight" in model.state_dict()  # saved with the model


@pytest.mark.parametrize("member", ["conv-text-classifier", "recurrent-classifier"])
def test_an_ensemble_averages_its_members_probabilities(member):
    options = {"num_classes": 3, "vocab_size": 15, "embedding_dim": 4}
    options |= {"channels": 2, "kernel_sizes": (2,)} if member == "conv-text-classifier" else {"hidden_size": 3}
    ensemble = EnsembleClassifier(member, 3, options).double().eval()
    tokens, lengths = _tokens([4, 1, 3], vocab=15)
    probabilities = [torch.softmax(m(tokens, lengths), -1).detach().numpy() for m in ensemble.members]
    expected = (probabilities[0] + probabilities[1] + probabilities[2]) / 3
    np.testing.assert_allclose(torch.exp(ensemble(tokens, lengths)).detach().numpy(), expected, atol=1e-12)
    assert not np.allclose(probabilities[0], probabilities[1])  # members start apart
    padded = _pad(tokens, 3)
    assert torch.allclose(ensemble(padded, lengths), ensemble(tokens, lengths), atol=1e-10)


def test_an_ensemble_of_one_gives_its_members_log_probabilities():
    ensemble = EnsembleClassifier("conv-text-classifier", 1, {"num_classes": 2, "vocab_size": 9}).eval()
    tokens, lengths = _tokens([3, 5], vocab=9)
    torch.testing.assert_close(ensemble(tokens, lengths), torch.log_softmax(ensemble.members[0](tokens, lengths), -1))


def test_masked_pooling_matches_a_loop():
    values = torch.randn(3, 5, 2, dtype=torch.float64)
    mask = torch.arange(5) < torch.tensor([5, 1, 3]).unsqueeze(1)
    for row, length in enumerate([5, 1, 3]):
        assert torch.allclose(masked_mean(values, mask)[row], values[row, :length].mean(0))
        assert torch.allclose(masked_max(values, mask)[row], values[row, :length].amax(0))


@pytest.mark.parametrize("pooling", ["final", "mean", "max", "max+mean"])
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
       pooling=st.sampled_from(["final", "mean", "max", "max+mean"]), bidirectional=st.booleans(),
       multichannel=st.booleans())
def test_logits_have_one_row_per_sequence(batch, steps, classes, pooling, bidirectional, multichannel):
    model = RecurrentClassifier(classes, vocab_size=11, embedding_dim=4, hidden_size=3,
                                pooling=pooling, bidirectional=bidirectional)
    tokens = torch.randint(1, 11, (batch, steps))
    lengths = torch.randint(1, steps + 1, (batch,))
    assert model(tokens, lengths).shape == (batch, classes)
    conv = ConvTextClassifier(classes, vocab_size=11, embedding_dim=4, channels=2, multichannel=multichannel)
    assert conv(tokens, lengths).shape == (batch, classes)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="exactly one of 'vocab_size'"):
        RecurrentClassifier(2)
    with pytest.raises(ValueError, match="argument 'pooling' expected one of"):
        RecurrentClassifier(2, input_size=3, pooling="sum")
    with pytest.raises(ValueError, match="argument 'multichannel' expected False for feature input"):
        RecurrentClassifier(2, input_size=3, multichannel=True)
    model = RecurrentClassifier(2, vocab_size=10)
    with pytest.raises(TypeError, match="argument 'inputs' expected integer token ids"):
        model(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"argument 'lengths' expected shape \(2,\)"):
        model(torch.ones(2, 3, dtype=torch.long), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="argument 'kernel_sizes'"):
        ConvTextClassifier(2, vocab_size=10, kernel_sizes=())
    with pytest.raises(ValueError, match="argument 'member' expected one of"):
        EnsembleClassifier("bag-of-words", 2, {"num_classes": 2, "vocab_size": 10})
    with pytest.raises(ValueError, match="argument 'members' expected an int ≥ 1, got 0"):
        EnsembleClassifier("conv-text-classifier", 0, {"num_classes": 2, "vocab_size": 10})
