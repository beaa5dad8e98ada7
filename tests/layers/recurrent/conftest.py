"""Naive per-step references written straight from each cell's equations, shared as fixtures.

The reference reads the cell's parameters gate by gate (W_g, U_g, b_g) and never calls the
cell's own ``step``/``recurrent``/``project``.
"""

import pytest
import torch
import torch.nn.functional as F

from convrnn.layers.recurrent import ElmanCell, GatedCell, GRUCell, JordanCell, LSTMCell, MGUCell

CELL_CONFIGS = {
    "elman_tanh": lambda F, H, **kw: ElmanCell(F, H, **kw),
    "elman_relu": lambda F, H, **kw: ElmanCell(F, H, nonlinearity="relu", **kw),
    "elman_sigmoid": lambda F, H, **kw: ElmanCell(F, H, nonlinearity="sigmoid", **kw),
    "elman_leaky_relu": lambda F, H, **kw: ElmanCell(F, H, nonlinearity="leaky_relu", negative_slope=0.2, **kw),
    "elman_identity": lambda F, H, **kw: ElmanCell(F, H, nonlinearity="identity", **kw),
    "jordan": lambda F, H, **kw: JordanCell(F, H, output_size=H + 1, decision="tanh", **kw),
    "jordan_softmax": lambda F, H, **kw: JordanCell(F, H, decision="softmax", **kw),
    "lstm": lambda F, H, **kw: LSTMCell(F, H, **kw),
    "lstm_peephole": lambda F, H, **kw: LSTMCell(F, H, peephole=True, **kw),
    "gru_before": lambda F, H, **kw: GRUCell(F, H, reset="before", **kw),
    "gru_after": lambda F, H, **kw: GRUCell(F, H, reset="after", **kw),
    "gru_before_candidate": lambda F, H, **kw: GRUCell(F, H, reset="before", z_multiplies="candidate", **kw),
    "gru_after_candidate": lambda F, H, **kw: GRUCell(F, H, reset="after", z_multiplies="candidate", **kw),
    "gated": lambda F, H, **kw: GatedCell(F, H, **kw),
    "mgu": lambda F, H, **kw: MGUCell(F, H, **kw),
}


def make_cell(name, input_size, hidden_size, layer_norm=False):
    """A float64 cell with every parameter random (so peepholes and norm gains matter)."""
    cell = CELL_CONFIGS[name](input_size, hidden_size, layer_norm=layer_norm).double()
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.uniform_(-0.8, 0.8)
    return cell


def layer_norm(z, gain, shift):
    mean = z.mean(-1, keepdim=True)
    var = ((z - mean) ** 2).mean(-1, keepdim=True)
    return (z - mean) / torch.sqrt(var + 1e-5) * gain + shift


def input_term(cell, x, gate):
    """W_g x + b_g, with LN(W_g x; α, β) under layer norm."""
    H = cell.hidden_size
    z = x @ cell.weight_ih[gate * H:(gate + 1) * H].T
    if cell.layer_norm:
        z = layer_norm(z, cell.input_norm.weight[gate], cell.input_norm.bias[gate])
    return z + cell.bias_ih[gate * H:(gate + 1) * H]


def recurrent_term(cell, u, gate, bias=True):
    """U_g u (+ b_Ug), with LN(U_g u; α, β) under layer norm."""
    H = cell.hidden_size
    z = u @ cell.weight_hh[gate * H:(gate + 1) * H].T
    if cell.layer_norm:
        z = layer_norm(z, cell.recurrent_norm.weight[gate], cell.recurrent_norm.bias[gate])
    return z + cell.bias_hh[gate * H:(gate + 1) * H] if bias else z


