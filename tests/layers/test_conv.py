"""Conv/ConvTranspose layers: agreement with torch.nn, the seeds' channel variants, init, trace/ONNX/compile."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from convrnn.functional import conv
from convrnn.layers import (
    Conv,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose,
    ConvTranspose2d,
    SeparableConv,
    SharedFilterConv,
)


@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (Conv1d(3, 5, 4, stride=2, padding=1), nn.Conv1d(3, 5, 4, stride=2, padding=1), (2, 3, 11)),
        (Conv2d(4, 6, (3, 2), dilation=(1, 2), groups=2, padding=(1, 2)),
         nn.Conv2d(4, 6, (3, 2), dilation=(1, 2), groups=2, padding=(1, 2)), (2, 4, 7, 8)),
        (Conv3d(2, 3, 3, padding="same", bias=False), nn.Conv3d(2, 3, 3, padding="same", bias=False), (1, 2, 5, 4, 6)),
        (Conv2d(3, 4, 3, boundary="circular", padding=1),
         nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"), (2, 3, 6, 5)),
        (Conv2d(3, 4, 3, boundary="reflect", padding=1),
         nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), (2, 3, 6, 5)),
        (Conv2d(3, 4, 3, boundary="neumann", padding=1),
         nn.Conv2d(3, 4, 3, padding=1, padding_mode="replicate"), (2, 3, 6, 5)),
    ],
)
def test_conv_equals_torch_nn_with_copied_weights(ours, theirs, shape):
    ours, theirs = ours.double(), theirs.double()
    with torch.no_grad():
        ours.weight.copy_(theirs.weight)
        if theirs.bias is not None:
            ours.bias.copy_(theirs.bias)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    y_ours, y_theirs = ours(x), theirs(x)
    torch.testing.assert_close(y_ours, y_theirs)
    g = torch.randn_like(y_ours)
    (gx_ours, gw_ours) = torch.autograd.grad(y_ours, (x, ours.weight), g)
    (gx_theirs, gw_theirs) = torch.autograd.grad(y_theirs, (x, theirs.weight), g)
    torch.testing.assert_close(gx_ours, gx_theirs)
    torch.testing.assert_close(gw_ours, gw_theirs)


def test_conv_transpose_equals_torch_nn():
    ours = ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1, groups=2).double()
    theirs = nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1, groups=2).double()
    with torch.no_grad():
        ours.weight.copy_(theirs.weight)
        ours.bias.copy_(theirs.bias)
    x = torch.randn(2, 4, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(x))


def test_seed_parameter_count_8x5x5x1_plus_8_is_208():
    layer = Conv2d(1, 8, 5)
    assert sum(p.numel() for p in layer.parameters()) == 8 * 5 * 5 * 1 + 8 == 208


def test_kaiming_init_has_he_variance():
    layer = Conv2d(64, 256, 3)
    fan_in = 64 * 9
    assert abs(layer.weight.std().item() - (2 / fan_in) ** 0.5) < 0.02 * (2 / fan_in) ** 0.5 * 10
    assert torch.all(layer.bias == 0)


def test_pointwise_is_a_weighted_sum_of_channels():
    layer = Conv.pointwise(3, 2, dims=2).double()
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    expected = torch.einsum("oc,nchw->nohw", layer.weight[:, :, 0, 0], x) + layer.bias[:, None, None]
    torch.testing.assert_close(layer(x), expected)


def test_depthwise_filters_each_channel_separately():
    layer = Conv.layerwise(3, (3, 3), multiplier=2, padding="same").double()
    x = torch.randn(1, 3, 6, 6, dtype=torch.float64)
    y = layer(x)
    for c in range(3):
        for m in range(2):
            o = 2 * c + m
            expected = conv(x[:, c:c + 1], layer.weight[o:o + 1], layer.bias[o:o + 1], padding="same")
            torch.testing.assert_close(y[:, o:o + 1], expected)


def test_separable_is_depthwise_then_pointwise_with_fewer_parameters():
    layer = SeparableConv(8, 16, (3, 3), padding="same").double()
    x = torch.randn(2, 8, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(layer(x), layer.pointwise(layer.depthwise(x)))
    separable = sum(p.numel() for p in layer.parameters())
    assert separable == (8 * 9 + 8) + (16 * 8 + 16) < 16 * 8 * 9 + 16


def test_shared_filter_applies_the_same_filter_to_every_channel():
    layer = SharedFilterConv((2, 2), filters=2, bias=False).double()
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (2, 6, 3, 3)
    for c in range(3):
        expected = F.conv2d(x[:, c:c + 1], layer.conv.weight)
        torch.testing.assert_close(y[:, 2 * c:2 * c + 2], expected)


def test_seed_blur_each_rgb_channel_independently():
    layer = SharedFilterConv((2, 2), bias=False)
    with torch.no_grad():
        layer.conv.weight.fill_(1.0)
    image = torch.arange(3 * 9, dtype=torch.float32).reshape(1, 3, 3, 3)
    blurred = layer(image)
    assert blurred[0, 1, 0, 0].item() == image[0, 1, :2, :2].sum().item()


def test_int_kernel_without_dims_is_refused_with_advice():
    with pytest.raises(ValueError, match=r"'kernel_size' expected one size per spatial dimension.*got the int 3.* Conv1d/Conv2d/Conv3d"):
        Conv(1, 2, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"boundary": "wrap"}, r"'boundary' expected one of"),
        ({"stride": 0}, r"'stride' expected integers ≥ 1"),
        ({"groups": 2}, r"'groups' expected a divisor of both in_channels=3 and out_channels=4, got 2"),
        ({"padding": "half"}, r"'padding' expected one of"),
        ({"init": "normal"}, r"'init' expected one of"),
    ],
)
def test_bad_layer_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv(3, 4, (3, 3), **kwargs)


def test_repr_shows_options():
    text = repr(Conv2d(3, 4, 3, stride=2, padding="same", boundary="constant", value=1.5, flip=True))
    for part in ["3, 4", "kernel_size=(3, 3)", "stride=(2, 2)", "'same'", "'constant'", "value=1.5", "flip=True"]:
        assert part in text
    assert "output_padding=(1, 1)" in repr(ConvTranspose(2, 3, (3, 3), stride=2, output_padding=1))


def _network() -> nn.Module:
    return nn.Sequential(
        Conv2d(1, 4, 3, padding="same", boundary="reflect"), nn.ReLU(),
        Conv2d(4, 4, 3, stride=2, padding="same", boundary="circular"),
        SeparableConv(4, 3, (3, 3), padding=1), nn.ReLU(),
        ConvTranspose2d(3, 2, 3, stride=2),
    ).eval()


def test_torch_jit_trace_reproduces_the_network():
    net, x = _network(), torch.randn(2, 1, 8, 8)
    traced = torch.jit.trace(net, x)
    torch.testing.assert_close(traced(x), net(x))


def test_onnx_export_round_trip():
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import io

    net, x = _network(), torch.randn(2, 1, 8, 8)
    buffer = io.BytesIO()
    program = torch.onnx.export(net, (x,), dynamo=True, verbose=False)
    program.save(buffer)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model)
    session = ort.InferenceSession(buffer.getvalue())
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(out), net(x).detach(), atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_torch_compile_matches_eager():
    net, x = _network(), torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(torch.compile(net)(x), net(x), atol=1e-5, rtol=1e-5)
