"""conv() and conv_transpose() against scipy and naive loops, the seeds' worked examples, gradients, errors."""

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpy_reference as ref
from convrnn.functional import conv, conv_output_size, conv_transpose, resolve_padding

BOUNDARIES = list(ref.NUMPY_MODE)


def as_t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64)


# --- the seeds' worked examples -------------------------------------------------------------

def test_seed_moving_average_with_zero_padding():
    x = torch.tensor([4, 3, 2, -5, 3, 5, 2, 5, 5, 6], dtype=torch.float64).reshape(1, 1, -1)
    w = torch.full((1, 1, 3), 1 / 3, dtype=torch.float64)
    y = conv(x, w, padding="same").flatten()
    expected = torch.tensor([7 / 3, 3, 0, 0, 1, 10 / 3, 4, 4, 16 / 3, 11 / 3], dtype=torch.float64)
    torch.testing.assert_close(y, expected)


def test_seed_ones_block_detector_reproduces_z1_z2_z3():
    x = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 0, 0.0]).reshape(1, 1, -1)
    z1 = conv(x, torch.tensor([[[-1.0, 1.0]]]), padding=[(0, 1)])
    assert z1.flatten().tolist() == [0, 0, 0, 0, 1, 0, 0, -1, 0, 0]
    z2 = conv(z1, torch.tensor([[[1.0, 0, 0, -1]]]), padding=[(0, 3)])
    assert z2.flatten().tolist() == [0, -1, 0, 0, 2, 0, 0, -1, 0, 0]
    # "[z − 1]₊": the convolution's bias is −1, then a ReLU
    z3 = torch.relu(conv(z1, torch.tensor([[[1.0, 0, 0, -1]]]), torch.tensor([-1.0]), padding=[(0, 3)]))
    assert z3.flatten().tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert z3.max().item() == 1 and z3.sum().item() == 1  # z4 by max pool and by sum pool


def test_seed_flexible_length_detector():
    z1 = torch.tensor([0, 0, 0, 0, 1, 0, 0, -1, 0, 0.0]).reshape(1, 1, -1)
    z2 = z1.reshape(1, 1, 5, 2).sum(-1)  # sum pool in blocks of 2
    assert z2.flatten().tolist() == [0, 0, 1, -1, 0]
    z3 = conv(z2, torch.tensor([[[1.0, -1.0]]]), padding="same")
    assert z3.flatten().tolist() == [0, -1, 2, -1, 0]


@pytest.mark.parametrize(
    ("padding", "stride", "expected"),
    [
        ("valid", 1, (3, 3, 2)),  # default (full, valid) convolution
        ([(0, 0), (0, 0), (0, 1)], 1, (3, 3, 3)),  # zero-pad the depth mode by 1 at the end
        ("valid", (2, 2, 1), (2, 2, 2)),  # stride 2, 2, 1
    ],
)
def test_seed_size_questions_4x4x3_input_2x2x2_filter(padding, stride, expected):
    y = conv(torch.zeros(1, 1, 4, 4, 3), torch.zeros(1, 1, 2, 2, 2), padding=padding, stride=stride)
    assert tuple(y.shape[2:]) == expected


# --- against scipy ----------------------------------------------------------------------------

@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_every_boundary_matches_numpy_pad_plus_scipy_correlate(boundary, dims):
    rng = np.random.default_rng(dims)
    sizes = (7, 6, 5)[:dims]
    kernel = (3, 2, 3)[:dims]
    x = rng.standard_normal((2, 3, *sizes))
    w = rng.standard_normal((4, 3, *kernel))
    pairs = [(1, 2), (2, 1), (1, 1)][:dims]
    value = 0.5 if boundary in ("constant", "neumann") else 0.0
    padded = ref.pad(x, pairs, boundary, value)
    expected = np.stack([
        np.stack([
            sum(scipy.signal.correlate(padded[n, c], w[o, c], mode="valid") for c in range(3))
            for o in range(4)
        ])
        for n in range(2)
    ])
    got = conv(as_t(x), as_t(w), padding=pairs, boundary=boundary, value=value).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-10)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_flip_computes_true_convolution_like_scipy_convolve(dims):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 1, *(6,) * dims))
    w = rng.standard_normal((1, 1, *(3,) * dims))
    got = conv(as_t(x), as_t(w), padding="full", flip=True).numpy()[0, 0]
    np.testing.assert_allclose(got, scipy.signal.convolve(x[0, 0], w[0, 0], mode="full"), atol=1e-10)


