"""The MLP: its layers compute ReLU(W h + b) as written, any batch size, bad arguments are one line."""

import pytest
import torch

from convrnn.models.mlp import MLP


def test_forward_is_the_stack_of_relu_layers_by_hand():
    torch.manual_seed(0)
    model = MLP(5, (4, 3), outputs=2).double().eval()
    x = torch.randn(7, 5, dtype=torch.float64)
    first, second, last = (m for m in model.layers if isinstance(m, torch.nn.Linear))
    h = torch.relu(x @ first.weight.T + first.bias)
    h = torch.relu(h @ second.weight.T + second.bias)
    torch.testing.assert_close(model(x), h @ last.weight.T + last.bias)
    assert MLP(5, ()).eval()(x.float()).shape == (7, 1)   # no hidden layer: a linear model


def test_gradients_match_finite_differences():
    model = MLP(3, (4,), outputs=1).double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(model, (x,))


@pytest.mark.parametrize(("options", "message"), [
    ({"input_size": 0}, "'input_size'"), ({"input_size": 3, "hidden_sizes": (4, 0)}, "'hidden_sizes'"),
    ({"input_size": 3, "dropout": 1.0}, "'dropout'"), ({"input_size": 3, "outputs": 2.0}, "'outputs'"),
])
def test_bad_arguments_are_value_errors(options, message):
    with pytest.raises(ValueError, match=f"MLP: argument {message}"):
        MLP(**options)


def test_input_of_the_wrong_width_is_a_value_error():
    with pytest.raises(ValueError, match=r"MLP: expected input of shape \(N, 3\), got \(2, 4\)"):
        MLP(3)(torch.zeros(2, 4))
