"""Every public layer, cell and function of the recurrent engine given bad arguments, one row per (API, argument,
kind of bad value): constructors (sizes, probabilities, flags, options), forward (x, lengths, state: shape, dtype,
device, count), the cells' steps, the parallel layers and from_torch. Each must be a ValueError/TypeError from
convrnn's own checks naming the API, the argument and what was expected (see tests/bad_arguments.py)."""

import math

import pytest
import torch
from hypothesis import strategies as st

import convrnn.layers.recurrent as R
from bad_arguments import (
    CI_EXAMPLES,
    FLOAT_DTYPES_OTHER_THAN_FLOAT32,
    FUZZ_EXAMPLES,
    INTEGER_DTYPES,
    NAN_INF,
    NON_POSITIVE,
    NOT_A_BOOL,
    NOT_A_TENSOR,
    NOT_AN_INT,
    NOT_INTEGER_DTYPES,
    Row,
    bad_choice,
    covered_names,
    on_meta,
    run_rows,
)

BAD_COUNT = st.one_of(NON_POSITIVE, NOT_AN_INT)
BAD_PROBABILITY = st.one_of(st.floats(max_value=-0.001), st.floats(min_value=1.001), NAN_INF, st.text(max_size=2))
BAD_KEEP_PROBABILITY = st.one_of(st.floats(max_value=-0.001), st.floats(min_value=1.0), NAN_INF, st.text(max_size=2))
N, T, F, H = 3, 6, 4, 5

# Every recurrent layer, each built fresh per example: (name, constructor of a layer reading F features into H).
LAYERS = [
    ("LSTM", lambda: R.LSTM(F, H)),
    ("LSTM", lambda: R.LSTM(F, H, peephole=True)),
    ("LSTM", lambda: R.LSTM(F, H, bidirectional=True, lookahead=1)),
    ("GRU", lambda: R.GRU(F, H)),
    ("GRU", lambda: R.GRU(F, H, layer_norm=True)),
    ("MGU", lambda: R.MGU(F, H)),
    ("Elman", lambda: R.Elman(F, H)),
    ("Jordan", lambda: R.Jordan(F, H)),
    ("RNN", lambda: R.RNN("gru", F, H, reset="after", num_layers=2)),
    ("MinGRU", lambda: R.MinGRU(F, H)),
    ("MinLSTM", lambda: R.MinLSTM(F, H, bidirectional=True)),
    ("QRNN", lambda: R.QRNN(F, H)),
]
CONSTRUCTORS = {"LSTM": R.LSTM, "GRU": R.GRU, "MGU": R.MGU, "Elman": R.Elman, "Jordan": R.Jordan,
                "MinGRU": R.MinGRU, "MinLSTM": R.MinLSTM, "QRNN": R.QRNN, "ParallelRNN": None,
                "RNN": lambda *a, **k: R.RNN("lstm", *a, **k)}
CELL_CLASSES = {"LSTMCell": R.LSTMCell, "GRUCell": R.GRUCell, "MGUCell": R.MGUCell, "ElmanCell": R.ElmanCell,
                "JordanCell": R.JordanCell}


def x(n: int = N, t: int = T, f: int = F) -> torch.Tensor:
    return torch.randn(n, t, f)


ROWS = []
for name, make in CONSTRUCTORS.items():
    if make is None:
        continue
    where = "LSTMCell" if name in ("LSTM", "RNN") else f"{name}Cell" if name in ("GRU", "MGU", "Elman", "Jordan") \
        else name
    ROWS += [
        Row(name, "input_size", "count", lambda v, make=make: make(v, H), BAD_COUNT.filter(lambda v: v is not None),
            where=where),
        Row(name, "hidden_size", "count", lambda v, make=make: make(F, v), BAD_COUNT.filter(lambda v: v is not None),
            where=where),
        Row(name, "num_layers", "count", lambda v, make=make: make(F, H, v), BAD_COUNT),
        Row(name, "bidirectional", "not a bool", lambda v, make=make: make(F, H, bidirectional=v), NOT_A_BOOL),
        Row(name, "batch_first", "not a bool", lambda v, make=make: make(F, H, batch_first=v), NOT_A_BOOL),
        Row(name, "dropout", "not a probability", lambda v, make=make: make(F, H, dropout=v),
            BAD_PROBABILITY if name not in ("MinGRU", "MinLSTM", "QRNN") else BAD_KEEP_PROBABILITY),
    ]
