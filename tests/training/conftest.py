"""Tiny models and data sets shared by the training tests, as factory fixtures."""

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset


def _blobs(n: int = 96, features: int = 4, classes: int = 3, seed: int = 0) -> TensorDataset:
    """Gaussian blobs around class centres fixed for every seed: learnable in a few steps."""
    centres = torch.randn(classes, features, generator=torch.Generator().manual_seed(0)) * 3
    generator = torch.Generator().manual_seed(seed + 1)  # the samples; the centres stay fixed
    targets = torch.arange(n) % classes
    inputs = centres[targets] + torch.randn(n, features, generator=generator)
    return TensorDataset(inputs, targets)


def _tiny_model(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(dropout), nn.Linear(8, 3))


@pytest.fixture
def blobs():
    return _blobs


@pytest.fixture
def tiny_model():
    return _tiny_model


@pytest.fixture(autouse=True)
def _one_thread():
    """The machine is shared: keep each test on one core and restore the setting after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
