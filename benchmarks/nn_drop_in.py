"""convrnn.nn against torch.nn in the scripts it replaces: time per training step, ratio table.

Rows, each timed interleaved with its torch.nn baseline (``_timing.interleaved_ratio``):

- the word language model of pytorch/examples at its defaults (vocabulary 10 000, embedding and
  hidden 200, 2 layers, dropout 0.2, bptt 35, batch 20): one step of embedding → LSTM → linear,
  NLL loss, backward, gradient clipping, SGD, the state carried with ``detach`` — the model
  built once with ``torch.nn`` and once with ``convrnn.nn`` (the one-line change), then with
  convrnn's extras (``peephole``, ``layer_norm``, ``cell="mgu"`` in ``nn.GRU``) against the same
  torch.nn model;
- the recurrent stack alone at that shape (forward + backward of the sum of its outputs);
- the time-sequence prediction loop of pytorch/examples (two ``LSTMCell``s of 51 units over
  200 steps, batch 97), forward + backward, where per-call overhead shows.

    python benchmarks/nn_drop_in.py [--repeats 7] [--threads 2]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn as torch_nn

from _timing import interleaved_ratio, print_table
from convrnn import nn as convrnn_nn

VOCABULARY, EMBEDDING, HIDDEN, LAYERS, BPTT, BATCH = 10_000, 200, 200, 2, 35, 20


class WordModel(torch_nn.Module):
    def __init__(self, rnn: torch_nn.Module) -> None:
        super().__init__()
        self.drop = torch_nn.Dropout(0.2)
        self.encoder = torch_nn.Embedding(VOCABULARY, EMBEDDING)
        self.rnn = rnn
        self.decoder = torch_nn.Linear(HIDDEN, VOCABULARY)

    def forward(self, tokens: torch.Tensor, hidden: object) -> tuple[torch.Tensor, object]:
        output, hidden = self.rnn(self.drop(self.encoder(tokens)), hidden)
        return F.log_softmax(self.decoder(self.drop(output)).view(-1, VOCABULARY), dim=1), hidden


def detach(state: object) -> object:
    return state.detach() if isinstance(state, torch.Tensor) else tuple(detach(s) for s in state)


def word_step(rnn: torch_nn.Module) -> Callable[[], None]:
    torch.manual_seed(0)
    model = WordModel(rnn)
    tokens = torch.randint(0, VOCABULARY, (BPTT + 1, BATCH))
    state: list[object] = [None]

    def step() -> None:
        model.zero_grad()
        output, hidden = model(tokens[:-1], None if state[0] is None else detach(state[0]))
        state[0] = hidden
        F.nll_loss(output, tokens[1:].reshape(-1)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-20)

    return step


def stack_step(rnn: torch_nn.Module) -> Callable[[], None]:
    x = torch.randn(BPTT, BATCH, EMBEDDING)

    def step() -> None:
        rnn.zero_grad()
        rnn(x)[0].sum().backward()

    return step


def cell_loop(nn: object) -> Callable[[], None]:
    torch.manual_seed(0)
    first, second, linear = nn.LSTMCell(1, 51).double(), nn.LSTMCell(51, 51).double(), torch_nn.Linear(51, 1).double()
    inputs = torch.randn(97, 200, dtype=torch.double)

    def step() -> None:
        h = c = h2 = c2 = torch.zeros(97, 51, dtype=torch.double)
        outputs = []
        for x_t in inputs.split(1, dim=1):
            h, c = first(x_t, (h, c))
            h2, c2 = second(h, (h2, c2))
            outputs.append(linear(h2))
        torch.cat(outputs, dim=1).square().mean().backward()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lstm = (EMBEDDING, HIDDEN, LAYERS)
    rows = []
    baseline = word_step(torch_nn.LSTM(*lstm, dropout=0.2))
    for name, rnn in (
        ("word LM step, convrnn.nn.LSTM", convrnn_nn.LSTM(*lstm, dropout=0.2)),
        ("word LM step, LSTM peephole=True", convrnn_nn.LSTM(*lstm, dropout=0.2, peephole=True)),
        ("word LM step, LSTM layer_norm=True", convrnn_nn.LSTM(*lstm, dropout=0.2, layer_norm=True)),
        ("word LM step, GRU cell='mgu'", convrnn_nn.GRU(*lstm, dropout=0.2, cell="mgu")),
    ):
        rows.append((name, *interleaved_ratio(word_step(rnn), baseline, args.repeats)))
    stack_baseline = stack_step(torch_nn.LSTM(*lstm))
    for name, rnn in (("stack alone, convrnn.nn.LSTM", convrnn_nn.LSTM(*lstm)),
                      ("stack alone, LSTM peephole=True", convrnn_nn.LSTM(*lstm, peephole=True))):
        rows.append((name, *interleaved_ratio(stack_step(rnn), stack_baseline, args.repeats)))
    rows.append(("time-series loop, convrnn.nn.LSTMCell",
                 *interleaved_ratio(cell_loop(convrnn_nn), cell_loop(torch_nn), max(3, args.repeats // 2), 1)))
    print_table(f"convrnn.nn / torch.nn per training step (threads: {torch.get_num_threads()})", rows, "torch.nn")


if __name__ == "__main__":
    main()
