"""Pool/GlobalPool layers: agreement with the functions, dims, repr, errors, trace/ONNX/compile."""

from __future__ import annotations

import io
import warnings

import pytest
import torch
from torch import nn

from convrnn.functional.pool import KINDS, global_pool, pool
from convrnn.layers.pool import GlobalPool, Pool, Pool1d, Pool2d, Pool3d

OPTIONS = [
    dict(),
    dict(stride=1, padding=1),
    dict(stride=2, padding=(1, (0, 2)), ceil_mode=True),
    dict(stride=1, dilation=2, padding=2, boundary="reflect"),
]


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: waking a thread pool per call costs more than the work itself."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("kind", KINDS)
def test_pool_layer_equals_the_function(kind: str) -> None:
    x = torch.randn(2, 3, 9, 10)
    for options in OPTIONS:
        layer = Pool((3, 3), kind=kind, p=3.0, **options)
        torch.testing.assert_close(layer(x), pool(x, 3, kind=kind, p=3.0, **options))


def test_spatial_dims_come_from_the_kernel_tuple_dims_or_the_alias() -> None:
    for dims, alias in [(1, Pool1d), (2, Pool2d), (3, Pool3d)]:
        x = torch.randn(2, 3, *([6] * dims))
        expected = pool(x, 2, kind="avg")
        torch.testing.assert_close(Pool((2,) * dims, kind="avg")(x), expected)
        torch.testing.assert_close(Pool(2, dims=dims, kind="avg")(x), expected)
        torch.testing.assert_close(alias(2, kind="avg")(x), expected)
        assert alias(2).dims == dims


def test_global_pool_layer_equals_the_function() -> None:
    x = torch.randn(2, 3, 4, 5, 6)
    for kind in KINDS:
        torch.testing.assert_close(GlobalPool(kind, p=3.0)(x), global_pool(x, kind, p=3.0))
    assert GlobalPool("max", keepdim=True)(x).shape == (2, 3, 1, 1, 1)


def test_repr_shows_the_options() -> None:
    text = repr(Pool((3, 3), 1, ((1, 0), 1), 2, kind="lp", p=3.0, ceil_mode=True,
                     boundary="neumann", value=0.5))
    for part in ("Pool(", "kind='lp'", "kernel_size=(3, 3)", "stride=(1, 1)",
                 "padding=((1, 0), (1, 1))", "dilation=(2, 2)", "p=3.0", "ceil_mode=True",
                 "boundary='neumann'", "value=0.5"):
        assert part in text, (part, text)
    assert repr(Pool2d(2)) == "Pool2d(kind='max', kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert "count_include_pad=False" in repr(Pool1d(3, 1, 1, kind="avg", count_include_pad=False))
    assert "return_indices=True" in repr(Pool1d(3, kind="median", return_indices=True))
    assert repr(GlobalPool("lp", p=4.0, keepdim=True)) == "GlobalPool(kind='lp', p=4.0, keepdim=True)"


def test_return_indices_round_trip_through_max_unpool() -> None:
    x = torch.randn(2, 3, 8, 8)
    layer = Pool2d(2, kind="max", return_indices=True)
    y, index = layer(x)
    torch_y, torch_index = nn.MaxPool2d(2, return_indices=True)(x)
    assert torch.equal(y, torch_y) and torch.equal(index, torch_index)
    restored = nn.MaxUnpool2d(2)(y, index, output_size=x.shape[-2:])
    assert torch.equal(pool(restored, 2, kind="sum"), y)  # each window's max, and nothing else
    assert torch.equal(pool((restored != 0).float(), 2, kind="sum"), torch.ones_like(y))


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Pool(3), r"Pool: argument 'kernel_size' expected one size per spatial dimension.*got the int 3.*dims=2"),
    (lambda: Pool((2, 2, 2, 2)), r"'kernel_size'.*1 to 3 sizes.*\(2, 2, 2, 2\)"),
    (lambda: Pool(2, dims=4), r"'dims' expected 1, 2 or 3, got 4"),
    (lambda: Pool2d(2, stride=0), r"Pool2d: argument 'stride'.*≥ 1.*0"),
    (lambda: Pool2d(2, dilation=(1, 0)), r"'dilation'.*\(1, 0\)"),
    (lambda: Pool2d(2, padding=-1), r"'padding'.*-1"),
    (lambda: Pool2d(2, kind="mode"), r"'kind'.*'mode'"),
    (lambda: Pool2d(2, boundary="mirror"), r"'boundary'.*'mirror'"),
    (lambda: Pool2d(2, kind="lp", p=0.5), r"'p'.*0.5"),
    (lambda: Pool2d(2, kind="avg", return_indices=True), r"'return_indices'.*kind='avg'"),
    (lambda: GlobalPool("mean"), r"GlobalPool: argument 'kind'.*'mean'"),
    (lambda: GlobalPool("lp", p=-1.0), r"GlobalPool: argument 'p'.*-1.0"),
])
def test_bad_options_fail_at_construction(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_input_of_the_wrong_rank_names_the_shape() -> None:
    with pytest.raises(ValueError, match=r"Pool2d: argument 'x'.*2 spatial.*\(2, 3, 8\)"):
        Pool2d(2)(torch.randn(2, 3, 8))


def _network(kind: str) -> nn.Module:
    return nn.Sequential(
        Pool2d(3, 1, 1, kind=kind, p=3.0),
        Pool((2, 2), kind=kind, p=3.0, ceil_mode=True),
        GlobalPool(kind, p=3.0),
    ).eval()


@pytest.mark.parametrize("kind", KINDS)
def test_torch_jit_trace_reproduces_every_kind(kind: str) -> None:
    net, x = _network(kind), torch.randn(2, 3, 9, 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the geometry is per shape
        traced = torch.jit.trace(net, x)
    torch.testing.assert_close(traced(x), net(x))
    # no choice made on the values of x may be frozen into the trace
    other = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(traced(other), net(other))


class EveryKind(nn.Module):
    """One network per pooling kind side by side: one export or compile covers them all."""

    def __init__(self) -> None:
        super().__init__()
        self.networks = nn.ModuleList(_network(kind) for kind in KINDS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([network(x) for network in self.networks], dim=1)


def test_onnx_export_round_trip_of_every_kind() -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    net, x = EveryKind().eval(), torch.randn(2, 3, 9, 9)
    buffer = io.BytesIO()
    torch.onnx.export(net, (x,), dynamo=True, verbose=False).save(buffer)
    onnx.checker.check_model(onnx.load_from_string(buffer.getvalue()))
    session = ort.InferenceSession(buffer.getvalue())
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(out), net(x), atol=1e-5, rtol=1e-5)


def test_torch_compile_matches_eager_forward_and_backward() -> None:
    net, x = EveryKind(), torch.randn(2, 3, 9, 9, requires_grad=True)
    compiled = torch.compile(net, backend="aot_eager")  # no C++ build: seconds, not minutes
    y, expected = compiled(x), net(x)
    torch.testing.assert_close(y, expected)
    (grad,) = torch.autograd.grad(y.sum(), x)
    (expected_grad,) = torch.autograd.grad(expected.sum(), x)
    torch.testing.assert_close(grad, expected_grad)


@pytest.mark.slow
def test_torch_compile_with_inductor_matches_eager() -> None:
    net, x = EveryKind(), torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(torch.compile(net)(x), net(x), atol=1e-5, rtol=1e-5)
