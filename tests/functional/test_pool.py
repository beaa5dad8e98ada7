"""convrnn.functional.pool / global_pool against naive numpy loops, gradients, seeds' vectors, errors."""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convrnn.functional.pool import KINDS, _cost, _median_plan, global_pool, pool

# the module itself (``convrnn.functional.pool`` may name the function once it is re-exported)
pool_module = sys.modules[pool.__module__]


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: waking a thread pool per call costs more than the work itself."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


NUMPY_MODES = {"zeros": "constant", "constant": "constant", "neumann": "edge",
               "reflect": "reflect", "symmetric": "symmetric", "circular": "wrap"}


# ---------------------------------------------------------------------------------------------
# The reference: one Python loop over windows and cells, written from the definition


def reference_size(n: int, k: int, s: int, lo: int, hi: int, d: int, ceil_mode: bool) -> int:
    span = n + lo + hi - d * (k - 1) - 1
    out = (math.ceil(span / s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + lo:
        out -= 1
    return out


def reference_pad(x: np.ndarray, pairs, boundary: str, value: float) -> np.ndarray:
    width = [(0, 0), (0, 0), *pairs]
    if boundary == "constant":
        return np.pad(x, width, mode="constant", constant_values=value)
    out = np.pad(x, width, mode=NUMPY_MODES[boundary])
    if boundary == "neumann":  # each padded cell k steps out adds k·value per dimension
        for axis, ((lo, hi), n) in enumerate(zip(pairs, x.shape[2:], strict=True)):
            i = np.arange(-lo, n + hi)
            outward = np.maximum(-i, 0) + np.maximum(i - (n - 1), 0)
            shape = [1] * out.ndim
            shape[axis + 2] = -1
            out = out + value * outward.reshape(shape)
    return out


def statistic(values: list[float], kind: str, p: float) -> tuple[float, int]:
    """Value and position (first among equals) of the statistic of one window's cells."""
    v = np.asarray(values, dtype=np.float64)
    if kind == "max":
        return v.max(), int(np.argmax(v == v.max()))
    if kind == "min":
        return v.min(), int(np.argmax(v == v.min()))
    if kind == "median":
        m = sorted(values)[(len(values) - 1) // 2]
        return m, int(np.argmax(v == m))
    if kind == "sum":
        return v.sum(), -1
    if kind == "lp":
        return (np.abs(v).max() if math.isinf(p) else (np.abs(v) ** p).sum() ** (1 / p)), -1
    raise AssertionError(kind)


def reference_windows(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1, *,
                      ceil_mode=False, boundary=None, value=0.0):
    """Every window's cells as (values, flat input indices, cells of the padded input), or None
    if some window holds no cell."""
    dims = x.ndim - 2
    kernel = (kernel_size,) * dims if isinstance(kernel_size, int) else tuple(kernel_size)
    stride = kernel if stride is None else ((stride,) * dims if isinstance(stride, int)
                                            else tuple(stride))
    dilation = (dilation,) * dims if isinstance(dilation, int) else tuple(dilation)
    if isinstance(padding, int):
        padding = (padding,) * dims
    pairs = [(q, q) if isinstance(q, int) else tuple(q) for q in padding]
    sizes = x.shape[2:]
    outs = [reference_size(n, k, s, lo, hi, d, ceil_mode)
            for n, k, s, (lo, hi), d in zip(sizes, kernel, stride, pairs, dilation, strict=True)]
    padded = reference_pad(x, pairs, boundary, value) if boundary is not None else None
    windows = {}
    for n_, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for o in itertools.product(*(range(m) for m in outs)):
            values, flat, counted = [], [], 0
            for j in itertools.product(*(range(k) for k in kernel)):
                q = [oi * s - lo + ji * d for oi, s, (lo, _), ji, d
                     in zip(o, stride, pairs, j, dilation, strict=True)]
                in_padded = all(-lo <= qi < n + hi for qi, n, (lo, hi)
                                in zip(q, sizes, pairs, strict=True))
                in_input = all(0 <= qi < n for qi, n in zip(q, sizes, strict=True))
                counted += in_padded
                if boundary is not None and in_padded:
                    shifted = tuple(qi + lo for qi, (lo, _) in zip(q, pairs, strict=True))
                    values.append(padded[(n_, c, *shifted)])
                elif boundary is None and in_input:
                    values.append(x[(n_, c, *q)])
                    flat.append(int(np.ravel_multi_index(q, sizes)))
            if not values:
                return None
            windows[(n_, c, *o)] = (values, flat, counted)
    return x.shape[:2] + tuple(outs), windows


def reference_statistics(windows, *, kind="max", p=2.0, count_include_pad=True, boundary=None):
    """(y, flat indices into the input plane) from ``reference_windows``."""
    shape, cells = windows
    y = np.zeros(shape)
    index = np.zeros(shape, dtype=np.int64)
    for at, (values, flat, counted) in cells.items():
        if kind == "avg":
            divisor = counted if (count_include_pad or boundary is not None) else len(values)
            y[at] = sum(values) / divisor
        else:
            y[at], chosen = statistic(values, kind, p)
            if chosen >= 0 and flat:
                index[at] = flat[chosen]
    return y, index


def reference_pool(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1, *, kind="max",
                   p=2.0, ceil_mode=False, boundary=None, value=0.0, count_include_pad=True):
    """Naive pooling: (y, flat indices into the input plane), or None if a window is empty."""
    windows = reference_windows(x, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode,
                                boundary=boundary, value=value)
    if windows is None:
        return None
    return reference_statistics(windows, kind=kind, p=p, count_include_pad=count_include_pad,
                                boundary=boundary)


def distinct(shape, seed=0, *, away_from_zero=False) -> torch.Tensor:
    """float64 values without ties (gaps ≫ gradcheck's eps), optionally without ties in |x| and
    with |x| ≥ 0.075, away from the kink of |x| at 0."""
    g = torch.Generator().manual_seed(seed)
    n = math.prod(shape)
    values = torch.randperm(n, generator=g).double() - n // 2
    values = values + (0.3 if away_from_zero else 0.25)
    return (values / 4).reshape(shape)


def check_against_reference(x: torch.Tensor, expected=None, **options) -> None:
    if expected is None:
        expected = reference_pool(x.numpy(), **options)
    selecting = options.get("kind", "max") in ("max", "min", "median")
    if expected is None:
        with pytest.raises(ValueError, match="padding"):
            pool(x, **options)
        return
    want_indices = selecting and options.get("boundary") is None
    got = pool(x, **options, return_indices=want_indices)
    y, index = got if want_indices else (got, None)
    np.testing.assert_allclose(y.numpy(), expected[0], rtol=1e-10, atol=1e-12, err_msg=str(options))
    if want_indices:
        np.testing.assert_array_equal(index.numpy(), expected[1], err_msg=str(options))


# ---------------------------------------------------------------------------------------------
# Agreement with the reference over every option


SHAPES = {1: (2, 2, 9), 2: (1, 2, 7, 8), 3: (1, 1, 5, 6, 7)}
BOUNDARIES = (None, "zeros", "constant", "neumann", "reflect", "symmetric", "circular")


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_every_kind_and_option_matches_the_naive_loop(dims: int) -> None:
    x = distinct(SHAPES[dims], seed=dims)
    kernels = {1: (3, 2), 2: ((3, 2), 2), 3: ((2, 3, 2), 2)}[dims]
    grid = itertools.product(
        kernels, ("blockwise", "sliding"), (1, 2), (0, 1, "asymmetric"), (False, True), BOUNDARIES)
    for kernel, mode, dilation, padding, ceil_mode, boundary in grid:
        stride = None if mode == "blockwise" else 1
        if padding == "asymmetric":
            padding = [(2, 0)] + [(0, 1)] * (dims - 1)
        value = {"constant": -1.5, "neumann": 0.5}.get(boundary, 0.0)
        geometry = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                        ceil_mode=ceil_mode, boundary=boundary, value=value)
        windows = reference_windows(x.numpy(), **geometry)
        for kind in KINDS:
            for p in ((1.0, 2.0, 3.5, math.inf) if kind == "lp" else (2.0,)):
                for count_include_pad in ((True, False) if kind == "avg" else (True,)):
                    statistics = dict(kind=kind, p=p, count_include_pad=count_include_pad)
                    expected = None if windows is None else reference_statistics(
                        windows, **statistics, boundary=boundary)
                    check_against_reference(x, expected, **geometry, **statistics)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_traced_code_paths_match_the_naive_loop(dims: int, monkeypatch) -> None:
    # under tracing/export, sum and p-norm avoid divisor_override and the custom autograd Function
    monkeypatch.setattr(pool_module, "is_tracing", lambda: True)
    x = distinct(SHAPES[dims], seed=dims, away_from_zero=True).requires_grad_()
    for stride, padding, ceil_mode, boundary in itertools.product(
            (None, 1, 2), (0, 1), (False, True), (None, "reflect")):
        for kind, p in [("sum", 2.0), ("lp", 1.0), ("lp", 3.0), ("avg", 2.0)]:
            options = dict(kernel_size=2, stride=stride, padding=padding, ceil_mode=ceil_mode,
                           boundary=boundary, kind=kind, p=p)
            check_against_reference(x.detach(), **options)
    assert torch.autograd.gradcheck(lambda t: pool(t, 2, 1, 1, kind="lp", p=3.0), (x,))


@pytest.mark.parametrize("kind", ["max", "min", "median"])
def test_ties_pick_the_first_cell_in_window_order(kind: str) -> None:
    x = torch.randint(0, 3, (2, 3, 8, 9)).double()
    for stride, padding in [(None, 0), (1, 1), (2, (1, (0, 2)))]:
        check_against_reference(x, kernel_size=3, stride=stride, padding=padding, kind=kind)


def test_large_median_windows_sort_instead_of_the_network() -> None:
    x = distinct((1, 2, 11, 12), seed=5)
    for kernel, stride, padding in [(6, 2, 0), ((5, 6), 3, 2), (5, 1, 0), (5, 1, (1, 2))]:
        check_against_reference(x, kernel_size=kernel, stride=stride, padding=padding,
                                kind="median")


@pytest.mark.parametrize("kernel", [(2,), (3,), (7,), (2, 2), (3, 3), (2, 3), (3, 2), (1, 4),
                                    (4, 4), (2, 2, 2), (1, 2, 3)])
def test_median_network_selects_the_lower_median_of_every_zero_one_window(kernel) -> None:
    # 0–1 principle: a comparator network selects rank r of every input iff it does of every
    # 0/1 input; each channel of x holds one 0/1 window, pooled by one full window
    cells = math.prod(kernel)
    assert cells <= 25  # the network's range
    windows = torch.tensor(list(itertools.product((0.0, 1.0), repeat=cells)))
    x = windows.reshape(1, -1, *kernel)
    expected = windows.sort(dim=1).values[:, (cells - 1) // 2]
    assert torch.equal(pool(x, kernel, kind="median").flatten(), expected)


def test_median_network_on_random_5x5_windows_and_the_plan_is_small() -> None:
    x = torch.randn(3, 400, 5, 5)
    expected = x.flatten(2).median(dim=2).values
    assert torch.equal(pool(x, 5, kind="median").flatten(1), expected)
    columns, window, _ = _median_plan((3, 3))
    assert _cost(columns) + _cost(window) <= 20  # a plain sorting network for 9 cells costs 36


def test_median_nan_propagates_like_torch_median() -> None:
    x = torch.randn(1, 1, 6, 6)
    x[0, 0, 1, 1] = math.nan
    for stride, padding in [(None, 0), (1, 0), (1, 1), (4, 1)]:
        y = pool(x, 3, stride, padding, kind="median")
        windows = reference_windows(x.numpy(), 3, stride, padding)[1]
        for at, (values, _, _) in windows.items():
            assert math.isnan(y[at]) == any(math.isnan(v) for v in values), (stride, padding, at)


# ---------------------------------------------------------------------------------------------
# Gradients


GRAD_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(2, 3), stride=2, padding=(1, (0, 2)), ceil_mode=True),
    dict(kernel_size=2, stride=1, dilation=2, padding=1, boundary="reflect"),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, boundary="neumann", value=0.5),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", range(len(GRAD_CASES)))
def test_gradcheck_float64(kind: str, case: int) -> None:
    x = distinct((1, 2, 5, 6), seed=case, away_from_zero=True).requires_grad_()
    options = dict(GRAD_CASES[case], kind=kind)
    ps = (1.0, 2.0, 3.0, math.inf) if kind == "lp" else (2.0,)
    for p in ps:
        assert torch.autograd.gradcheck(lambda t, p=p: pool(t, **options, p=p), (x,))


@pytest.mark.parametrize("shape", [(1, 2, 8), (1, 2, 4, 6), (1, 1, 2, 4, 6), (1, 2, 5, 6)])
def test_gradcheck_float64_of_blockwise_norms_tiling_the_input_or_not(shape) -> None:
    x = distinct(shape, seed=9, away_from_zero=True).requires_grad_()
    for p in (1.0, 2.0, 3.0, 1.5):
        assert torch.autograd.gradcheck(lambda t, p=p: pool(t, 2, kind="lp", p=p), (x,))


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_float64_in_1d_and_3d(kind: str, dims: int) -> None:
    shape = (1, 2, 7) if dims == 1 else (1, 1, 4, 4, 5)
    x = distinct(shape, seed=dims, away_from_zero=True).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: pool(t, 2, 1, padding=1, kind=kind, p=3.0), (x,))