for name in ("LSTM", "GRU", "MGU", "Elman", "Jordan", "RNN"):
    make = CONSTRUCTORS[name]
    ROWS += [
        Row(name, "recurrent_dropout", "not a probability", lambda v, make=make: make(F, H, recurrent_dropout=v),
            BAD_KEEP_PROBABILITY),
        Row(name, "zoneout", "not a probability", lambda v, make=make: make(F, H, zoneout=v), BAD_KEEP_PROBABILITY),
        Row(name, "lookahead", "negative or not an int", lambda v, make=make: make(F, H, bidirectional=True,
            lookahead=v), st.one_of(st.integers(max_value=-1), st.floats(), st.text(max_size=2))),
        Row(name, "residual", "not a bool", lambda v, make=make: make(F, H, residual=v), NOT_A_BOOL),
        Row(name, "layer_norm", "not a bool", lambda v, make=make: make(F, H, layer_norm=v), NOT_A_BOOL,
            where="Cell"),
    ]
ROWS += [
    Row("LSTM", "lookahead", "without bidirectional", lambda v: R.LSTM(F, H, lookahead=v), st.integers(0, 5)),
    Row("LSTM", "peephole", "not a bool", lambda v: R.LSTM(F, H, peephole=v), NOT_A_BOOL, where="LSTMCell"),
    Row("LSTM", "proj_size", "range", lambda v: R.LSTM(F, H, proj_size=v), st.one_of(st.integers(max_value=-1),
        st.integers(min_value=H), st.floats()), where="LSTMCell"),
    Row("GRU", "reset", "unknown name", lambda v: R.GRU(F, H, reset=v), bad_choice(("before", "after")),
        where="GRUCell"),
    Row("Elman", "nonlinearity", "unknown name", lambda v: R.Elman(F, H, nonlinearity=v), bad_choice(("tanh", "relu")),
        where="ElmanCell"),
    Row("Jordan", "decision", "unknown name", lambda v: R.Jordan(F, H, decision=v),
        bad_choice(("identity", "tanh", "sigmoid", "softmax")), where="JordanCell"),
    Row("Jordan", "output_size", "count", lambda v: R.Jordan(F, H, output_size=v),
        BAD_COUNT.filter(lambda v: v is not None), where="JordanCell"),
    Row("RNN", "cell", "unknown", lambda v: R.RNN(v, F, H), st.one_of(bad_choice(sorted(R.CELLS)), st.just(int),
                                                                      st.just(torch.nn.LSTM))),
    Row("RNN", "input_size", "missing", lambda v: R.RNN("lstm", v, H), st.none()),
    Row("RNN", "hidden_size", "differs from the cell's", lambda v: R.RNN(R.LSTMCell(F, H), F, v),
        st.integers(1, 9).filter(lambda h: h != H)),
    Row("QRNN", "pooling", "unknown name", lambda v: R.QRNN(F, H, pooling=v), bad_choice(("f", "fo", "ifo"))),
    Row("QRNN", "window", "count", lambda v: R.QRNN(F, H, window=v), BAD_COUNT),
    Row("MinGRU", "window", "count", lambda v: R.MinGRU(F, H, window=v), BAD_COUNT),
    Row("ParallelRNN", "hidden_size", "count", lambda v: R.ParallelRNN(F, v), BAD_COUNT),
]