def test_full_padding_in_1d_equals_numpy_convolve():
    a, b = np.array([1.0, 2, 3, 4]), np.array([1.0, -2, 0.5])
    got = conv(as_t(a).reshape(1, 1, -1), as_t(b).reshape(1, 1, -1), padding="full", flip=True)
    np.testing.assert_allclose(got.flatten().numpy(), np.convolve(a, b, mode="full"))


# --- strided, dilated, grouped against naive loops -------------------------------------------

@pytest.mark.parametrize(
    ("dims", "stride", "dilation", "groups", "boundary"),
    [
        (1, 2, 1, 1, "zeros"),
        (1, 3, 2, 2, "reflect"),
        (2, (2, 1), (1, 2), 1, "circular"),
        (2, 2, 2, 2, "symmetric"),
        (2, (1, 3), 1, 4, "neumann"),
        (3, (2, 1, 2), (1, 2, 1), 2, "constant"),
    ],
)
def test_strided_dilated_grouped_match_naive_loops(dims, stride, dilation, groups, boundary):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, *(7, 8, 6)[:dims]))
    w = rng.standard_normal((4, 4 // groups, *(3, 2, 2)[:dims]))
    b = rng.standard_normal(4)
    pairs = [(1, 2), (2, 0), (1, 1)][:dims]
    st_ = (stride,) * dims if isinstance(stride, int) else stride
    dl = (dilation,) * dims if isinstance(dilation, int) else dilation
    got = conv(as_t(x), as_t(w), as_t(b), stride=stride, dilation=dilation, groups=groups,
               padding=pairs, boundary=boundary, value=0.3).numpy()
    expected = ref.conv(ref.pad(x, pairs, boundary, 0.3), w, b, st_, dl, groups)
    np.testing.assert_allclose(got, expected, atol=1e-10)


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [7, 8, 9, 10])
def test_same_keeps_ceil_n_over_stride_for_any_stride(stride, n):
    x = torch.randn(1, 2, n, n + 1, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 4, dtype=torch.float64)
    y = conv(x, w, stride=stride, padding="same")
    assert tuple(y.shape[2:]) == (-(-n // stride), -(-(n + 1) // stride))
    pairs = resolve_padding("same", x.shape[2:], (3, 4), (stride,) * 2, (1, 1))
    explicit = torch.nn.functional.pad(x, [*pairs[1], *pairs[0]])
    torch.testing.assert_close(y, torch.nn.functional.conv2d(explicit, w, stride=stride))


@given(
    dims=st.integers(1, 3),
    data=st.data(),
    boundary=st.sampled_from(BOUNDARIES),
    flip=st.booleans(),
)
def test_property_shapes_and_values_agree_with_naive_reference(dims, data, boundary, flip):
    sizes = data.draw(st.lists(st.integers(3, 6), min_size=dims, max_size=dims))
    kernel = data.draw(st.lists(st.integers(1, 3), min_size=dims, max_size=dims))
    stride = tuple(data.draw(st.lists(st.integers(1, 3), min_size=dims, max_size=dims)))
    dilation = tuple(data.draw(st.lists(st.integers(1, 2), min_size=dims, max_size=dims)))
    pairs = [(data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in range(dims)]
    groups = data.draw(st.sampled_from([1, 2]))
    if any(n + lo + hi < d * (k - 1) + 1 for n, (lo, hi), k, d in zip(sizes, pairs, kernel, dilation)):
        return
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, *sizes))
    w = rng.standard_normal((2, 2 // groups, *kernel))
    got = conv(as_t(x), as_t(w), stride=stride, dilation=dilation, groups=groups, padding=pairs,
               boundary=boundary, value=0.2, flip=flip).numpy()
    expected_shape = tuple(conv_output_size(n, k, s, p, d)
                           for n, k, s, p, d in zip(sizes, kernel, stride, pairs, dilation))
    assert got.shape[2:] == expected_shape
    expected = ref.conv(ref.pad(x, pairs, boundary, 0.2), w, None, stride, dilation, groups, flip=flip)
    np.testing.assert_allclose(got, expected, atol=1e-10)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_gradcheck_every_boundary(boundary):
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv(x, w, b, stride=(2, 1), padding="same", boundary=boundary, value=0.4),
        (x, w, b),
    )


def test_gradcheck_3d_dilated_grouped_flipped():
    x = torch.randn(1, 2, 4, 3, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 1, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w: conv(x, w, groups=2, dilation=(1, 1, 2), padding=1, boundary="circular", flip=True),
        (x, w),
    )


# --- transposed convolution -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("dims", "stride", "dilation", "groups"),
    [(1, 2, 1, 1), (1, 3, 2, 2), (2, (2, 1), 1, 1), (2, 2, (1, 2), 2), (3, (1, 2, 2), 1, 1)],
)
def test_conv_transpose_matches_rubber_stamp_loops(dims, stride, dilation, groups):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, *(3, 4, 2)[:dims]))
    w = rng.standard_normal((4, 6 // groups, *(3, 2, 2)[:dims]))
    st_ = (stride,) * dims if isinstance(stride, int) else stride
    dl = (dilation,) * dims if isinstance(dilation, int) else dilation
    full = ref.conv_transpose(x, w, st_, dl, groups)
    got = conv_transpose(as_t(x), as_t(w), stride=stride, dilation=dilation, groups=groups).numpy()
    np.testing.assert_allclose(got, full, atol=1e-10)
    cropped = conv_transpose(as_t(x), as_t(w), stride=stride, dilation=dilation, groups=groups,
                             padding=[(1, 0), (0, 1), (1, 1)][:dims]).numpy()
    index = (slice(None), slice(None), *[slice(lo, full.shape[i + 2] - hi)
                                         for i, (lo, hi) in enumerate([(1, 0), (0, 1), (1, 1)][:dims])])
    np.testing.assert_allclose(cropped, full[index], atol=1e-10)


def test_conv_transpose_is_the_adjoint_of_conv():
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64)
    w = torch.randn(5, 3, 3, 3, dtype=torch.float64)
    y = conv(x, w, stride=2, padding=1)
    g = torch.randn_like(y)
    back = conv_transpose(g, w, stride=2, padding=1, output_size=x.shape)
    assert back.shape == x.shape
    torch.testing.assert_close((y * g).sum(), (x * back).sum())


@pytest.mark.parametrize("n", [7, 8])
def test_output_size_resolves_the_stride_ambiguity(n):
    x = torch.randn(1, 1, n)
    w = torch.randn(1, 1, 3)
    down = conv(x, w, stride=2, padding=1)
    assert down.shape[-1] == 4  # 7 and 8 both give 4
    up = conv_transpose(down, w, stride=2, padding=1, output_size=(n,))
    assert up.shape[-1] == n


def test_conv_transpose_gradcheck():
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, 3, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv_transpose(x, w, b, stride=2, padding=[(1, 0), (0, 1)], output_padding=1),
        (x, w, b),
    )


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "x_shape", "w_shape", "message"),
    [
        ({}, (2, 3, 8), (4, 3, 3, 3), r"'x' expected a 4-d tensor, got shape \(2, 3, 8\)"),
        ({}, (2, 5, 8, 8), (4, 3, 3, 3), r"expected 3 input channels .* got shape \(2, 5, 8, 8\)"),
        ({}, (1, 3, 2, 8), (4, 3, 3, 3), r"kernel spans 3 cells along spatial dimension 0 .* has 2"),
        ({"stride": 0}, (1, 3, 8, 8), (4, 3, 3, 3), r"'stride' expected integers ≥ 1, got 0"),
        ({"stride": (1, 2, 3)}, (1, 3, 8, 8), (4, 3, 3, 3), r"'stride' expected an int or 2 ints"),
        ({"boundary": "periodic"}, (1, 3, 8, 8), (4, 3, 3, 3), r"'boundary' expected one of"),
        ({"padding": "half"}, (1, 3, 8, 8), (4, 3, 3, 3), r"'padding' expected one of"),
        ({"groups": 2}, (1, 4, 8, 8), (3, 2, 3, 3), r"C_out divisible by groups=2, got C_out=3"),
        ({"padding": 3, "boundary": "reflect"}, (1, 3, 3, 8), (4, 3, 3, 3), r"reflect.*padding < input size"),
    ],
)
def test_bad_input_names_argument_expected_and_actual(kwargs, x_shape, w_shape, message):
    with pytest.raises(ValueError, match=message):
        conv(torch.zeros(x_shape), torch.zeros(w_shape), **kwargs)


def test_non_tensor_input_is_a_type_error():
    with pytest.raises(TypeError, match=r"'x' expected a torch\.Tensor, got list"):
        conv([1, 2, 3], torch.zeros(1, 1, 3))


def test_conv_transpose_bad_output_size():
    with pytest.raises(ValueError, match=r"'output_size' expected sizes in \[7, 8\] .* got 10"):
        conv_transpose(torch.zeros(1, 1, 4), torch.zeros(1, 1, 3), stride=2, padding=1, output_size=(10,))
