"""Saving convrnn.nn modules the documented ways: state dicts with torch.save (both ways with
torch.nn), convrnn's safetensors files, whole pickles under weights_only with the classes the
caller allows — and torch's allow-list left as it was. Plus the namespace: every other name is
torch.nn's."""

import pickle

import pytest
import torch
from torch import nn as torch_nn

import convrnn.nn
from convrnn import nn as convrnn_nn
from convrnn.training import load_model_weights, save_model


def test_state_dict_files_load_into_torch_and_back(tmp_path):
    ours = convrnn_nn.LSTM(3, 4, num_layers=2, bidirectional=True).eval()
    torch.save(ours.state_dict(), tmp_path / "lstm.pt")
    theirs = torch_nn.LSTM(3, 4, num_layers=2, bidirectional=True).eval()
    theirs.load_state_dict(torch.load(tmp_path / "lstm.pt", weights_only=True))
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(theirs(x)[0], ours(x)[0], rtol=0, atol=0)
    torch.save(torch_nn.GRU(3, 4).state_dict(), tmp_path / "gru.pt")
    gru = convrnn_nn.GRU(3, 4)
    gru.load_state_dict(torch.load(tmp_path / "gru.pt", weights_only=True))


def test_convrnn_safetensors_files_hold_torchs_keys(tmp_path):
    """A model of torch.nn modules and a convrnn.nn LSTM, saved by convrnn.training.save_model
    (safetensors + JSON, atomic), loads into the same model built on torch.nn."""
    def model(nn):
        return torch_nn.Sequential(nn.Linear(3, 3), nn.LSTM(3, 4, batch_first=True))

    ours = model(convrnn_nn)
    save_model(tmp_path / "model", ours, config={"kind": "lstm"})
    theirs = model(torch_nn)
    assert load_model_weights(tmp_path / "model", theirs) == {"kind": "lstm"}
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(theirs(x)[0], ours(x)[0], rtol=0, atol=0)
    assert load_model_weights(tmp_path / "model", model(convrnn_nn)) == {"kind": "lstm"}


@pytest.mark.parametrize("build", [
    lambda: convrnn_nn.LSTM(3, 4, num_layers=2, peephole=True, bias=False),
    lambda: convrnn_nn.GRU(3, 4, cell="mingru"),
    lambda: convrnn_nn.LSTMCell(3, 4, layer_norm=True),
], ids=["LSTM peephole", "GRU MinGRU", "LSTMCell layer norm"])
def test_whole_pickles_load_with_weights_only_once_the_caller_allows_the_classes(tmp_path, build):
    module = build()
    torch.save(module, tmp_path / "module.pt")
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        torch.load(tmp_path / "module.pt", weights_only=True)   # torch's refusal stands
    with torch.serialization.safe_globals(convrnn.nn.safe_globals()):
        loaded = torch.load(tmp_path / "module.pt", weights_only=True)
    assert not set(convrnn.nn.safe_globals()) & set(torch.serialization.get_safe_globals())   # allowed only inside
    x = torch.randn(2, 3) if isinstance(module, convrnn_nn.LSTMCell) else torch.randn(5, 2, 3)
    expected, got = module(x), loaded(x)
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=0)


def test_importing_convrnn_leaves_torchs_allow_list_alone():
    assert not set(convrnn.nn.safe_globals()) & set(torch.serialization.get_safe_globals())


def test_every_other_name_is_torch_nns():
    assert convrnn_nn.Linear is torch_nn.Linear and convrnn_nn.Module is torch_nn.Module
    assert convrnn_nn.functional is torch_nn.functional and convrnn_nn.utils.rnn is torch_nn.utils.rnn
    assert convrnn_nn.LSTM is not torch_nn.LSTM and "Embedding" in dir(convrnn_nn) and "LSTMCell" in dir(convrnn_nn)
    from convrnn.nn import Dropout, LSTMCell  # from-imports reach both
    assert Dropout is torch_nn.Dropout and LSTMCell is convrnn_nn.LSTMCell
    with pytest.raises(AttributeError, match=r"module 'convrnn.nn' has no attribute 'LSTMM' \(nor has torch.nn\)"):
        convrnn_nn.LSTMM  # noqa: B018
