"""export_model writes a model and its contract atomically; ExportedModel runs it back (ONNX in
onnxruntime, .pt2 in torch.export) like the module: same inputs, same nesting of outputs, at
sizes never seen at export; a changed file, a missing contract and wrong inputs are refused in one
line."""

import json

import pytest
import torch
from torch import nn

from convrnn.export import ExportedModel, contract_path, export_model, is_exported, read_contract
from convrnn.layers import LSTM

pytest.importorskip("onnxruntime")


class Tagger(nn.Module):
    """Token ids (N, T) → scores (N, T, 3) and the LSTM's final (h, c): nested outputs."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.rnn = LSTM(4, 5, peephole=True)
        self.out = nn.Linear(5, 3)

    def forward(self, tokens):
        outputs, state = self.rnn(self.embed(tokens))[:2]
        return self.out(outputs), state


@pytest.fixture(scope="module")
def tagger():
    torch.manual_seed(0)
    return Tagger().eval()


@pytest.fixture(scope="module", params=["onnx", "pt2"])
def exported(request, tagger, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / f"tagger.{request.param}"
    contract = export_model(tagger, (torch.ones(2, 6, dtype=torch.long),), path, dynamic={"tokens": ["N", "T"]},
                            names=["tokens"], output_names=["scores", "h", "c"], extra={"labels": ["a", "b", "c"]})
    return path, contract


def test_contract_names_inputs_outputs_their_dynamic_axes_and_the_file_hash(exported):
    path, contract = exported
    assert read_contract(path) == json.loads(contract_path(path).read_text()) == contract
    assert contract["format"] == path.suffix[1:] and contract["file"] == path.name
    assert contract["inputs"] == [{"name": "tokens", "dtype": "int64", "shape": ["N", "T"]}]
    assert [o["name"] for o in contract["outputs"]] == ["scores", "h", "c"]
    assert contract["outputs"][0]["shape"] == [2, 6, 3] and contract["labels"] == ["a", "b", "c"]
    assert is_exported(path) and not is_exported(path.parent)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, path.name + ".json"])  # no temp files


@pytest.mark.parametrize(("batch", "steps"), [(1, 1), (3, 17), (5, 40)])
def test_exported_model_equals_the_module_at_unseen_batch_sizes_and_lengths(exported, tagger, batch, steps):
    path, _ = exported
    model = ExportedModel(path)
    tokens = torch.randint(0, 10, (batch, steps), generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        scores, (h, c) = tagger(tokens)
    got_scores, (got_h, got_c) = model(tokens)   # the same nesting as the module's outputs
    for got, want in [(got_scores, scores), (got_h, h), (got_c, c)]:
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_a_changed_model_file_is_refused(exported, tmp_path):
    path, _ = exported
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes() + b"\0")
    contract_path(copy).write_text(contract_path(path).read_text())
    with pytest.raises(ValueError, match="its SHA-256 is not the one its contract records"):
        ExportedModel(copy)


def test_a_file_without_its_contract_is_refused(exported, tmp_path):
    path, _ = exported
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="has no contract beside it"):
        ExportedModel(copy)
    contract_path(copy).write_text("{}")
    with pytest.raises(ValueError, match="is not a convrnn export contract"):
        ExportedModel(copy)


def test_wrong_inputs_are_refused_naming_the_input(exported):
    path, _ = exported
    model = ExportedModel(path)
    with pytest.raises(ValueError, match=r"input 'tokens' expected a tensor of shape \['N', 'T'\], got \(2, 3, 1\)"):
        model(torch.ones(2, 3, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="structured as at export"):
        model(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))
    if path.suffix == ".onnx":
        with pytest.raises(ValueError, match="input 'tokens' expected dtype int64, got float32"):
            model(torch.ones(2, 3))


def test_minimum_sizes_are_kept_and_checked(tmp_path):
    model = nn.Conv1d(1, 2, 5)    # needs T ≥ 5
    path = tmp_path / "conv.onnx"
    contract = export_model(model, (torch.zeros(2, 1, 9),), path, dynamic={"x": ["N", None, "T"]}, names=["x"],
                            minimums={"T": 5})
    assert contract["minimums"] == {"T": 5}
    loaded = ExportedModel(path)
    x = torch.randn(3, 1, 5)
    torch.testing.assert_close(loaded(x), model(x).detach())
    with pytest.raises(ValueError, match=r"input 'x' expected T ≥ 5 along axis 2, got 4"):
        loaded(torch.randn(3, 1, 4))
    with pytest.raises(ValueError, match=r"axis 1 is fixed at 1"):
        loaded(torch.randn(3, 2, 9))


@pytest.mark.parametrize(("options", "message"), [
    ({"format": "tflite"}, "argument 'format' expected one of ['onnx', 'pt2']"),
    ({"names": ["a", "b"]}, "argument 'names' expected 1 names (one per input tensor), got 2"),
    ({"dynamic": {}}, "argument 'dynamic' expected an entry for every input, missing ['x']"),
    ({"dynamic": {"x": ["N"]}}, "argument 'dynamic' expected 3 entries for an input of shape (2, 1, 9)"),
    ({"minimums": {"S": 3}}, "argument 'minimums' expected names of dynamic axes, got ['S']"),
])
def test_bad_arguments_are_one_clear_error(tmp_path, options, message):
    arguments = {"dynamic": {"x": ["N", None, "T"]}, "names": ["x"], **options}
    with pytest.raises(ValueError, match="export_model: " + message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        export_model(nn.Conv1d(1, 2, 5), (torch.zeros(2, 1, 9),), tmp_path / "m.onnx", **arguments)
    assert list(tmp_path.iterdir()) == []
