"""The tagger: padding never changes a tag, look-ahead L keeps word t blind to words past t + L,
the character CNN matches a naive loop, gradients match finite differences."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.models.tagger import CharacterEncoder, Tagger


def _sentences(lengths, vocab=40, alphabet=15, width=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    batch, steps = len(lengths), max(lengths)
    words = torch.randint(2, vocab, (batch, steps), generator=generator)
    characters = torch.randint(1, alphabet, (batch, steps, width), generator=generator)
    word_lengths = torch.randint(1, width + 1, (batch, steps), generator=generator)
    characters[torch.arange(width) >= word_lengths.unsqueeze(-1)] = 0
    for row, length in enumerate(lengths):
        words[row, length:] = 0
        characters[row, length:] = 0
    return words, characters, torch.tensor(lengths)


@pytest.mark.parametrize("lookahead", [None, 0, 2])
def test_padding_never_changes_a_tag(lookahead):
    model = Tagger(5, vocab_size=40, alphabet_size=15, word_dim=6, char_dim=4, char_channels=3,
                   hidden_size=5, lookahead=lookahead).eval()
    words, characters, lengths = _sentences([6, 2, 4])
    logits = model(words, characters, lengths)
    longer_words = torch.cat([words, torch.full((3, 3), 7)], dim=1)
    longer_chars = torch.cat([characters, torch.zeros(3, 3, 6, dtype=torch.long)], dim=1)
    padded = model(longer_words, longer_chars, lengths)
    for row, length in enumerate(lengths.tolist()):
        assert torch.allclose(padded[row, :length], logits[row, :length], atol=1e-6)
        alone = model(words[row:row + 1, :length], characters[row:row + 1, :length])
        assert torch.allclose(alone[0], logits[row, :length], atol=1e-6)


@pytest.mark.parametrize("lookahead", [0, 1, 2, 4])
def test_the_tag_at_t_never_depends_on_words_past_t_plus_lookahead(lookahead):
    model = Tagger(4, vocab_size=20, alphabet_size=10, word_dim=4, char_dim=3, char_channels=2,
                   hidden_size=3, lookahead=lookahead, dropout=0.0).double()
    steps = 8
    words = torch.randint(2, 20, (1, steps))
    characters = torch.randint(1, 10, (1, steps, 3))
    # the Jacobian of every tag score with respect to every word vector
    vectors = torch.cat([model.words(words), model.characters(characters)], dim=-1).detach()
    vectors.requires_grad_(True)

    def scores(x):
        outputs, _ = model.rnn(x)
        return model.classifier(outputs)[0]

    jacobian = torch.autograd.functional.jacobian(scores, vectors)       # (T, K, 1, T, F)
    reach = jacobian.abs().sum(dim=(1, 2, 4))                             # (T output, T input)
    for t in range(steps):
        for s in range(steps):
            if s > t + lookahead:
                assert reach[t, s] == 0, (t, s)
            else:
                assert reach[t, s] > 0, (t, s)


def test_full_lookahead_sees_the_whole_sentence_and_perturbations_confirm_it():
    model = Tagger(4, vocab_size=20, alphabet_size=10, word_dim=4, char_dim=3, char_channels=2,
                   hidden_size=3, lookahead=1).eval()
    full = Tagger(4, vocab_size=20, alphabet_size=10, word_dim=4, char_dim=3, char_channels=2,
                  hidden_size=3, lookahead=None).eval()
    words, characters, lengths = _sentences([7], vocab=20, alphabet=10)
    changed = words.clone()
    changed[0, 6] = 3 if words[0, 6] != 3 else 4
    before, after = model(words, characters), model(changed, characters)
    assert torch.equal(before[0, :5], after[0, :5])           # t + 1 < 6 for t ≤ 4
    assert not torch.allclose(before[0, 5], after[0, 5])
    assert not torch.allclose(full(words, characters)[0, 0], full(changed, characters)[0, 0])


def test_character_encoder_matches_a_naive_loop():
    encoder = CharacterEncoder(12, embedding_dim=3, channels=2, kernel_size=3).double()
    characters = torch.tensor([[[3, 4, 0, 0], [5, 6, 7, 8], [0, 0, 0, 0]]])
    out = encoder(characters)
    table = encoder.embedding.weight.detach().numpy()
    w = encoder.convolution.weight.detach().numpy()
    b = encoder.convolution.bias.detach().numpy()
    for position, length in enumerate([2, 4, 0]):
        if length == 0:
            assert torch.equal(out[0, position], torch.zeros(2, dtype=torch.float64))
            continue
        e = table[characters[0, position, :length].numpy()]
        padded = np.concatenate([np.zeros((2, 3)), e, np.zeros((2, 3))])
        responses = [np.maximum(np.einsum("cek,ke->c", w, padded[j:j + 3]) + b, 0) for j in range(length + 2)]
        np.testing.assert_allclose(out[0, position].detach().numpy(), np.max(responses, axis=0), atol=1e-12)


def test_tagger_gradients_match_finite_differences():
    model = Tagger(3, vocab_size=10, alphabet_size=8, word_dim=3, char_dim=2, char_channels=2,
                   hidden_size=2, lookahead=1, dropout=0.0).double()
    words, characters, lengths = _sentences([4, 2], vocab=10, alphabet=8, width=3)
    x = torch.randn(2, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: model.classifier(model.rnn(x, lengths)[0]), (x,))
    table = torch.randn(8, 2, dtype=torch.float64, requires_grad=True)

    def through_characters(table):
        model.characters.embedding.weight.data.copy_(table.detach())
        flat = characters.reshape(-1, 3)
        real = flat != 0
        e = torch.nn.functional.embedding(flat, table).masked_fill(~real.unsqueeze(-1), 0).transpose(1, 2)
        responses = torch.relu(model.characters.convolution(e)).transpose(1, 2)
        windows = torch.arange(5) < (real.sum(1) + 2).unsqueeze(1)
        pooled = responses.masked_fill(~windows.unsqueeze(-1), float("-inf")).amax(1)
        return pooled.masked_fill((real.sum(1) == 0).unsqueeze(1), 0.0)

    assert torch.allclose(through_characters(table), model.characters(characters).reshape(-1, 2))
    assert torch.autograd.gradcheck(through_characters, (table,))


@settings(max_examples=10)
@given(batch=st.integers(1, 3), steps=st.integers(1, 5), width=st.integers(1, 4),
       lookahead=st.sampled_from([None, 0, 1, 3]), char_channels=st.sampled_from([0, 2]))
def test_one_score_row_per_word(batch, steps, width, lookahead, char_channels):
    model = Tagger(6, vocab_size=9, alphabet_size=5, word_dim=3, char_dim=2, char_channels=char_channels,
                   hidden_size=2, lookahead=lookahead)
    words = torch.randint(1, 9, (batch, steps))
    characters = torch.randint(1, 5, (batch, steps, width))
    assert model(words, characters, torch.randint(1, steps + 1, (batch,))).shape == (batch, steps, 6)


def test_bad_input_names_the_argument():
    model = Tagger(3, vocab_size=10, alphabet_size=5)
    with pytest.raises(ValueError, match="argument 'characters' expected shape"):
        model(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="argument 'words' expected a 2-d tensor"):
        model(torch.ones(3, dtype=torch.long))
    with pytest.raises(TypeError, match=r"argument 'words' expected int64 \(or int32\) ids, got torch\.float32"):
        model(torch.ones(2, 3), torch.ones(2, 3, 2, dtype=torch.long))
    with pytest.raises(TypeError, match=r"argument 'characters' expected int64 \(or int32\) ids, got torch\.float32"):
        model(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, 2))


def test_a_chunk_of_no_words_gives_no_rows():
    model = Tagger(3, vocab_size=10, alphabet_size=5, lookahead=1).eval()
    assert model.word_features(torch.ones(2, 0, dtype=torch.long), torch.ones(2, 0, 4, dtype=torch.long)).shape \
        == (2, 0, model.rnn.input_size)