# forward of every layer: x, lengths, state, return_states
for name, make in LAYERS:
    where = f"{name}.forward"
    parallel = name in ("MinGRU", "MinLSTM", "QRNN")
    ROWS += [
        Row(f"{name}.forward", "x", "not a tensor", lambda v, make=make: make()(v), NOT_A_TENSOR, where=where),
        Row(f"{name}.forward", "x", "rank", lambda v, make=make: make()(torch.zeros((2,) * v)),
            st.integers(0, 5).filter(lambda r: r != 3), where=where),
        Row(f"{name}.forward", "x", "features", lambda v, make=make: make()(x(f=v)),
            st.integers(1, 9).filter(lambda f: f != F), where=where),
        Row(f"{name}.forward", "x", "no steps", lambda v, make=make: make()(x(t=0)), st.just(None), where=where),
        Row(f"{name}.forward", "x", "integer dtype", lambda v, make=make: make()(x().to(v)), INTEGER_DTYPES,
            where=where),
        Row(f"{name}.forward", "x", "dtype ≠ parameters'", lambda v, make=make: make()(x().to(v)),
            FLOAT_DTYPES_OTHER_THAN_FLOAT32, where=where),
        Row(f"{name}.forward", "x", "device", lambda v, make=make: make()(v), on_meta(x), where=where),
        Row(f"{name}.forward", "lengths", "out of range", lambda v, make=make: make()(x(), v),
            st.lists(st.one_of(st.integers(-(2**62), 0), st.integers(T + 1, 99)), min_size=N, max_size=N)
            .map(torch.tensor), where=where),
        Row(f"{name}.forward", "lengths", "count", lambda v, make=make: make()(x(), torch.full((v,), T)),
            st.integers(0, 7).filter(lambda n: n != N), where=where),
        Row(f"{name}.forward", "lengths", "dtype", lambda v, make=make: make()(x(), torch.full((N,), T).to(v)),
            NOT_INTEGER_DTYPES, where=where),
        Row(f"{name}.forward", "lengths", "rank or type", lambda v, make=make: make()(x(), v),
            st.sampled_from([torch.full((1, N), T), torch.tensor(T), [T] * N, T]), where=where),
        Row(f"{name}.forward", "lengths", "device", lambda v, make=make: make()(x(), v),
            on_meta(lambda: torch.full((N,), T)), where=where),
        Row(f"{name}.forward", "return_states", "not a bool", lambda v, make=make: make()(x(), return_states=v),
            NOT_A_BOOL, where=where),
    ]
    rows = make().num_layers * (2 if make().bidirectional else 1)
    parts = 1 if parallel or name in ("GRU", "MGU", "Elman", "RNN") else 2
    named = "state" if parallel else "state (h)"

    def state(shape, dtype=torch.float32, device="cpu", parts=parts):
        one = torch.zeros(shape, dtype=dtype, device=device)
        return one if parts == 1 else (one,) * parts

    ROWS += [
        Row(f"{name}.forward", "state", "shape", lambda v, make=make, state=state: make()(x(), None, state(v)),
            st.sampled_from([(rows, N, H + 1), (rows, N + 1, H), (rows + 1, N, H), (N, H), (1, rows, N, H)]),
            where=where, named=named),
        Row(f"{name}.forward", "state", "integer dtype", lambda v, make=make, state=state, rows=rows:
            make()(x(), None, state((rows, N, H), v)), INTEGER_DTYPES, where=where, named=named),
        Row(f"{name}.forward", "state", "device", lambda v, make=make, state=state, rows=rows:
            make()(x(), None, state((rows, N, H), device="meta")), st.just(None), where=where, named=named),
        Row(f"{name}.forward", "state", "structure", lambda v, make=make: make()(x(), None, v),
            st.sampled_from([(torch.zeros(rows, N, H),) * (parts + 1), "h", [[0.0]]]), where=where),
    ]
    if not parallel:
        ROWS.append(Row(f"{name}.forward", "state", "dtype ≠ x's", lambda v, make=make, state=state, rows=rows:
                        make()(x(), None, state((rows, N, H), v)), FLOAT_DTYPES_OTHER_THAN_FLOAT32, where=where,
                        named=named))

