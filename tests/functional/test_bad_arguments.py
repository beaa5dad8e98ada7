"""Every public function of convrnn.functional given bad arguments, one row per (function, argument, kind of bad
value): a ValueError/TypeError from convrnn's own checks naming the function, the argument and what was expected —
never an error from deep inside PyTorch, never a silently wrong result (see tests/bad_arguments.py)."""

import pytest
import torch
from hypothesis import strategies as st

import convrnn.functional as F
from bad_arguments import (
    CI_EXAMPLES,
    FUZZ_EXAMPLES,
    INTEGER_DTYPES,
    NAN_INF,
    NEGATIVE,
    NON_POSITIVE,
    NOT_A_BOOL,
    NOT_A_NUMBER,
    NOT_A_TENSOR,
    NOT_AN_INT,
    Row,
    bad_choice,
    covered_names,
    on_meta,
    run_rows,
    wrong_length,
)


def x4(channels: int = 3, size: int = 8) -> torch.Tensor:
    return torch.randn(2, channels, size, size)


def w4() -> torch.Tensor:
    return torch.randn(4, 3, 3, 3)


def wt4() -> torch.Tensor:  # a transposed convolution's weight (C_in, C_out, *k)
    return torch.randn(3, 4, 3, 3)


def conv(**options):
    return lambda value: F.conv(x4(), w4(), **{k: (value if v is None else v) for k, v in options.items()})


def conv_transpose(**options):
    return lambda value: F.conv_transpose(x4(), wt4(), **{k: (value if v is None else v) for k, v in options.items()})


def pool(**options):
    return lambda value: F.pool(x4(), 2, **{k: (value if v is None else v) for k, v in options.items()})


BAD_PADDING = st.one_of(NEGATIVE, st.floats(), st.none(), wrong_length(2, st.integers(0, 2)),
                        st.just(((1, 1), (1, -1))), st.just(((1, 2, 3), (1, 1))))
BAD_SIZE_TUPLE = st.one_of(NON_POSITIVE, NOT_AN_INT.filter(lambda v: v is not None), wrong_length(2))
RANK_OTHER_THAN_4 = st.integers(0, 6).filter(lambda r: r != 4).map(lambda r: torch.zeros((2,) * r))

