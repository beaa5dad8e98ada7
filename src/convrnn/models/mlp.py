"""A multilayer perceptron over feature vectors (tabular data: one transaction, one row)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class MLP(nn.Module):
    """``x: (N, F) → logits: (N, outputs)`` through hidden layers
    h_k = dropout(ReLU(W_k h_{k−1} + b_k)), h_0 = x, then a linear output layer.

    Args:
        input_size: F, the features per row.
        hidden_sizes: the width of each hidden layer, input side first (empty: a linear model).
        outputs: the logits per row (1 for a binary decision: its logit).
        dropout: the probability of zeroing a hidden unit in training.
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int] = (64, 64), outputs: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("outputs", outputs), *(("hidden_sizes", h)
                                                                                 for h in hidden_sizes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MLP: argument '{name}' expected positive integers, got {value!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"MLP: argument 'dropout' expected a probability in [0, 1), got {dropout}")
        self.input_size = input_size
        layers: list[nn.Module] = []
        width = input_size
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"MLP: expected input of shape (N, {self.input_size}), got {tuple(x.shape)}")
        return self.layers(x)