# the cells, one step
for name, cls in CELL_CLASSES.items():
    where = f"{name}.forward"
    parts = 2 if name in ("LSTMCell", "JordanCell") else 1

    def step_state(shape, dtype=torch.float32, device="cpu", parts=parts):
        one = torch.zeros(shape, dtype=dtype, device=device)
        return one if parts == 1 else (one,) * parts

    ROWS += [
        Row(name, "input_size", "count", lambda v, cls=cls: cls(v, H), BAD_COUNT),
        Row(name, "hidden_size", "count", lambda v, cls=cls: cls(F, v), BAD_COUNT),
        Row(name, "layer_norm", "not a bool", lambda v, cls=cls: cls(F, H, layer_norm=v), NOT_A_BOOL),
        Row(name, "bias", "not a bool", lambda v, cls=cls: cls(F, H, bias=v), NOT_A_BOOL),
        Row(f"{name}.forward", "x", "not a floating (N, F) tensor", lambda v, cls=cls: cls(F, H)(v),
            st.one_of(NOT_A_TENSOR, st.sampled_from([torch.zeros(N, F, dtype=torch.int64), torch.zeros(2, N, F),
                                                     torch.zeros(N, F + 1)])), where=where),
        Row(f"{name}.forward", "x", "dtype ≠ parameters'", lambda v, cls=cls: cls(F, H)(torch.zeros(N, F, dtype=v)),
            FLOAT_DTYPES_OTHER_THAN_FLOAT32, where=where),
        Row(f"{name}.forward", "x", "device", lambda v, cls=cls: cls(F, H)(v), on_meta(lambda: torch.zeros(N, F)),
            where=where),
        Row(f"{name}.forward", "state", "shape", lambda v, cls=cls, s=step_state: cls(F, H)(torch.zeros(N, F), s(v)),
            st.sampled_from([(N, H + 1), (N + 1, H), (1, N, H)]), where=where, named="state (h)"),
        Row(f"{name}.forward", "state", "dtype", lambda v, cls=cls, s=step_state: cls(F, H)(
            torch.zeros(N, F), s((N, H), v)), st.one_of(INTEGER_DTYPES, FLOAT_DTYPES_OTHER_THAN_FLOAT32),
            where=where, named="state (h)"),
        Row(f"{name}.forward", "state", "device", lambda v, cls=cls, s=step_state: cls(F, H)(
            torch.zeros(N, F), s((N, H), device="meta")), st.just(None), where=where, named="state (h)"),
    ]

# the engine's functions and from_torch
ROWS += [
    Row("scan", "cell", "not a cell", lambda v: R.scan(v, torch.zeros(T, N, 4 * H), (torch.zeros(N, H),) * 2),
        st.one_of(st.text(max_size=3), st.none(), st.just(torch.nn.LSTMCell(F, H)))),
    Row("scan", "xw", "rank or dtype", lambda v: R.scan(R.LSTMCell(F, H), v, (torch.zeros(N, H),) * 2),
        st.sampled_from([torch.zeros(N, 4 * H), torch.zeros(T, N, 4 * H, dtype=torch.int64)])),
    Row("scan", "state", "count or shape", lambda v: R.scan(R.LSTMCell(F, H), torch.zeros(T, N, 4 * H), v),
        st.sampled_from([(torch.zeros(N, H),), torch.zeros(N, H), (torch.zeros(N, H), torch.zeros(N + 1, H))]),
        named="state"),
    Row("run_direction", "cell", "not a cell", lambda v: R.run_direction(v, torch.zeros(T, N, F),
                                                                         (torch.zeros(N, H),) * 2),
        st.one_of(st.text(max_size=3), st.none())),
    Row("run_direction", "x", "rank", lambda v: R.run_direction(R.LSTMCell(F, H), v, (torch.zeros(N, H),) * 2),
        st.sampled_from([torch.zeros(N, F), torch.zeros(1, T, N, F)])),
    Row("run_direction", "state", "shape", lambda v: R.run_direction(R.GRUCell(F, H), torch.zeros(T, N, F), (v,)),
        st.sampled_from([(N, H + 1), (N + 1, H), (H,)]).map(torch.zeros), named="state (h)"),
    Row("run_lookahead", "lookahead", "negative or not an int", lambda v: R.run_lookahead(
        R.GRUCell(F, H), torch.zeros(T, N, F), (torch.zeros(N, H),), lookahead=v),
        st.one_of(st.integers(max_value=-1), st.floats(), st.none())),
    Row("run_lookahead", "cell", "not a cell", lambda v: R.run_lookahead(v, torch.zeros(T, N, F),
                                                                         (torch.zeros(N, H),), lookahead=1),
        st.one_of(st.text(max_size=3), st.none())),
    Row("linear_recurrence", "b", "shape", lambda v: R.linear_recurrence(torch.rand(T, N, H), v),
        st.sampled_from([(T, N, H + 1), (T + 1, N, H), (N, H)]).map(torch.zeros), named="a"),
    Row("linear_recurrence", "a", "dtype", lambda v: R.linear_recurrence(torch.zeros(T, N, H, dtype=v),
                                                                        torch.zeros(T, N, H, dtype=v)),
        INTEGER_DTYPES),
    Row("linear_recurrence", "h0", "shape", lambda v: R.linear_recurrence(torch.rand(T, N, H), torch.rand(T, N, H), v),
        st.sampled_from([(N, H + 1), (N + 1, H), (1, N, H)]).map(torch.zeros)),
    Row("from_torch", "module", "not a torch recurrent layer", lambda v: R.from_torch(v),
        st.one_of(st.sampled_from([torch.nn.LSTMCell(F, H), torch.nn.Linear(F, H), torch.nn.Conv1d(F, H, 3)]),
                  st.text(max_size=3), st.none())),
]
ROWS.append(Row("CELLS", "cell", "unknown name", lambda v: R.RNN(v, F, H), bad_choice(sorted(R.CELLS)),
                where="RNN"))