def test_median_gradient_lands_only_on_the_median_cell() -> None:
    x = distinct((2, 3, 6, 8), seed=3).requires_grad_()
    for kernel, stride in [(2, None), (3, None), (3, 1), ((2, 4), (1, 3))]:
        y, index = pool(x, kernel, stride, kind="median", return_indices=True)
        weights = torch.randn_like(y)
        (grad,) = torch.autograd.grad((y * weights).sum(), x)
        expected = torch.zeros_like(x).flatten(2)
        expected.scatter_add_(2, index.flatten(2), weights.flatten(2))
        torch.testing.assert_close(grad, expected.reshape(x.shape), rtol=0, atol=0)
        # and the indices are those of each window's lower median
        expected_index = reference_pool(x.detach().numpy(), kernel, stride, kind="median")[1]
        np.testing.assert_array_equal(index.numpy(), expected_index)


def test_median_of_an_even_window_is_the_lower_median() -> None:
    x = torch.tensor([[[4.0, 1.0, 3.0, 2.0]]])
    assert pool(x, 4, kind="median").item() == 2.0
    assert torch.median(x).item() == 2.0


def test_max_and_min_route_the_gradient_to_the_selected_cell() -> None:
    x = distinct((2, 2, 6, 6), seed=7).requires_grad_()
    for kind in ("max", "min"):
        y, index = pool(x, 3, 1, padding=1, kind=kind, return_indices=True)
        (grad,) = torch.autograd.grad(y.sum(), x)
        counts = torch.zeros_like(x).flatten(2).scatter_add_(
            2, index.flatten(2), torch.ones_like(y).flatten(2))
        torch.testing.assert_close(grad, counts.reshape(x.shape))


