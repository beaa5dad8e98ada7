"""Cells over text: features by hand, the finder recovers planted cells, colouring is escaped HTML."""

import numpy as np
import pytest
import torch

from convrnn.inspect.cells import cell_states, color_text, correlations, find_cells, text_features
from convrnn.layers.recurrent import RNN
from convrnn.models.language_model import LanguageModel

TEXT = 'He said "go (now)" and\nleft. "Why?" she (asked).\nNo "more"\n'


def test_features_by_hand():
    f = text_features('a"b"\n(c)d')
    np.testing.assert_array_equal(f["inside quotes"], [0, 1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["position in line"], [0, 1, 2, 3, 4, 0, 1, 2, 3])
    np.testing.assert_array_equal(f["line start"], [1, 0, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(f["inside parentheses"], [0, 0, 0, 0, 0, 1, 1, 0, 0])


def test_finder_recovers_planted_cells_among_random_ones():
    text = TEXT * 8
    rng = np.random.default_rng(0)
    values = rng.normal(size=(len(text), 64))
    features = text_features(text)
    values[:, 17] = np.tanh(2 * features["inside quotes"] - 1) + 0.3 * rng.normal(size=len(text))
    values[:, 40] = -0.1 * features["position in line"] + 0.3 * rng.normal(size=len(text))
    found = find_cells(values, text, top=3)
    assert found["inside quotes"][0].unit == 17 and found["inside quotes"][0].correlation > 0.8
    assert found["position in line"][0].unit == 40 and found["position in line"][0].correlation < -0.8
    assert all(abs(m.correlation) < 0.3 for m in found["inside quotes"][1:])


def test_correlation_is_pearson_and_constant_units_give_zero():
    phi = np.array([0.0, 1.0, 2.0, 4.0])
    values = np.stack([phi * 3 + 1, -phi, np.ones(4), np.array([1.0, 0.0, 1.0, 0.0])], axis=1)
    r = correlations(values, {"x": phi})["x"]
    expected = np.corrcoef(values[:, 3], phi)[0, 1]
    np.testing.assert_allclose(r, [1.0, -1.0, 0.0, expected], atol=1e-12)
    with pytest.raises(ValueError, match="feature 'x' expected shape"):
        correlations(values, {"x": phi[:3]})


def test_cell_states_of_a_language_model_match_its_rnn():
    torch.manual_seed(0)
    model = LanguageModel(12, 6, 5, num_layers=2).eval()
    tokens = torch.randint(0, 12, (9,))
    c = cell_states(model, tokens)
    h = cell_states(model, tokens, component="h")
    assert c.shape == h.shape == (9, 10)
    _, (h_final, c_final) = model.rnn(model.embedding(tokens[None]))
    torch.testing.assert_close(c[-1], c_final[:, 0].flatten())
    torch.testing.assert_close(h[-1], h_final[:, 0].flatten())
    elman = RNN("elman", 3, 4)
    assert cell_states(elman, torch.randn(7, 3)).shape == (7, 4)  # no "c": the output h
    with pytest.raises(TypeError, match="'model' expected an RNN"):
        cell_states(torch.nn.Linear(2, 2), tokens)


def test_color_text_escapes_and_scales():
    page = color_text('<"a', [1.0, -0.5, 0.0])
    assert page.count("<span") == 3 and "&lt;" in page and "&quot;" in page
    assert "rgba(220,40,40,1.00)" in page and "rgba(40,90,220,0.50)" in page
    with pytest.raises(ValueError, match="one value per character"):
        color_text("ab", [1.0])