def reference_step(cell, x, state, mask):
    """One step from the equations; ``mask`` multiplies the recurrent input (recurrent dropout)."""
    sig, tanh = torch.sigmoid, torch.tanh
    if isinstance(cell, ElmanCell):
        (h,) = state
        a = input_term(cell, x, 0) + recurrent_term(cell, h * mask, 0)
        g = {"tanh": tanh, "relu": torch.relu, "sigmoid": sig, "identity": lambda v: v,
             "leaky_relu": lambda v: F.leaky_relu(v, cell.negative_slope)}[cell.nonlinearity]
        return (g(a),)
    if isinstance(cell, JordanCell):
        _, y = state
        a = input_term(cell, x, 0) + recurrent_term(cell, y * mask, 0, bias=False)
        h = tanh(a) if cell.nonlinearity == "tanh" else torch.relu(a)
        o = h @ cell.weight_ho.T + cell.bias_ho
        decide = {"identity": lambda v: v, "tanh": tanh, "sigmoid": sig,
                  "softmax": lambda v: torch.softmax(v, -1)}[cell.decision]
        return (h, decide(o))
    if isinstance(cell, LSTMCell):
        h, c = state
        u = h * mask
        v_i, v_f, v_o = cell.weight_peephole if cell.peephole else torch.zeros(3, 1).double()
        i = sig(input_term(cell, x, 0) + recurrent_term(cell, u, 0) + v_i * c)
        f = sig(input_term(cell, x, 1) + recurrent_term(cell, u, 1) + v_f * c)
        candidate = tanh(input_term(cell, x, 2) + recurrent_term(cell, u, 2))
        c = f * c + i * candidate
        o = sig(input_term(cell, x, 3) + recurrent_term(cell, u, 3) + v_o * c)
        shown = layer_norm(c, cell.cell_norm.weight[0], cell.cell_norm.bias[0]) \
            if cell.layer_norm else c
        return (o * tanh(shown), c)
    if isinstance(cell, GRUCell):
        (h,) = state
        u = h * mask
        r = sig(input_term(cell, x, 0) + recurrent_term(cell, u, 0))
        z = sig(input_term(cell, x, 1) + recurrent_term(cell, u, 1))
        if cell.reset == "before":
            candidate = tanh(input_term(cell, x, 2) + recurrent_term(cell, r * u, 2))
        else:
            candidate = tanh(input_term(cell, x, 2) + r * recurrent_term(cell, u, 2))
        if cell.z_multiplies == "candidate":   # seed 004: h = (1 − z) ∘ h + z ∘ h̄
            return ((1 - z) * h + z * candidate,)
        return (z * h + (1 - z) * candidate,)
    if isinstance(cell, GatedCell):   # seed 001: z_{t+1} = g ∘ z_t + (1 − g) ∘ ẑ_t
        (h,) = state
        u = h * mask
        g = sig(input_term(cell, x, 0) + recurrent_term(cell, u, 0))
        candidate = tanh(input_term(cell, x, 1) + recurrent_term(cell, u, 1))
        return (g * h + (1 - g) * candidate,)
    if isinstance(cell, MGUCell):
        (h,) = state
        u = h * mask
        f = sig(input_term(cell, x, 0) + recurrent_term(cell, u, 0))
        candidate = tanh(input_term(cell, x, 1) + recurrent_term(cell, f * u, 1))
        return ((1 - f) * h + f * candidate,)
    raise AssertionError(type(cell))


def reference_run(cell, x, state=None, feedback_mask=None, keeps=None):
    """Forward over x: (N, T, F) from ``state``; keeps: per component (T, N, S) or float zoneout
    weights. Returns outputs (N, T, O) and the list of every step's state."""
    N, T, _ = x.shape
    if state is None:
        state = tuple(torch.zeros(N, s, dtype=x.dtype) for s in cell.state_sizes)
    mask = feedback_mask if feedback_mask is not None else torch.ones((), dtype=x.dtype)
    history = []
    for t in range(T):
        new = reference_step(cell, x[:, t], state, mask)
        if keeps is not None:
            new = tuple(k[t] * old + (1 - k[t]) * n if torch.is_tensor(k)
                        else k * old + (1 - k) * n
                        for k, old, n in zip(keeps, state, new, strict=True))
        state = new
        history.append(state)
    outputs = torch.stack([s[cell.output_index] for s in history], dim=1)
    return outputs, history


def pytest_generate_tests(metafunc):
    """Every test asking for ``cell_name`` runs once per cell configuration."""
    if "cell_name" in metafunc.fixturenames:
        metafunc.parametrize("cell_name", sorted(CELL_CONFIGS))


@pytest.fixture(scope="session")
def reference():
    return reference_run


@pytest.fixture(scope="session")
def cell_factory():
    return make_cell


@pytest.fixture(scope="session")
def reference_one_step():
    return reference_step