@pytest.mark.parametrize("kind", KINDS)
def test_second_derivatives_gradgradcheck(kind: str) -> None:
    # the p-norm's custom backward must hand create_graph=True over to the differentiable formula
    x = distinct((1, 2, 5, 5), seed=4, away_from_zero=True).requires_grad_()
    for p in ((1.0, 2.0, 3.0) if kind == "lp" else (2.0,)):
        assert torch.autograd.gradgradcheck(
            lambda t, p=p: pool(t, 3, 2, 1, kind=kind, p=p, ceil_mode=True), (x,))


def test_lp_of_an_all_zero_window_has_zero_gradient() -> None:
    x = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    x[0, 0, 0, 0] = 2.0
    x.requires_grad_()
    for p in (1.0, 2.0, 3.0, math.inf):
        (grad,) = torch.autograd.grad(pool(x, 2, kind="lp", p=p).sum(), x)
        assert torch.isfinite(grad).all()
        expected = torch.zeros_like(x)
        expected[0, 0, 0, 0] = 1.0
        torch.testing.assert_close(grad, expected)


# ---------------------------------------------------------------------------------------------
# The seeds' worked examples


def test_seed_2x2_stride_2_max_and_mean_pooling() -> None:
    x = torch.tensor([[1.0, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])[None, None]
    assert pool(x, 2, 2, kind="max").squeeze().tolist() == [[6, 8], [3, 4]]
    assert pool(x, 2, 2, kind="avg").squeeze().tolist() == [[3.25, 5.25], [2, 2]]


def test_seed_001_max_and_sum_pool_of_z3_over_the_whole_signal() -> None:
    z3 = torch.tensor([[[0.0, 0, 0, 0, 1, 0, 0, 0, 0, 0]]])
    assert pool(z3, 10, kind="max").item() == 1.0
    assert pool(z3, 10, kind="sum").item() == 1.0
    assert global_pool(z3, "max").item() == 1.0
    assert global_pool(z3, "sum").item() == 1.0


def test_seed_001_sum_pool_in_blocks_of_2() -> None:
    z1 = torch.tensor([[[0.0, 0, 0, 0, 1, 0, 0, -1, 0, 0]]])
    assert pool(z1, 2, kind="sum").squeeze().tolist() == [0, 0, 1, -1, 0]


# ---------------------------------------------------------------------------------------------
# Indices and PyTorch agreement


def test_max_indices_equal_torch_and_round_trip_through_max_unpool2d() -> None:
    x = distinct((2, 3, 8, 10), seed=11)
    y, index = pool(x, 2, kind="max", return_indices=True)
    torch_y, torch_index = F.max_pool2d(x, 2, return_indices=True)
    torch.testing.assert_close(y, torch_y, rtol=0, atol=0)
    assert torch.equal(index, torch_index)
    for kind in ("max", "min", "median"):
        y, index = pool(x, 2, kind=kind, return_indices=True)
        restored = F.max_unpool2d(y, index, 2, output_size=x.shape[-2:])
        chosen = restored != 0
        assert chosen.flatten(2).sum(2).eq(y[0, 0].numel()).all()  # one cell per window
        torch.testing.assert_close(restored[chosen], x[chosen])
        torch.testing.assert_close(pool(restored, 2, kind="sum"), y)  # each window's one cell


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_and_avg_equal_torch_pooling(dims: int) -> None:
    x = torch.randn(2, 3, *([7] * dims))
    max_pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[dims - 1]
    avg_pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[dims - 1]
    for k, s, pd, ceil in [(2, 2, 0, False), (3, 2, 1, True), (3, 1, 1, False)]:
        torch.testing.assert_close(pool(x, k, s, pd, ceil_mode=ceil), max_pool(x, k, s, pd,
                                                                                ceil_mode=ceil))
        for include in (True, False):
            torch.testing.assert_close(
                pool(x, k, s, pd, kind="avg", ceil_mode=ceil, count_include_pad=include),
                avg_pool(x, k, s, pd, ceil_mode=ceil, count_include_pad=include))


# ---------------------------------------------------------------------------------------------
# Global pooling


@pytest.mark.parametrize("kind", KINDS)
def test_global_pool_equals_one_window_over_the_whole_input(kind: str) -> None:
    x = distinct((2, 3, 4, 5), seed=2, away_from_zero=True).requires_grad_()
    y = global_pool(x, kind, p=3.0)
    assert y.shape == (2, 3)
    torch.testing.assert_close(y, pool(x, (4, 5), kind=kind, p=3.0).flatten(1))
    assert global_pool(x, kind, p=3.0, keepdim=True).shape == (2, 3, 1, 1)
    assert torch.autograd.gradcheck(lambda t: global_pool(t, kind, p=3.0), (x,))


def test_global_median_under_tracing_equals_torch_median(monkeypatch) -> None:
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    x[0, 1, 2, 3] = math.nan
    expected = global_pool(x, "median")
    monkeypatch.setattr(pool_module, "is_tracing", lambda: True)
    torch.testing.assert_close(global_pool(x, "median"), expected, equal_nan=True)
    assert math.isnan(expected[0, 1])
    x = distinct((2, 3, 4, 5)).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: global_pool(t, "median"), (x,))


