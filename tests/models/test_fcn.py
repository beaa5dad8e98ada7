"""The FCN: one score vector per input pixel for any image size, the same function as a network
written with torch's own layers and weights copied, and shift-equivariant away from the borders."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.models.fcn import FCN


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 70), st.integers(1, 70))
def test_output_has_the_input_spatial_shape_for_any_size(height, width):
    model = FCN(channels=(4, 6, 8, 10), num_classes=5).eval()
    assert model(torch.rand(2, 1, height, width)).shape == (2, 5, height, width)


@pytest.mark.parametrize("size", [(64, 64), (37, 50), (63, 65), (9, 17)])
def test_sizes_that_are_not_multiples_of_the_total_stride_come_back_whole(size):
    model = FCN(channels=(4, 6, 8, 10), num_classes=3)
    assert model(torch.rand(1, 1, *size)).shape == (1, 3, *size)


def reference_forward(model: FCN, x: torch.Tensor) -> torch.Tensor:
    """The FCN's equations written with torch.nn.functional and the model's weights."""

    def conv_bn_relu(block, z):
        conv, bn = block[0], block[1]
        z = F.conv2d(z, conv.weight, None, conv.stride, 1)
        return F.relu(F.batch_norm(z, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))

    def convs(sequence, z):
        for block in sequence:
            z = conv_bn_relu(block, z)
        return z

    skips = [conv_bn_relu(model.stem, x)]
    for down in model.down:
        skips.append(convs(down[1], conv_bn_relu(down[0], skips[-1])))
    y = skips.pop()
    for up, fuse in zip(model.up, model.fuse, strict=True):
        skip = skips.pop()
        upsampled = F.conv_transpose2d(y, up.weight, None, 2, 1)        # (n − 1)·2 − 2 + 3 = 2n − 1
        extra = [s - u for s, u in zip(skip.shape[-2:], upsampled.shape[-2:], strict=True)]
        upsampled = F.conv_transpose2d(y, up.weight, None, 2, 1, output_padding=extra)
        bn = fuse[0]
        z = F.relu(F.batch_norm(upsampled + skip, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                                False, 0.0, bn.eps))
        y = convs(fuse[2], z)
    return F.conv2d(y, model.head.weight, model.head.bias)


@pytest.mark.parametrize("size", [(32, 32), (29, 35)])
def test_forward_matches_torch_functional_with_the_same_weights(size):
    torch.manual_seed(0)
    model = FCN(channels=(4, 8, 8), num_classes=4, convs_per_scale=2).double()
    for module in model.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.rand(2, 1, *size, dtype=torch.float64)
    torch.testing.assert_close(model(x), reference_forward(model, x))


def test_shifting_the_input_by_the_total_stride_shifts_the_scores_away_from_the_borders():
    torch.manual_seed(0)
    model = FCN(channels=(4, 6, 8), num_classes=3).double().eval()
    x = torch.zeros(1, 1, 160, 160, dtype=torch.float64)
    x[..., 60:100, 60:100] = torch.rand(40, 40, dtype=torch.float64)
    shifted = torch.roll(x, shifts=(4, 8), dims=(2, 3))   # multiples of 2² = the total stride
    y, y_shifted = model(x), model(shifted)
    torch.testing.assert_close(y_shifted[..., 64:96, 64:96], y[..., 60:92, 56:88])


def test_a_gradient_reaches_every_parameter_through_the_skips_and_the_bottom():
    model = FCN(channels=(4, 6, 8), num_classes=3)
    model(torch.rand(2, 1, 20, 20)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: FCN(channels=(8,)), "argument 'channels' expected at least two ints ≥ 1"),
        (lambda: FCN(num_classes=0), "argument 'num_classes' expected an int ≥ 1, got 0"),
        (lambda: FCN(in_channels=1)(torch.rand(1, 3, 16, 16)), "argument 'x' expected 1 channels"),
        (lambda: FCN()(torch.rand(1, 16, 16)), "argument 'x' expected a 4-d tensor"),
    ],
)
def test_bad_input_names_the_argument(build, message):
    with pytest.raises((ValueError, TypeError)) as error:
        build()
    assert message in str(error.value)