ROWS.append(Row("Cell", "input_size", "count", lambda v: R.ElmanCell(v, H), BAD_COUNT, where="ElmanCell"))
# seed 001's gated unit and seed 004's GRU convention
ROWS += [
    Row("Gated", "hidden_size", "count", lambda v: R.Gated(F, v), BAD_COUNT, where="Gated"),  # None is refused by the layer (Gated:), the rest by its cell (GatedCell:)
    Row("GatedCell", "hidden_size", "count", lambda v: R.GatedCell(F, v), BAD_COUNT),
    Row("Gated.forward", "x", "features", lambda v: R.Gated(F, H)(torch.randn(2, 5, v)),
        st.integers(1, 9).filter(lambda f: f != F)),
    Row("convert_z_convention", "z_multiplies", "unknown name", lambda v: R.convert_z_convention(R.GRU(F, H), v),
        bad_choice(("previous", "candidate"))),
    Row("convert_z_convention", "module", "not a module", lambda v: R.convert_z_convention(v, "candidate"),
        st.one_of(st.integers(), st.text(max_size=3), st.none())),
]


def test_the_table_covers_every_public_name_of_the_engine():
    assert set(R.__all__) - covered_names(ROWS) == set()


def test_every_layer_refuses_a_nan_probability_at_construction():
    """Spelled out once: NaN compares False with every bound, the classic way a check lets it through."""
    for make in CONSTRUCTORS.values():
        if make is not None:
            with pytest.raises(ValueError, match=r"argument 'dropout' expected .*got nan"):
                make(F, H, dropout=math.nan)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_argument_is_a_clear_error(row):
    run_rows(ROWS, CI_EXAMPLES // 2)(row)   # 375 rows, each building a layer: half the examples keep CI short


@pytest.mark.fuzz
@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_argument_is_a_clear_error_fuzzed(row):
    run_rows(ROWS, FUZZ_EXAMPLES)(row)


@pytest.mark.parametrize("index", range(len(LAYERS)), ids=[name for name, _ in LAYERS])
def test_a_batch_of_no_sequences_gives_empty_outputs_as_torch_lstm_does(index):
    """x: (0, T, F), the one edge of N that is not an error: torch.nn.LSTM returns (0, T, D·H) outputs and a
    (L·D, 0, H) state, and so does every layer here (ParallelRNN's layers once refused it, the cell layers did
    not); lengths and a state of that batch are accepted too, and the outputs backpropagate."""
    name, make = LAYERS[index]
    layer = make()
    empty = torch.zeros(0, T, F, requires_grad=True)
    outputs, state = layer(empty)[:2]
    reference = torch.nn.LSTM(F, H, batch_first=True, bidirectional=outputs.shape[-1] == 2 * H)
    expected_outputs, (expected_h, _) = reference(empty)
    assert outputs.shape == expected_outputs.shape == (0, T, outputs.shape[-1])
    for h in state if isinstance(state, tuple) else (state,):
        assert h.shape[1] == 0 and h.shape[-1] == H, (name, h.shape)
    outputs.sum().backward()
    assert empty.grad is not None and empty.grad.shape == empty.shape
    assert layer(empty, torch.zeros(0, dtype=torch.long))[0].shape == outputs.shape
    assert layer(empty, None, state)[0].shape == outputs.shape   # the state it returned, carried on