def test_global_lp_of_a_zero_plane_has_zero_gradient() -> None:
    x = torch.zeros(1, 2, 3, requires_grad=True)
    (grad,) = torch.autograd.grad(global_pool(x, "lp", p=2.0).sum(), x)
    assert torch.equal(grad, torch.zeros_like(x))


# ---------------------------------------------------------------------------------------------
# Properties over random shapes and options


@st.composite
def pool_options(draw):
    dims = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    pairs = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(dims))
    sizes = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - lo - hi), 6))
                  for k, d, (lo, hi) in zip(kernel, dilation, pairs, strict=True))
    boundary = draw(st.sampled_from([None, "zeros", "symmetric", "circular", "neumann"]))
    return dict(sizes=sizes, kernel_size=kernel, stride=stride, padding=pairs, dilation=dilation,
                ceil_mode=draw(st.booleans()), boundary=boundary,
                kind=draw(st.sampled_from(KINDS)), p=draw(st.sampled_from([1.0, 2.5, math.inf])))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool_options())
def test_output_size_follows_the_formula_and_values_the_reference(options) -> None:
    sizes = options.pop("sizes")
    x = distinct((1, 2, *sizes), seed=len(sizes))
    expected = reference_pool(x.numpy(), **options)
    if expected is None:
        with pytest.raises(ValueError, match="padding"):
            pool(x, **options)
        return
    y = pool(x, **options)
    for n, k, s, (lo, hi), d, m in zip(sizes, options["kernel_size"], options["stride"],
                                       options["padding"], options["dilation"], y.shape[2:],
                                       strict=True):
        span = n + lo + hi - d * (k - 1) - 1
        formula = (-(-span // s) if options["ceil_mode"] else span // s) + 1
        assert m in (formula, formula - 1)  # ceil_mode drops a window starting in the high padding
        assert m == reference_size(n, k, s, lo, hi, d, options["ceil_mode"])
    np.testing.assert_allclose(y.numpy(), expected[0], rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.sampled_from(KINDS))
def test_blockwise_pooling_of_a_constant_is_the_constant(dims: int, k: int, kind: str) -> None:
    x = torch.full((1, 1, *([2 * k] * dims)), 1.5, dtype=torch.float64)
    expected = {"sum": 1.5 * k**dims, "lp": 1.5 * (k**dims) ** 0.5}.get(kind, 1.5)
    torch.testing.assert_close(pool(x, k, kind=kind), torch.full((1, 1, *([2] * dims)), expected,
                                                                 dtype=torch.float64))


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda x: pool(x[0, 0], 2), ValueError, r"'x'.*1, 2 or 3 spatial.*\(4, 4\)"),
    (lambda x: pool(x[None, None], 2), ValueError, r"'x'.*\(1, 1, 1, 1, 4, 4\)"),
    (lambda x: pool(x.long(), 2), TypeError, r"'x'.*floating.*int64"),
    (lambda x: pool([1.0], 2), TypeError, r"'x'.*Tensor.*list"),
    (lambda x: pool(x, 5), ValueError, r"'kernel_size'.*5 ≤ size \+ padding = 4"),
    (lambda x: pool(x, 3, dilation=2), ValueError, r"'kernel_size'.*5 ≤"),
    (lambda x: pool(x, 2, stride=0), ValueError, r"'stride'.*≥ 1.*0"),
    (lambda x: pool(x, 2, stride=(1, -1)), ValueError, r"'stride'.*\(1, -1\)"),
    (lambda x: pool(x, 2, stride=(1, 1, 1)), ValueError, r"'stride'.*2 ints.*\(1, 1, 1\)"),
    (lambda x: pool(x, 2, dilation=0), ValueError, r"'dilation'.*≥ 1.*0"),
    (lambda x: pool(x, 0), ValueError, r"'kernel_size'.*≥ 1.*0"),
    (lambda x: pool(x, 2, kind="mode"), ValueError, r"'kind'.*'median'.*'mode'"),
    (lambda x: pool(x, 2, boundary="mirror"), ValueError, r"'boundary'.*'reflect'.*'mirror'"),
    (lambda x: pool(x, 2, kind="lp", p=0.5), ValueError, r"'p'.*≥ 1.*0.5"),
    (lambda x: pool(x, 2, kind="lp", p=math.nan), ValueError, r"'p'.*nan"),
    (lambda x: pool(x, 2, kind="lp", p="2"), TypeError, r"'p'.*'2'"),
    (lambda x: pool(x, 2, padding=-1), ValueError, r"'padding'.*-1"),
    (lambda x: pool(x, 2, stride=1, padding=((0, 2), 0)), ValueError,
     r"'padding'.*every window.*\(0, 2\)"),
    (lambda x: pool(x, 2, kind="avg", return_indices=True), ValueError,
     r"'return_indices'.*kind='avg'"),
    (lambda x: pool(x, 2, boundary="zeros", return_indices=True), ValueError,
     r"'return_indices'.*boundary='zeros'"),
    (lambda x: pool(x, 3, padding=4, boundary="reflect"), ValueError, r"reflect.*padding"),
    (lambda x: global_pool(x[0, 0], "max"), ValueError, r"global_pool.*'x'.*\(4, 4\)"),
    (lambda x: global_pool(x, "mean"), ValueError, r"global_pool.*'kind'.*'mean'"),
    (lambda x: global_pool(x, "lp", p=0.0), ValueError, r"global_pool.*'p'.*0.0"),
])
def test_bad_input_names_the_argument_the_expected_and_the_actual(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call(torch.zeros(1, 1, 4, 4))