ROWS = [
    # conv: the tensors (type, rank, channels, dtype, device), then every option
    Row("conv", "x", "not a tensor", lambda v: F.conv(v, w4()), NOT_A_TENSOR),
    Row("conv", "x", "rank", lambda v: F.conv(v, w4()), RANK_OTHER_THAN_4),
    Row("conv", "x", "channels", lambda v: F.conv(x4(channels=v), w4()), st.integers(1, 8).filter(lambda c: c != 3)),
    Row("conv", "x", "dtype", lambda v: F.conv(x4().to(v), w4()), st.one_of(INTEGER_DTYPES, st.just(torch.float64))),
    Row("conv", "x", "device", lambda v: F.conv(v, w4()), on_meta(x4)),
    Row("conv", "x", "smaller than kernel", lambda v: F.conv(x4(size=v), torch.randn(4, 3, 5, 5)), st.integers(0, 4)),
    Row("conv", "weight", "not a tensor", lambda v: F.conv(x4(), v), NOT_A_TENSOR),
    Row("conv", "weight", "rank", lambda v: F.conv(x4(), torch.zeros((1,) * v)), st.sampled_from([0, 1, 2, 6, 7])),
    Row("conv", "weight", "bool dtype", lambda v: F.conv(x4().bool(), w4().bool()), st.just(None)),
    Row("conv", "bias", "not a tensor", lambda v: F.conv(x4(), w4(), v), NOT_A_TENSOR.filter(lambda v: v is not None)),
    Row("conv", "bias", "shape", lambda v: F.conv(x4(), w4(), torch.zeros(v)), st.integers(0, 9).filter(lambda n: n != 4)),
    Row("conv", "bias", "dtype", lambda v: F.conv(x4(), w4(), torch.zeros(4, dtype=v)), INTEGER_DTYPES),
    Row("conv", "bias", "device", lambda v: F.conv(x4(), w4(), v), on_meta(lambda: torch.zeros(4))),
    Row("conv", "stride", "size", conv(stride=None), BAD_SIZE_TUPLE),
    Row("conv", "dilation", "size", conv(dilation=None), BAD_SIZE_TUPLE),
    Row("conv", "padding", "amount", conv(padding=None), BAD_PADDING),
    Row("conv", "padding", "unknown name", conv(padding=None), bad_choice(["valid", "same", "full"])
        .filter(lambda v: isinstance(v, str))),
    Row("conv", "groups", "count", conv(groups=None), st.one_of(NON_POSITIVE, NOT_AN_INT)),
    Row("conv", "boundary", "unknown name", conv(padding=1, boundary=None), bad_choice(F.BOUNDARIES)),
    Row("conv", "value", "nan/inf", conv(padding=1, boundary="constant", value=None), NAN_INF),
    Row("conv", "value", "not a number", conv(padding=1, boundary="constant", value=None), NOT_A_NUMBER),
    Row("conv", "flip", "not a bool", conv(flip=None), NOT_A_BOOL),
    Row("conv", "padding", "reflect too wide", conv(padding=None, boundary="reflect"), st.integers(8, 20)),
    # conv_transpose
    Row("conv_transpose", "x", "not a tensor", lambda v: F.conv_transpose(v, wt4()), NOT_A_TENSOR),
    Row("conv_transpose", "x", "rank", lambda v: F.conv_transpose(v, wt4()), RANK_OTHER_THAN_4),
    Row("conv_transpose", "x", "channels", lambda v: F.conv_transpose(x4(channels=v), wt4()),
        st.integers(1, 8).filter(lambda c: c != 3)),
    Row("conv_transpose", "x", "dtype", lambda v: F.conv_transpose(x4().to(v), wt4()),
        st.one_of(INTEGER_DTYPES, st.just(torch.float64))),
    Row("conv_transpose", "x", "device", lambda v: F.conv_transpose(v, wt4()), on_meta(x4)),
    Row("conv_transpose", "weight", "not a tensor", lambda v: F.conv_transpose(x4(), v), NOT_A_TENSOR),
    Row("conv_transpose", "bias", "shape", lambda v: F.conv_transpose(x4(), wt4(), torch.zeros(v)),
        st.integers(0, 9).filter(lambda n: n != 4)),
    Row("conv_transpose", "bias", "dtype", lambda v: F.conv_transpose(x4(), wt4(), torch.zeros(4, dtype=v)),
        INTEGER_DTYPES),
    Row("conv_transpose", "stride", "size", conv_transpose(stride=None), BAD_SIZE_TUPLE),
    Row("conv_transpose", "dilation", "size", conv_transpose(dilation=None), BAD_SIZE_TUPLE),
    Row("conv_transpose", "padding", "amount", conv_transpose(padding=None),
        st.one_of(BAD_PADDING, st.just("same"))),
    Row("conv_transpose", "groups", "count", conv_transpose(groups=None), st.one_of(NON_POSITIVE, NOT_AN_INT)),
    Row("conv_transpose", "output_padding", "range", conv_transpose(stride=2, output_padding=None),
        st.one_of(NEGATIVE, st.integers(2, 9))),
    Row("conv_transpose", "output_size", "unreachable", conv_transpose(stride=2, output_size=None),
        st.one_of(st.integers(0, 16), st.integers(19, 99)).map(lambda n: (n, 17))),
    Row("conv_transpose", "output_size", "count or type", conv_transpose(stride=2, output_size=None),
        st.one_of(wrong_length(2, st.just(17)).filter(lambda v: len(v) != 4), st.just("17"), st.just((17.0, 17.0)),
                  st.just(17))),
    # pool and global_pool
    Row("pool", "x", "not a tensor", lambda v: F.pool(v, 2), NOT_A_TENSOR),
    Row("pool", "x", "rank", lambda v: F.pool(torch.zeros((4,) * v), 2), st.sampled_from([0, 1, 2, 6])),
    Row("pool", "x", "dtype", lambda v: F.pool(x4().to(v), 2), INTEGER_DTYPES),
    Row("pool", "kernel_size", "size", lambda v: F.pool(x4(), v), BAD_SIZE_TUPLE),
    Row("pool", "kernel_size", "larger than input", lambda v: F.pool(x4(), v), st.integers(9, 40)),
    Row("pool", "stride", "size", pool(stride=None), BAD_SIZE_TUPLE),
    Row("pool", "dilation", "size", pool(dilation=None), BAD_SIZE_TUPLE),
    Row("pool", "padding", "amount", pool(padding=None), BAD_PADDING),
    Row("pool", "padding", "window of padding only", pool(padding=None), st.integers(2, 6)),
    Row("pool", "kind", "unknown name", pool(kind=None), bad_choice(F.POOL_KINDS)),
    Row("pool", "p", "order", pool(kind="lp", p=None), st.one_of(st.floats(max_value=0.999), NAN_INF.filter(
        lambda v: v != float("inf")), NOT_A_NUMBER)),
    Row("pool", "ceil_mode", "not a bool", pool(ceil_mode=None), NOT_A_BOOL),
    Row("pool", "count_include_pad", "not a bool", pool(kind="avg", count_include_pad=None), NOT_A_BOOL),
    Row("pool", "return_indices", "not a bool", pool(return_indices=None), NOT_A_BOOL),
    Row("pool", "return_indices", "kind without indices", pool(return_indices=True, kind=None),
        st.sampled_from(["avg", "sum", "lp"])),
    Row("pool", "boundary", "unknown name", pool(padding=1, boundary=None), bad_choice(F.BOUNDARIES)
        .filter(lambda v: v is not None)),
    Row("pool", "value", "nan/inf", pool(padding=1, boundary="constant", value=None), NAN_INF),
    Row("global_pool", "x", "not a tensor", lambda v: F.global_pool(v), NOT_A_TENSOR),
    Row("global_pool", "x", "rank", lambda v: F.global_pool(torch.zeros((2,) * v)), st.integers(0, 2)),
    Row("global_pool", "x", "dtype", lambda v: F.global_pool(x4().to(v)), INTEGER_DTYPES),
    Row("global_pool", "x", "empty plane", lambda v: F.global_pool(torch.zeros(2, 3, *v)),
        st.lists(st.integers(0, 3), min_size=1, max_size=3).filter(lambda s: 0 in s)),
    Row("global_pool", "kind", "unknown name", lambda v: F.global_pool(x4(), v), bad_choice(F.POOL_KINDS)),
    Row("global_pool", "p", "order", lambda v: F.global_pool(x4(), "lp", v), st.floats(max_value=0.999)),
    Row("global_pool", "keepdim", "not a bool", lambda v: F.global_pool(x4(), keepdim=v), NOT_A_BOOL),
    # pad
    Row("pad", "x", "not a tensor", lambda v: F.pad(v, 1), NOT_A_TENSOR),
    Row("pad", "x", "rank", lambda v: F.pad(torch.zeros((2,) * v), 1), st.integers(0, 2)),
    Row("pad", "padding", "amount", lambda v: F.pad(x4(), v), BAD_PADDING),
    Row("pad", "boundary", "unknown name", lambda v: F.pad(x4(), 1, v), bad_choice(F.BOUNDARIES)),
    Row("pad", "value", "nan/inf", lambda v: F.pad(x4(), 1, "constant", v), NAN_INF),
    Row("pad", "value", "not a number", lambda v: F.pad(x4(), 1, "neumann", v), NOT_A_NUMBER),
    Row("pad", "padding", "reflect wider than input", lambda v: F.pad(x4(), v, "reflect"), st.integers(8, 30)),
    Row("normalize_padding", "padding", "amount", lambda v: F.normalize_padding(v, 2), BAD_PADDING,
        where="pad"),
    Row("normalize_padding", "dims", "count", lambda v: F.normalize_padding(1, v), st.one_of(NON_POSITIVE, NOT_AN_INT),
        where="pad"),
    Row("resolve_padding", "padding", "unknown name", lambda v: F.resolve_padding(v, (8,), (3,), (1,), (1,)),
        bad_choice(["valid", "same", "full"]).filter(lambda v: isinstance(v, str)), where="conv"),
    Row("resolve_padding", "sizes", "count", lambda v: F.resolve_padding("same", v, (3,), (1,), (1,)),
        wrong_length(1, st.integers(1, 9)), where="conv"),
    Row("resolve_padding", "stride", "count", lambda v: F.resolve_padding("same", (8, 8), (3, 3), v, (1, 1)),
        wrong_length(2), where="conv"),
    # maxout: the tensor, the piece count (also one that does not divide the axis)
    Row("maxout", "x", "not a tensor", lambda v: F.maxout(v, 2), NOT_A_TENSOR),
    Row("maxout", "pieces", "count", lambda v: F.maxout(torch.randn(2, 4, 3), v),
        st.one_of(NON_POSITIVE, NOT_AN_INT)),
    Row("maxout", "x", "axis not divisible by pieces", lambda v: F.maxout(torch.randn(2, v, 3), 4),
        st.integers(1, 15).filter(lambda c: c % 4)),
]

