"""Every public layer and function of convrnn.layers outside the recurrent engine (convolution, pooling, glue
blocks, attention, CTC, columns, normalisation over time) given bad arguments, one row per (API, argument, kind
of bad value): a ValueError/TypeError from convrnn's own checks naming the API, the argument and what was
expected (see tests/bad_arguments.py). The recurrent layers' table is tests/layers/recurrent/test_bad_arguments.py."""

import math

import pytest
import torch
from hypothesis import strategies as st

import convrnn.layers as L
import convrnn.layers.recurrent
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

BAD_COUNT = st.one_of(NON_POSITIVE, NOT_AN_INT)
BAD_SIZE_TUPLE = st.one_of(NON_POSITIVE, NOT_AN_INT.filter(lambda v: v is not None), wrong_length(2))


def x4(channels: int = 3, size: int = 8) -> torch.Tensor:
    return torch.randn(2, channels, size, size)


def seq(n: int = 2, t: int = 5, f: int = 4) -> torch.Tensor:
    return torch.randn(n, t, f)


def log_probs(n: int = 2, t: int = 5, k: int = 4) -> torch.Tensor:
    return torch.randn(n, t, k).log_softmax(-1)


def ctc_loss(**changes):
    arguments = {"log_probs": log_probs(), "input_lengths": torch.tensor([5, 4]),
                 "targets": torch.tensor([[1, 2], [3, 1]]), "target_lengths": torch.tensor([2, 1])}

    def call(value):
        given = {**arguments, **{k: (value if v is None else v) for k, v in changes.items()}}
        return L.CTCLoss()(given["log_probs"], given["input_lengths"], given["targets"], given["target_lengths"])
    return call


def attention(**changes):
    def call(value):
        given = {"query": torch.randn(2, 4), "keys": torch.randn(2, 5, 4), "values": None,
                 **{k: (value if v is None else v) for k, v in changes.items()}}
        lengths, mask = given.pop("lengths", None), given.pop("mask", None)
        return L.Attention("dot", 4, 4)(given["query"], given["keys"], given["values"], lengths=lengths, mask=mask)
    return call


