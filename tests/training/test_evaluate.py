import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from convrnn.training import Accuracy, evaluate


def test_evaluate_matches_a_whole_data_set_computation(blobs, tiny_model):
    model = tiny_model(dropout=0.5)
    data = blobs(n=30)  # batches of 8, 8, 8, 6: the mean must weight the last one by 6
    model.train()
    scores = evaluate(model, DataLoader(data, batch_size=8), loss=nn.CrossEntropyLoss(),
                      metrics={"accuracy": Accuracy()})
    assert model.training  # mode restored
    inputs, targets = data.tensors
    model.eval()
    with torch.no_grad():
        logits = model(inputs)
    expected_loss = nn.functional.cross_entropy(logits, targets).item()
    expected_accuracy = (logits.argmax(1) == targets).double().mean().item()
    assert scores == {"loss": pytest.approx(expected_loss, rel=1e-6),
                      "accuracy": pytest.approx(expected_accuracy)}


def test_evaluate_batches_a_dataset_only_with_a_batch_size(blobs, tiny_model):
    with pytest.raises(ValueError, match="evaluate: argument 'data' is a Dataset, so 'batch_size' is required"):
        evaluate(tiny_model(), blobs(), loss=nn.CrossEntropyLoss())
    scores = evaluate(tiny_model(), blobs(), loss=nn.CrossEntropyLoss(), batch_size=32)
    assert set(scores) == {"loss"}