# Shape arithmetic: every size argument of every formula.
for name, call in (
        ("conv_output_size", lambda **k: F.conv_output_size(**{"n": 8, "kernel": 3, **k})),
        ("pool_output_size", lambda **k: F.pool_output_size(**{"n": 8, "kernel": 3, **k})),
        ("conv_transpose_output_size", lambda **k: F.conv_transpose_output_size(**{"n": 8, "kernel": 3, **k})),
        ("same_padding", lambda **k: F.same_padding(**{"n": 8, "kernel": 3, **k}))):
    ROWS += [
        Row(name, "n", "negative", lambda v, call=call: call(n=v), NEGATIVE),
        Row(name, "n", "not an int", lambda v, call=call: call(n=v), NOT_AN_INT),
        Row(name, "kernel", "not ≥ 1", lambda v, call=call: call(kernel=v), st.one_of(NON_POSITIVE, NOT_AN_INT)),
        Row(name, "stride", "not ≥ 1", lambda v, call=call: call(stride=v),   # pool's stride=None means kernel
            st.one_of(NON_POSITIVE, NOT_AN_INT.filter(lambda v: v is not None))),
        Row(name, "dilation", "not ≥ 1", lambda v, call=call: call(dilation=v), st.one_of(NON_POSITIVE, NOT_AN_INT)),
    ]
    if name != "same_padding":
        ROWS.append(Row(name, "padding", "amount", lambda v, call=call: call(padding=v),
                        st.one_of(NEGATIVE, st.floats(), st.none(), st.text(max_size=2), st.just((1, -1)),
                                  st.just((1, 2, 3)))))