ROWS = [
    # Conv and its aliases: sizes, options, then forward's input
    Row("Conv", "in_channels", "count", lambda v: L.Conv2d(v, 4, 3), BAD_COUNT),
    Row("Conv", "out_channels", "count", lambda v: L.Conv2d(3, v, 3), BAD_COUNT),
    Row("Conv", "kernel_size", "size", lambda v: L.Conv2d(3, 4, v), BAD_SIZE_TUPLE),
    Row("Conv", "kernel_size", "int without dims", lambda v: L.Conv(3, 4, v), st.integers(1, 5)),
    Row("Conv", "dims", "count", lambda v: L.Conv(3, 4, 3, dims=v), st.one_of(st.integers().filter(
        lambda d: d not in (1, 2, 3)), st.text(max_size=2), st.just(2.0))),
    Row("Conv", "stride", "size", lambda v: L.Conv2d(3, 4, 3, stride=v), BAD_SIZE_TUPLE),
    Row("Conv", "dilation", "size", lambda v: L.Conv2d(3, 4, 3, dilation=v), BAD_SIZE_TUPLE),
    Row("Conv", "padding", "amount", lambda v: L.Conv2d(3, 4, 3, padding=v),
        st.one_of(NEGATIVE, st.floats(), st.none(), wrong_length(2, st.integers(0, 2)), st.text(max_size=5).filter(
            lambda s: s not in ("valid", "same", "full")))),
    Row("Conv", "groups", "count", lambda v: L.Conv2d(4, 4, 3, groups=v), BAD_COUNT),
    Row("Conv", "groups", "not a divisor", lambda v: L.Conv2d(3, 4, 3, groups=v), st.sampled_from([2, 4, 5, 6])),
    Row("Conv", "bias", "not a bool", lambda v: L.Conv2d(3, 4, 3, bias=v), NOT_A_BOOL),
    Row("Conv", "boundary", "unknown name", lambda v: L.Conv2d(3, 4, 3, boundary=v), bad_choice(
        ("zeros", "constant", "neumann", "reflect", "symmetric", "circular"))),
    Row("Conv", "value", "nan/inf", lambda v: L.Conv2d(3, 4, 3, padding=1, boundary="constant", value=v), NAN_INF),
    Row("Conv", "value", "not a number", lambda v: L.Conv2d(3, 4, 3, value=v), NOT_A_NUMBER),
    Row("Conv", "flip", "not a bool", lambda v: L.Conv2d(3, 4, 3, flip=v), NOT_A_BOOL),
    Row("Conv", "init", "unknown name", lambda v: L.Conv2d(3, 4, 3, init=v), bad_choice(("kaiming", "xavier", "torch"))),
    Row("Conv.forward", "x", "channels", lambda v: L.Conv2d(3, 4, 3)(x4(channels=v)),
        st.integers(1, 8).filter(lambda c: c != 3), where="conv"),
    Row("Conv.forward", "x", "rank", lambda v: L.Conv2d(3, 4, 3)(torch.zeros((3,) * v)),
        st.integers(0, 6).filter(lambda r: r != 4), where="conv"),
    Row("Conv.forward", "x", "dtype", lambda v: L.Conv2d(3, 4, 3)(x4().to(v)),
        st.one_of(INTEGER_DTYPES, st.just(torch.float64)), where="conv"),
    Row("Conv.forward", "x", "device", lambda v: L.Conv2d(3, 4, 3)(v), on_meta(x4), where="conv"),
    Row("Conv.forward", "x", "not a tensor", lambda v: L.Conv2d(3, 4, 3)(v), NOT_A_TENSOR, where="conv"),
    Row("ConvTranspose", "in_channels", "count", lambda v: L.ConvTranspose2d(v, 4, 3), BAD_COUNT),
    Row("ConvTranspose", "out_channels", "count", lambda v: L.ConvTranspose2d(3, v, 3), BAD_COUNT),
    Row("ConvTranspose", "groups", "count", lambda v: L.ConvTranspose2d(4, 4, 3, groups=v), BAD_COUNT),
    Row("ConvTranspose", "kernel_size", "size", lambda v: L.ConvTranspose2d(3, 4, v), BAD_SIZE_TUPLE),
    Row("ConvTranspose", "padding", "amount", lambda v: L.ConvTranspose2d(3, 4, 3, padding=v),
        st.one_of(NEGATIVE, st.just("same"), st.floats(), st.none())),
    Row("ConvTranspose", "output_padding", "range", lambda v: L.ConvTranspose2d(3, 4, 3, stride=2, output_padding=v),
        st.one_of(NEGATIVE, st.integers(2, 9))),
    Row("ConvTranspose", "bias", "not a bool", lambda v: L.ConvTranspose2d(3, 4, 3, bias=v), NOT_A_BOOL),
    Row("ConvTranspose.forward", "x", "dtype", lambda v: L.ConvTranspose2d(3, 4, 3)(x4().to(v)),
        st.one_of(INTEGER_DTYPES, st.just(torch.float64)), where="conv_transpose"),
    Row("ConvTranspose.forward", "output_size", "unreachable",
        lambda v: L.ConvTranspose2d(3, 4, 3, stride=2)(x4(), output_size=v),
        st.one_of(st.integers(0, 16), st.integers(19, 99)).map(lambda n: (n, 17)), where="conv_transpose"),
    Row("SeparableConv", "in_channels", "count", lambda v: L.SeparableConv(v, 4, (3, 3)), BAD_COUNT, where="Conv"),
    Row("Conv.depthwise", "multiplier", "count", lambda v: L.Conv.depthwise(3, (3, 3), multiplier=v), BAD_COUNT,
        where="Conv"),
    Row("SeparableConv", "out_channels", "count", lambda v: L.SeparableConv(3, v, (3, 3)), BAD_COUNT, where="Conv"),
    Row("SeparableConv", "kernel_size", "int without dims", lambda v: L.SeparableConv(3, 4, v), st.integers(1, 5)),
    Row("SharedFilterConv", "out_channels", "count", lambda v: L.SharedFilterConv((3, 3), v), BAD_COUNT,
        where="Conv"),
    Row("SharedFilterConv.forward", "x", "not a tensor", lambda v: L.SharedFilterConv((3, 3))(v), NOT_A_TENSOR,
        where="SharedFilterConv"),
    # Pool, GlobalPool
    Row("Pool", "kernel_size", "size", lambda v: L.Pool2d(v), BAD_SIZE_TUPLE, where="Pool2d"),
    Row("Pool", "dims", "count", lambda v: L.Pool(2, dims=v), st.integers().filter(lambda d: d not in (1, 2, 3))),
    Row("Pool", "stride", "size", lambda v: L.Pool2d(2, stride=v), BAD_SIZE_TUPLE, where="Pool2d"),
    Row("Pool", "padding", "amount", lambda v: L.Pool2d(2, padding=v), st.one_of(NEGATIVE, st.floats(), st.none()),
        where="Pool2d"),
    Row("Pool", "kind", "unknown name", lambda v: L.Pool2d(2, kind=v), bad_choice(L.pool.KINDS), where="Pool2d"),
    Row("Pool", "p", "order", lambda v: L.Pool2d(2, kind="lp", p=v), st.one_of(st.floats(max_value=0.999),
        st.just(math.nan), NOT_A_NUMBER), where="Pool2d"),
    Row("Pool", "ceil_mode", "not a bool", lambda v: L.Pool2d(2, ceil_mode=v), NOT_A_BOOL, where="Pool2d"),
    Row("Pool", "return_indices", "not a bool", lambda v: L.Pool2d(2, return_indices=v), NOT_A_BOOL, where="Pool2d"),
    Row("Pool", "count_include_pad", "not a bool", lambda v: L.Pool2d(2, count_include_pad=v), NOT_A_BOOL,
        where="Pool2d"),
    Row("Pool", "value", "nan/inf", lambda v: L.Pool2d(2, padding=1, boundary="constant", value=v), NAN_INF,
        where="Pool2d"),
    Row("Pool", "boundary", "unknown name", lambda v: L.Pool2d(2, padding=1, boundary=v),
        bad_choice(("zeros", "constant", "neumann", "reflect", "symmetric", "circular", None)), where="Pool2d"),
    Row("Pool.forward", "x", "rank", lambda v: L.Pool2d(2)(torch.zeros((4,) * v)),
        st.integers(0, 6).filter(lambda r: r != 4), where="Pool2d"),
    Row("Pool.forward", "x", "not a tensor", lambda v: L.Pool2d(2)(v), NOT_A_TENSOR, where="Pool2d"),
    Row("Pool.forward", "x", "dtype", lambda v: L.Pool2d(2)(x4().to(v)), INTEGER_DTYPES, where="pool"),
    Row("GlobalPool", "kind", "unknown name", lambda v: L.GlobalPool(v), bad_choice(L.pool.KINDS)),
    Row("GlobalPool", "p", "order", lambda v: L.GlobalPool("lp", v), st.one_of(st.floats(max_value=0.999),
        st.just(math.nan))),
    Row("GlobalPool", "keepdim", "not a bool", lambda v: L.GlobalPool(keepdim=v), NOT_A_BOOL),
    Row("GlobalPool.forward", "x", "rank", lambda v: L.GlobalPool()(torch.zeros((2,) * v)), st.integers(0, 2),
        where="global_pool"),
    # ClipNorm, RunningNorm
    Row("ClipNorm", "min_std", "not > 0", lambda v: L.ClipNorm(v), st.one_of(st.floats(max_value=0), NAN_INF,
        NOT_A_NUMBER)),
    Row("ClipNorm.forward", "x", "rank", lambda v: L.ClipNorm()(torch.zeros((2,) * v)),
        st.integers(0, 5).filter(lambda r: r != 3), where="ClipNorm"),
    Row("ClipNorm.forward", "x", "dtype", lambda v: L.ClipNorm()(seq().to(v)), INTEGER_DTYPES, where="ClipNorm"),
    Row("ClipNorm.forward", "x", "not a tensor", lambda v: L.ClipNorm()(v), NOT_A_TENSOR, where="ClipNorm"),
    Row("RunningNorm", "time_constant", "not ≥ 1", lambda v: L.RunningNorm(v), st.one_of(st.floats(max_value=0.999),
        st.just(math.nan), st.text(max_size=2))),
    Row("RunningNorm", "min_std", "not > 0", lambda v: L.RunningNorm(min_std=v), st.one_of(st.floats(max_value=0),
        NAN_INF, NOT_A_NUMBER)),
    Row("RunningNorm.forward", "x", "rank", lambda v: L.RunningNorm()(torch.zeros((2,) * v)),
        st.integers(0, 5).filter(lambda r: r != 3), where="RunningNorm"),
    Row("RunningNorm.forward", "x", "dtype", lambda v: L.RunningNorm()(seq().to(v)), INTEGER_DTYPES,
        where="RunningNorm"),
    # Parallel, Residual
    Row("Parallel", "merge", "unknown name", lambda v: L.Parallel(torch.nn.Identity(), merge=v),
        bad_choice(("concat", "sum", "mean", "stack"))),
    Row("Parallel", "branches[0]", "not a module", lambda v: L.Parallel(v), st.one_of(st.integers(), st.text(
        max_size=2), st.none(), st.just(torch.relu))),
    Row("Parallel", "dim", "not an int", lambda v: L.Parallel(torch.nn.Identity(), dim=v), NOT_AN_INT),
    Row("Residual", "block", "not a module", lambda v: L.Residual(v), st.one_of(st.integers(), st.text(max_size=2),
        st.none(), st.just(torch.relu))),
    Row("Residual", "shortcut", "not a module", lambda v: L.Residual(torch.nn.Identity(), v),
        st.one_of(st.integers(), st.text(max_size=2), st.just(torch.relu))),
    # Attention and its helpers
    Row("Attention", "kind", "unknown name", lambda v: L.Attention(v, 4, 4), bad_choice(L.ATTENTION_KINDS)),
    Row("Attention", "query_size", "count", lambda v: L.Attention("additive", v, 4), BAD_COUNT),
    Row("Attention", "key_size", "count", lambda v: L.Attention("additive", 4, v), BAD_COUNT),
    Row("Attention", "hidden_size", "count", lambda v: L.Attention("additive", 4, 4, hidden_size=v),
        BAD_COUNT.filter(lambda v: v is not None)),
    Row("Attention", "scale", "not a bool", lambda v: L.Attention("dot", 4, 4, scale=v), NOT_A_BOOL),
    Row("Attention.forward", "query", "shape", attention(query=None), st.sampled_from([(2, 5), (3, 4), (2, 3, 5)])
        .map(torch.randn)),
    Row("Attention.forward", "query", "rank", attention(query=None), st.sampled_from([(4,), (2, 1, 1, 4)])
        .map(torch.randn)),
    Row("Attention.forward", "keys", "shape", attention(keys=None), st.sampled_from([(2, 5, 3), (2, 5)])
        .map(torch.randn)),
    Row("Attention.forward", "keys", "dtype", attention(keys=None), st.sampled_from([torch.float64, torch.int64])
        .map(lambda d: torch.zeros(2, 5, 4, dtype=d))),
    Row("Attention.forward", "keys", "device", attention(keys=None), on_meta(lambda: torch.zeros(2, 5, 4))),
    Row("Attention.forward", "values", "shape", attention(values=None), st.sampled_from([(2, 4, 3), (3, 5, 3)])
        .map(torch.randn)),
    Row("Attention.forward", "query", "dtype (parameters)", lambda v: L.Attention("additive", 4, 4)(
        v, torch.randn(2, 5, 4).to(v.dtype)), st.sampled_from([torch.float64, torch.float16]).map(
        lambda d: torch.zeros(2, 4, dtype=d))),
    Row("Attention.forward", "lengths", "out of range", attention(lengths=None),
        st.lists(st.one_of(st.integers(-(2**62), 0), st.integers(6, 99)), min_size=2, max_size=2).map(torch.tensor)),
    Row("Attention.forward", "lengths", "dtype or count", attention(lengths=None),
        st.sampled_from([torch.tensor([5.0, 1.0]), torch.tensor([True, True]), torch.tensor([5]),
                         torch.tensor([[5, 1]])])),
    Row("Attention.forward", "lengths", "device", attention(lengths=None), on_meta(lambda: torch.tensor([5, 1]))),
    Row("Attention.forward", "mask", "dtype or shape", attention(mask=None),
        st.sampled_from([torch.ones(2, 5), torch.ones(2, 4, dtype=torch.bool), torch.zeros(2, 5, dtype=torch.bool)])),
    Row("masked_softmax", "valid", "shape", lambda v: L.masked_softmax(torch.randn(2, 5), v),
        st.sampled_from([(2, 4), (3, 5), (2, 5, 2)]).map(lambda s: torch.ones(s, dtype=torch.bool))),
    Row("masked_softmax", "valid", "dtype", lambda v: L.masked_softmax(torch.randn(2, 5), torch.ones(2, 5, dtype=v)),
        st.sampled_from([torch.float32, torch.int64, torch.uint8])),
    Row("masked_softmax", "scores", "not floating", lambda v: L.masked_softmax(v, torch.ones(2, 5, dtype=torch.bool)),
        st.one_of(NOT_A_TENSOR, INTEGER_DTYPES.map(lambda d: torch.zeros(2, 5, dtype=d)))),
    Row("source_mask", "batch", "count", lambda v: L.source_mask(v, 5), st.one_of(NEGATIVE, NOT_AN_INT)),
    Row("source_mask", "steps", "count", lambda v: L.source_mask(2, v), st.one_of(NON_POSITIVE, NOT_AN_INT)),
    Row("source_mask", "lengths", "out of range", lambda v: L.source_mask(2, 5, lengths=v),
        st.lists(st.one_of(st.integers(-(2**62), 0), st.integers(6, 99)), min_size=2, max_size=2).map(torch.tensor)),
    # CTC
    Row("CTCHead", "in_features", "count", lambda v: L.CTCHead(v, 5), BAD_COUNT),
    Row("CTCHead", "classes", "count", lambda v: L.CTCHead(4, v), BAD_COUNT),
    Row("CTCHead.forward", "x", "shape", lambda v: L.CTCHead(4, 5)(v),
        st.sampled_from([(2, 3, 7), (3, 4), (1, 2, 3, 4)]).map(torch.randn), where="CTCHead"),
    Row("CTCHead.forward", "x", "dtype", lambda v: L.CTCHead(4, 5)(torch.zeros(2, 3, 4, dtype=v)), INTEGER_DTYPES,
        where="CTCHead"),
    Row("CTCLoss", "blank", "index", lambda v: L.CTCLoss(blank=v), st.one_of(NEGATIVE, NOT_AN_INT)),
    Row("CTCLoss", "reduction", "unknown name", lambda v: L.CTCLoss(reduction=v), bad_choice(("mean", "sum", "none"))),
    Row("CTCLoss.forward", "blank", "past the symbols", lambda v: L.CTCLoss(blank=v)(
        log_probs(), torch.tensor([5, 4]), torch.tensor([[1, 2], [3, 1]]), torch.tensor([2, 1])),
        st.integers(4, 99), where="CTCLoss"),
    Row("CTCLoss.forward", "log_probs", "rank or dtype", ctc_loss(log_probs=None),
        st.sampled_from([torch.randn(5, 4), torch.zeros(2, 5, 4, dtype=torch.int64), torch.randn(1, 2, 5, 4)]),
        where="CTCLoss"),
    Row("CTCLoss.forward", "input_lengths", "out of range", ctc_loss(input_lengths=None),
        st.lists(st.one_of(st.integers(-(2**62), 0), st.integers(6, 99)), min_size=2, max_size=2).map(torch.tensor),
        where="CTCLoss"),
    Row("CTCLoss.forward", "input_lengths", "dtype, count or device", ctc_loss(input_lengths=None),
        st.sampled_from([torch.tensor([5.0, 4.0]), torch.tensor([True, True]), torch.tensor([5]),
                         torch.tensor([5, 4], device="meta")]), where="CTCLoss"),
    Row("CTCLoss.forward", "targets", "symbol", ctc_loss(targets=None),
        st.sampled_from([0, -1, 4, 99]).map(lambda s: torch.tensor([[s, 2], [3, 1]])), where="CTCLoss"),
    Row("CTCLoss.forward", "targets", "dtype or rows", ctc_loss(targets=None),
        st.sampled_from([torch.tensor([[1.0, 2.0], [3.0, 1.0]]), torch.tensor([[1, 2]]), torch.ones(2, 2, 2).long()]),
        where="CTCLoss"),
    Row("CTCLoss.forward", "target_lengths", "out of range", ctc_loss(target_lengths=None),
        st.lists(st.one_of(st.integers(-(2**62), -1), st.integers(3, 99)), min_size=2, max_size=2).map(torch.tensor),
        where="CTCLoss"),
    Row("ctc_best_path", "blank", "index", lambda v: L.ctc_best_path(log_probs(), blank=v),
        st.one_of(NEGATIVE, st.integers(4, 99), NOT_AN_INT)),
    Row("ctc_best_path", "lengths", "out of range", lambda v: L.ctc_best_path(log_probs(), v),
        st.lists(st.one_of(st.integers(-(2**62), -1), st.integers(6, 99)), min_size=2, max_size=2).map(torch.tensor)),
    Row("ctc_best_path", "lengths", "dtype or count", lambda v: L.ctc_best_path(log_probs(), v),
        st.sampled_from([torch.tensor([5.0, 4.0]), torch.tensor([5]), torch.tensor([True, False]),
                         torch.tensor([5, 4], device="meta")])),
    Row("ctc_best_path", "log_probs", "rank", lambda v: L.ctc_best_path(v),
        st.sampled_from([(5, 4), (4,), (1, 2, 5, 4)]).map(torch.randn)),
    Row("ctc_greedy_decode", "lengths", "out of range", lambda v: L.ctc_greedy_decode(log_probs(), v),
        st.lists(st.one_of(st.integers(-(2**62), -1), st.integers(6, 99)), min_size=2, max_size=2).map(torch.tensor),
        where="ctc_best_path"),
    Row("ctc_beam_decode", "beam_width", "count", lambda v: L.ctc_beam_decode(log_probs(), beam_width=v), BAD_COUNT,
        where="ctc_beam_search"),
    Row("ctc_beam_decode", "min_log_prob", "nan or > 0", lambda v: L.ctc_beam_decode(log_probs(), min_log_prob=v),
        st.one_of(st.just(math.nan), st.floats(min_value=0.001, allow_infinity=True), NOT_A_NUMBER),
        where="ctc_beam_search"),
    Row("ctc_beam_decode", "lengths", "out of range", lambda v: L.ctc_beam_decode(log_probs(), v),
        st.lists(st.integers(6, 99), min_size=2, max_size=2).map(torch.tensor)),
    Row("ctc_beam_search", "top", "count", lambda v: L.ctc_beam_search(log_probs()[0], top=v), BAD_COUNT),
    Row("ctc_beam_search", "log_probs", "rank or device", lambda v: L.ctc_beam_search(v),
        st.sampled_from([torch.randn(5), torch.randn(2, 5, 4), torch.randn(5, 4, device="meta")])),
    Row("ctc_beam_search", "blank", "index", lambda v: L.ctc_beam_search(log_probs()[0], blank=v),
        st.one_of(NEGATIVE, st.integers(4, 99))),
    Row("symbols_to_labels", "symbols", "blank or not ints", lambda v: L.symbols_to_labels(v),
        st.one_of(st.lists(st.integers(-(2**62), 0), min_size=1, max_size=3), st.just("ab"), st.just([1.5]),
                  st.none())),
    # columns
    Row("ColumnsAsTime", "channels", "count", lambda v: L.ColumnsAsTime(v, 2), BAD_COUNT.filter(lambda v: v is not None)),
    Row("ColumnsAsTime", "height", "count", lambda v: L.ColumnsAsTime(2, v), BAD_COUNT.filter(lambda v: v is not None)),
    Row("ColumnsAsTime.forward", "x", "shape", lambda v: L.ColumnsAsTime(3, 8)(v),
        st.sampled_from([(2, 4, 8, 5), (2, 3, 7, 5), (3, 8, 5)]).map(torch.randn), where="ColumnsAsTime"),
    Row("columns_to_sequence", "x", "rank", lambda v: L.columns_to_sequence(torch.zeros((2,) * v)),
        st.integers(0, 6).filter(lambda r: r != 4)),
    Row("sequence_to_columns", "channels", "count", lambda v: L.sequence_to_columns(seq(f=6), v, 3), BAD_COUNT),
    Row("sequence_to_columns", "x", "features", lambda v: L.sequence_to_columns(seq(f=v), 2, 3),
        st.integers(1, 12).filter(lambda f: f != 6)),
    Row("output_width", "width", "negative or not an int", lambda v: L.output_width(v, L.Conv2d(1, 1, 3)),
        st.one_of(NEGATIVE, NOT_AN_INT)),
    Row("output_width", "layers", "not modules", lambda v: L.output_width(8, v), st.one_of(st.integers(), st.none())),
    Row("column_lengths", "widths", "negative, dtype or device", lambda v: L.column_lengths(v, L.Conv2d(1, 1, 3)),
        st.one_of(st.lists(st.integers(-(2**62), -1), min_size=1, max_size=3).map(torch.tensor),
                  st.sampled_from([torch.tensor([5.5]), torch.tensor([True]), torch.tensor([5], device="meta"),
                                   torch.tensor([[5]])]))),
    # maxout layers: sizes and piece counts; a feature map whose channels the pieces do not divide
    Row("Maxout", "in_features", "count", lambda v: L.Maxout(v, 3, 2), BAD_COUNT),
    Row("Maxout", "pieces", "count", lambda v: L.Maxout(4, 3, v), BAD_COUNT),
    Row("ChannelMaxout", "pieces", "count", lambda v: L.ChannelMaxout(v), BAD_COUNT),
    Row("ChannelMaxout.forward", "x", "channels not divisible", lambda v: L.ChannelMaxout(4)(torch.randn(2, v, 3)),
        st.integers(1, 15).filter(lambda c: c % 4), where="maxout"),
]

# torch.nn's own classes, re-exported; they check their arguments themselves.
NOT_IN_TABLE = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Dropout", "Flatten", "Unflatten",
                "ATTENTION_KINDS"}  # and a constant
ALIASES = {"Conv1d": "Conv", "Conv2d": "Conv", "Conv3d": "Conv", "ConvTranspose1d": "ConvTranspose",
           "ConvTranspose2d": "ConvTranspose", "ConvTranspose3d": "ConvTranspose", "Pool1d": "Pool", "Pool2d": "Pool",
           "Pool3d": "Pool"}   # one class under another name, its rows under the class


def test_the_table_covers_every_public_name_outside_the_recurrent_engine():
    names = set(L.__all__) - set(convrnn.layers.recurrent.__all__) - NOT_IN_TABLE - set(ALIASES)
    assert names - covered_names(ROWS) == set()


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_argument_is_a_clear_error(row):
    run_rows(ROWS, CI_EXAMPLES)(row)


@pytest.mark.fuzz
@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_argument_is_a_clear_error_fuzzed(row):
    run_rows(ROWS, FUZZ_EXAMPLES)(row)
