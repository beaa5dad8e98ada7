"""The encoder–decoder: any cell, padding-invariant, beam 1 = greedy, a beam search that returns
what a brute-force search finds, and a 20-word dictionary learned to 100 %."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from convrnn.data.g2p import G2PCollate
from convrnn.layers.recurrent.cells import GRUCell
from convrnn.models.seq2seq import Seq2Seq

PAD, BOS, EOS = 0, 2, 3


def _batch(batch=4, steps=6, targets=5, source_vocabulary=12, target_vocabulary=9):
    inputs = torch.randint(4, source_vocabulary, (batch, steps))
    lengths = torch.randint(1, steps + 1, (batch,))
    lengths[0] = steps
    inputs = inputs.masked_fill(torch.arange(steps) >= lengths.unsqueeze(1), PAD)
    decoder_inputs = torch.randint(4, target_vocabulary, (batch, targets))
    decoder_inputs[:, 0] = BOS
    return inputs, lengths, decoder_inputs


@pytest.mark.parametrize("cell", ["lstm", "gru", "mgu", "elman", "jordan", GRUCell])
@pytest.mark.parametrize(("attention", "input_feeding"), [("dot", True), ("additive", False)])
def test_every_cell_runs_and_padding_never_changes_the_outputs(cell, attention, input_feeding):
    model = Seq2Seq(12, 9, embedding_size=8, hidden_size=6, decoder_size=10, cell=cell, attention=attention,
                    input_feeding=input_feeding).eval()
    inputs, lengths, decoder_inputs = _batch()
    logits, weights = model(inputs, lengths, decoder_inputs, return_attention=True)
    assert logits.shape == (4, 5, 9) and weights.shape == (4, 5, 6)
    for i, length in enumerate(lengths.tolist()):
        assert torch.all(weights[i, :, length:] == 0)
        torch.testing.assert_close(weights[i].sum(-1), torch.ones(5))
        alone = model(inputs[i:i + 1, :length], lengths[i:i + 1], decoder_inputs[i:i + 1])
        torch.testing.assert_close(alone[0], logits[i], rtol=1e-5, atol=1e-5)
        # what the padded positions hold does not matter either
    noisy = inputs.clone()
    noisy[torch.arange(6) >= lengths.unsqueeze(1)] = 7
    torch.testing.assert_close(model(noisy, lengths, decoder_inputs), logits)


@pytest.mark.parametrize("input_feeding", [True, False])
def test_gradients_reach_every_parameter(input_feeding):
    model = Seq2Seq(12, 9, embedding_size=8, hidden_size=6, attention="additive", input_feeding=input_feeding)
    inputs, lengths, decoder_inputs = _batch()
    model(inputs, lengths, decoder_inputs).sum().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


@pytest.mark.parametrize(("cell", "input_feeding"), [("lstm", True), ("lstm", False), ("gru", True)])
def test_beam_of_one_is_greedy(cell, input_feeding):
    torch.manual_seed(3)
    model = Seq2Seq(12, 9, embedding_size=8, hidden_size=6, cell=cell, input_feeding=input_feeding).eval()
    inputs, lengths, _ = _batch(batch=8)
    greedy = model.greedy(inputs, lengths, max_length=7)
    beam = model.beam_search(inputs, lengths, beam=1, max_length=7)
    torch.testing.assert_close(beam.sequences, greedy.sequences)
    torch.testing.assert_close(beam.lengths, greedy.lengths)
    torch.testing.assert_close(beam.scores, greedy.scores)
    torch.testing.assert_close(beam.attention, greedy.attention)


def test_batched_beam_search_equals_decoding_each_source_alone():
    torch.manual_seed(4)
    model = Seq2Seq(12, 9, embedding_size=8, hidden_size=6, attention="additive").eval()
    inputs, lengths, _ = _batch(batch=5)
    together = model.beam_search(inputs, lengths, beam=3, max_length=6)
    for i, length in enumerate(lengths.tolist()):
        alone = model.beam_search(inputs[i:i + 1, :length], lengths[i:i + 1], beam=3, max_length=6)
        torch.testing.assert_close(alone.sequences[0], together.sequences[i])
        torch.testing.assert_close(alone.scores[0], together.scores[i], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(alone.attention[0], together.attention[i, ..., :length], rtol=1e-5, atol=1e-6)
        assert torch.all(together.attention[i, ..., length:] == 0)


def _log_probability(model, inputs, lengths, tokens):
    """log p(tokens, <eos> | x) by teacher forcing (an independent path from the decoders)."""
    target = [*tokens, EOS]
    with torch.no_grad():
        logits = model(inputs, lengths, torch.tensor([[BOS, *tokens]]))
    return float(F.log_softmax(logits[0], -1)[torch.arange(len(target)), torch.tensor(target)].sum())


def test_beam_search_finds_what_brute_force_finds_with_teacher_forced_scores():
    torch.manual_seed(5)
    model = Seq2Seq(8, 6, embedding_size=6, hidden_size=5, dropout=0.0).eval()
    with torch.no_grad():
        model.output.weight.mul_(4)  # a peaked output, so sequences end at different lengths
    inputs, lengths = torch.tensor([[4, 5, 6]]), torch.tensor([3])
    # a beam of 6³ keeps every prefix of ≤ 3 tokens: exact search over sequences of ≤ 2 tokens + <eos>
    wide = model.beam_search(inputs, lengths, beam=216, max_length=3)
    assert torch.all(wide.scores[0, :-1] >= wide.scores[0, 1:])  # best first
    ended = [b for b in range(216) if int(wide.lengths[0, b]) < wide.sequences.shape[-1]
             and torch.isfinite(wide.scores[0, b])]
    assert ended
    for b in ended[:20]:
        tokens = wide.sequences[0, b, :int(wide.lengths[0, b])].tolist()
        assert abs(_log_probability(model, inputs, lengths, tokens) - float(wide.scores[0, b])) < 1e-4
    symbols = [t for t in range(6) if t != EOS]
    candidates = [list(c) for n in range(3) for c in itertools.product(symbols, repeat=n)]
    best = max(candidates, key=lambda c: _log_probability(model, inputs, lengths, c))
    assert wide.sequences[0, ended[0], :int(wide.lengths[0, ended[0]])].tolist() == best
    # a narrow beam's best is never better than the exact best
    narrow = model.beam_search(inputs, lengths, beam=2, max_length=3)
    assert float(narrow.scores[0, 0]) <= float(wide.scores[0, 0]) + 1e-6


def test_an_encoder_decoder_learns_a_20_word_dictionary_to_100_percent():
    torch.manual_seed(0)
    words = ["cat", "dog", "bird", "fish", "cow", "pig", "hen", "owl", "bee", "ant",
             "fox", "elk", "yak", "emu", "bat", "rat", "eel", "gnu", "ape", "koi"]
    pronunciations = [["K", "AE", "T"], ["D", "AO", "G"], ["B", "ER", "D"], ["F", "IH", "SH"], ["K", "AW"],
                      ["P", "IH", "G"], ["HH", "EH", "N"], ["AW", "L"], ["B", "IY"], ["AE", "N", "T"],
                      ["F", "AA", "K", "S"], ["EH", "L", "K"], ["Y", "AE", "K"], ["IY", "M", "UW"], ["B", "AE", "T"],
                      ["R", "AE", "T"], ["IY", "L"], ["N", "UW"], ["EY", "P"], ["K", "OY"]]
    letters = sorted({c for w in words for c in w})
    phonemes = sorted({p for ps in pronunciations for p in ps})
    letter_id = {c: i + 4 for i, c in enumerate(letters)}
    phoneme_id = {p: i + 4 for i, p in enumerate(phonemes)}
    examples = [([letter_id[c] for c in w], [phoneme_id[p] for p in ps]) for w, ps in zip(words, pronunciations)]
    batch = G2PCollate()(examples)
    model = Seq2Seq(len(letters) + 4, len(phonemes) + 4, embedding_size=16, hidden_size=32, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        logits = model(batch["inputs"], batch["lengths"], batch["decoder_inputs"])
        loss = F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    for decoded in (model.greedy(batch["inputs"], batch["lengths"]),
                    model.beam_search(batch["inputs"], batch["lengths"], beam=3)):
        found = [decoded.sequences[i, 0, :int(decoded.lengths[i, 0])].tolist() for i in range(20)]
        assert found == [target for _, target in examples]


def test_bad_arguments_name_themselves():
    model = Seq2Seq(12, 9, embedding_size=8, hidden_size=6)
    inputs, lengths, decoder_inputs = _batch()
    with pytest.raises(ValueError, match="'decoder_inputs' expected"):
        model(inputs, lengths)
    with pytest.raises(ValueError, match="'decoder_inputs' expected N=4"):
        model(inputs, lengths, decoder_inputs[:2])
    with pytest.raises(TypeError, match="'inputs' expected integer token ids"):
        model(inputs.float(), lengths, decoder_inputs)
    with pytest.raises(ValueError, match="'lengths' expected values in"):
        model(inputs, lengths * 0, decoder_inputs)
    with pytest.raises(ValueError, match="'beam' expected an int ≥ 1"):
        model.beam_search(inputs, lengths, beam=0)
    with pytest.raises(ValueError, match="'max_length' expected"):
        model.greedy(inputs, lengths, max_length=0)
    with pytest.raises(ValueError, match="'eos_index' expected an id in"):
        Seq2Seq(12, 9, eos_index=9)
    with pytest.raises(ValueError, match="'hidden_size' expected a positive int"):
        Seq2Seq(12, 9, hidden_size=0)