ROWS += [
    Row("pool_output_size", "ceil_mode", "not a bool", lambda v: F.pool_output_size(8, 2, ceil_mode=v), NOT_A_BOOL),
    Row("conv_transpose_output_size", "output_padding", "range",
        lambda v: F.conv_transpose_output_size(8, 3, 2, output_padding=v), st.one_of(NEGATIVE, st.integers(2, 9))),
    Row("conv_transpose_output_size", "padding", "crops everything",
        lambda v: F.conv_transpose_output_size(1, 1, padding=v), st.integers(1, 9)),
    Row("receptive_field", "layers", "not a list of layers", lambda v: F.receptive_field(v),
        st.one_of(st.integers(), st.none(), st.text(min_size=1, max_size=3))),
    Row("receptive_field", "layers", "wrong tuple", lambda v: F.receptive_field([v]),
        st.lists(st.integers(0, 3), max_size=6).filter(lambda v: len(v) != 4).map(tuple)),
    Row("receptive_field", "kernel", "not ≥ 1", lambda v: F.receptive_field([(v, 1, 1, 0)]),
        st.one_of(NON_POSITIVE, NOT_AN_INT)),
    Row("receptive_field", "stride", "not ≥ 1", lambda v: F.receptive_field([(3, v, 1, 0)]),
        st.one_of(NON_POSITIVE, NOT_AN_INT)),
    Row("receptive_field", "padding_low", "negative", lambda v: F.receptive_field([(3, 1, 1, v)]),
        st.one_of(NEGATIVE, NOT_AN_INT)),
]

# Names of convrnn.functional that take no argument a table could get wrong.
NOT_IN_TABLE = {"BOUNDARIES": "a constant", "POOL_KINDS": "a constant", "ReceptiveField": "a result record"}


def test_the_table_covers_every_public_function():
    assert set(F.__all__) - covered_names(ROWS) == set(NOT_IN_TABLE)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_argument_is_a_clear_error(row):
    run_rows(ROWS, CI_EXAMPLES)(row)


@pytest.mark.fuzz
@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_argument_is_a_clear_error_fuzzed(row):
    run_rows(ROWS, FUZZ_EXAMPLES)(row)
