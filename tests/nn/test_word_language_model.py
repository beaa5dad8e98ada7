"""A torch-style word language model (pytorch/examples' word_language_model, made small) written
once against a namespace ``nn``: trained with ``import torch.nn as nn`` and with
``from convrnn import nn`` under one seed, the losses are the same; with ``peephole=True`` it
trains too."""

import math

import torch
import torch.nn.functional as F
from torch import nn as torch_nn

from convrnn import nn as convrnn_nn

VOCABULARY, BATCH, BPTT, STEPS = 40, 6, 8, 50


class RNNModel(torch_nn.Module):
    """Encoder, a recurrent stack, a decoder — as pytorch/examples writes it, with ``nn`` passed in."""

    def __init__(self, nn, ntoken, ninp, nhid, nlayers, dropout=0.2, **rnn_options):
        super().__init__()
        self.ntoken, self.nhid, self.nlayers = ntoken, nhid, nlayers
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout, **rnn_options)
        self.decoder = nn.Linear(nhid, ntoken)
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def corpus(length=600):
    """Token ids with structure to learn: each word follows from the one before (w' = 7w + 3 mod V)."""
    words = [0]
    for _ in range(length - 1):
        words.append((7 * words[-1] + 3) % VOCABULARY)
    data = torch.tensor(words)
    columns = data.size(0) // BATCH
    return data[:columns * BATCH].view(BATCH, -1).t().contiguous()    # batchify: (T, BATCH)


def train(nn, **rnn_options):
    torch.manual_seed(1111)
    model = RNNModel(nn, VOCABULARY, 32, 32, 2, dropout=0.2, **rnn_options)
    criterion = nn.NLLLoss()
    train_data = corpus()
    lr, clip = 5.0, 1.0
    model.train()
    hidden = model.init_hidden(BATCH)
    losses = []
    for step in range(STEPS):
        i = (step * BPTT) % (train_data.size(0) - 1 - BPTT)
        data, targets = train_data[i:i + BPTT], train_data[i + 1:i + 1 + BPTT].reshape(-1)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
    return torch.tensor(losses)


def test_word_language_model_trains_to_the_same_losses_with_one_import_changed(one_thread):
    expected = train(torch_nn)
    got = train(convrnn_nn)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert expected[-10:].mean() < expected[:10].mean() - 0.3   # it learns: the comparison is not of noise


def test_word_language_model_with_peepholes_trains(one_thread):
    losses = train(convrnn_nn, peephole=True)
    assert torch.isfinite(losses).all()
    assert abs(losses[0] - math.log(VOCABULARY)) < 0.2 and losses[-10:].mean() < losses[:10].mean() - 0.3
