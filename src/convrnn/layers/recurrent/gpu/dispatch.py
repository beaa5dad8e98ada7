"""Which backend runs a recurrent layer, and the GPU kernels' entry from the engine.

The choice is automatic: a CUDA tensor, Triton installed (``pip install convrnn[gpu]``) and a cell
the kernels know (``cells/spec.py``: every cell of ``cells.py`` with its options, exact types) →
the GPU kernels, one operator per layer and direction (``torch.ops.convrnn_gpu.cell``); else the
engine as before (torch's cuDNN kernels for plain stacks, ``native.py``, still come first). The
one switch :func:`convrnn.layers.recurrent.fused.disabled` forces the Python engine on every
device, for comparisons. :func:`backend` says which one a layer will use for an input, and why.

Strategy (``cells/launch.py``, :func:`~convrnn.layers.recurrent.gpu.cells.launch.strategy_for`):
persistent — one launch, U on chip — where every recurrent matrix fits in 64 KiB and H ≤ 128;
else stepwise — a cuBLAS product and a fused pointwise launch per step (per stage). Precision of
the recurrent products: the state's (float32 ``"ieee"``, or ``"tf32"`` where
``torch.backends.cuda.matmul.allow_tf32`` is set; float64), or bfloat16/float16 operands with
float32 accumulation where autocast made the projections so; the state stays float32.

For tests, :func:`kernels_everywhere` runs the kernels on CPU tensors too, through Triton's
interpreter (``TRITON_INTERPRET=1`` set before Triton is imported), and :func:`force_strategy`
picks the strategy.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from convrnn.layers.recurrent import fused
from convrnn.layers.recurrent.cells import Cell, State
from convrnn.layers.recurrent.gpu.cells.spec import Spec, as_tuple, epsilon_of, parameters_of, spec_of
from convrnn.layers.recurrent.gpu.graphs import capture_graphs
from convrnn.layers.recurrent.options import recurrent_dropout_mask

if TYPE_CHECKING:
    from convrnn.layers.recurrent.parallel import ParallelRNN
    from convrnn.layers.recurrent.rnn import RNN

STRATEGIES = ("persistent", "stepwise")
# whether Triton can be imported, found without importing it (once: compiled graphs read a constant)
_settings: dict[str, object] = {"everywhere": False, "strategy": None,
                                "triton": importlib.util.find_spec("triton") is not None}


def triton_installed() -> bool:
    """Whether Triton can be imported."""
    return bool(_settings["triton"])


@contextlib.contextmanager
def kernels_everywhere() -> Iterator[None]:
    """Run the GPU kernels on tensors of any device inside this block (on a CPU through Triton's
    interpreter: set ``TRITON_INTERPRET=1`` before Triton is imported). For tests."""
    before = _settings["everywhere"]
    _settings["everywhere"] = True
    try:
        yield
    finally:
        _settings["everywhere"] = before


@contextlib.contextmanager
def force_strategy(strategy: str | None) -> Iterator[None]:
    """Run the cell kernels with ``strategy`` ("persistent", "stepwise"; None: by shape) inside
    this block."""
    if strategy is not None and strategy not in STRATEGIES:
        raise ValueError(f"force_strategy: argument 'strategy' expected one of {STRATEGIES} or None, "
                         f"got {strategy!r}")
    before = _settings["strategy"]
    _settings["strategy"] = strategy
    try:
        yield
    finally:
        _settings["strategy"] = before


def refusal(cell: Cell, like: Tensor) -> str | None:
    """Why the GPU kernels do not run ``cell`` on ``like``'s device and dtype, or None if they do."""
    reason = scan_refusal(like)
    if reason is not None:
        return reason
    if spec_of(cell) is None:
        return f"{type(cell).__name__} is not one of the cells of cells.py (a subclass or a step of its own)"
    return None


def scan_refusal(like: Tensor) -> str | None:
    """Why the linear-scan kernel (and every GPU kernel) does not run on ``like``, or None."""
    if not fused._switch["enabled"]:
        return "convrnn.layers.recurrent.fused.disabled() forces the Python engine"
    if like.device.type != "cuda" and not _settings["everywhere"]:
        return f"the input is on {like.device.type}, not CUDA"
    if not triton_installed():
        return "Triton is not installed (pip install 'convrnn[gpu]')"
    if torch.jit.is_tracing() or torch.compiler.is_exporting():
        return "tracing or exporting: the engine's scan"
    if like.dtype not in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        return f"dtype {like.dtype} (the kernels take float32, float64, and bfloat16/float16 under autocast)"
    return None


def kernel_spec(cell: Cell, like: Tensor) -> Spec | None:
    """The kernel description of ``cell`` where the GPU kernels run it on ``like``, else None."""
    return spec_of(cell) if refusal(cell, like) is None else None


def backend(rnn: RNN | ParallelRNN, x: Tensor, lengths: Tensor | None = None,
            return_states: bool = False) -> tuple[str, str]:
    """Which backend ``rnn(x, lengths, return_states=return_states)`` runs on, and why.

    Returns (name, reason) with name one of "torch native" (cuDNN / torch's fused RNN kernels),
    "gpu kernels" (Triton, this package), "compiled core" (C++, CPU), "python engine".
    x: (N, T, F) or (T, N, F) as the layer takes it."""
    from convrnn.functional._checks import check_tensor
    from convrnn.layers.recurrent.fused import fused_kind
    from convrnn.layers.recurrent.native import native_mode
    from convrnn.layers.recurrent.parallel import ParallelRNN
    from convrnn.layers.recurrent.rnn import RNN

    if not isinstance(rnn, (RNN, ParallelRNN)):
        raise TypeError(f"backend: argument 'rnn' expected a convrnn RNN or ParallelRNN layer, "
                        f"got {type(rnn).__name__}")
    check_tensor("x", x, dims=3, floating=True, where="backend")
    if isinstance(rnn, ParallelRNN):
        reason = scan_refusal(x)
        if reason is None:
            return "gpu kernels", f"gates as PyTorch ops, the recurrence as the Triton linear scan on {x.device.type}"
        core = x.device.type == "cpu" and rnn.compiled is not None and fused.core_runs(x)
        return ("compiled core" if core else "python engine"), reason
    mode = native_mode(rnn, lengths=lengths, return_states=return_states)
    if mode is not None:
        return "torch native", f"a plain stack torch has fused kernels for ({mode})"
    reasons = {refusal(cell, x) for cell in rnn.cells}
    if reasons == {None}:
        spec = spec_of(rnn.cells[0])
        precision = precision_for(x if not torch.is_autocast_enabled(x.device.type) else
                                  x.new_empty(0, dtype=torch.get_autocast_dtype(x.device.type)), x)
        strategy = strategy_of(spec, precision)
        return "gpu kernels", f"{spec.name} on {x.device.type}, {strategy} strategy, {precision} products"
    reason = "; ".join(sorted(r for r in reasons if r is not None))
    if x.device.type == "cpu" and fused._switch["enabled"] and fused.available() \
            and all(fused_kind(c) is not None for c in rnn.cells) and rnn.zoneout == 0 \
            and not (rnn.training and rnn.recurrent_dropout > 0) and not return_states \
            and x.dtype in (torch.float32, torch.float64):
        return "compiled core", f"a CPU tensor and cells the C++ core runs (not the GPU kernels: {reason})"
    return "python engine", reason


def precision_for(xw: Tensor, state: Tensor) -> str:
    """The recurrent products' precision (see the module docstring)."""
    interpreted = state.device.type != "cuda"
    if xw.dtype in (torch.bfloat16, torch.float16):
        name = "bf16" if xw.dtype == torch.bfloat16 else "fp16"
        return name + "_emulated" if interpreted else name
    if state.dtype == torch.float32 and not interpreted and torch.backends.cuda.matmul.allow_tf32:
        return "tf32"
    return "ieee"


def strategy_of(spec: Spec, precision: str) -> str:
    from convrnn.layers.recurrent.gpu.cells.launch import strategy_for

    forced = _settings["strategy"]
    return forced if isinstance(forced, str) else strategy_for(spec, precision)


def _seed() -> int:
    """A Philox seed for zoneout's draws, from torch's default generator (so torch.manual_seed
    repeats them)."""
    return int(torch.randint(0, 2 ** 31 - 1, ()).item())


def run_cell(cell: Cell, spec: Spec, x: Tensor, state: State, lengths: Tensor | None, *, reverse: bool = False,
             lookahead: int = -1, recurrent_dropout: float = 0.0, zoneout: float = 0.0,
             training: bool = False) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """Run ``cell`` over x (T, N, F) on the GPU kernels: the projections of every step as one
    product, then one operator. Returns (every state per component, final state per component)
    as :func:`convrnn.layers.recurrent.gpu.cells.ops.cell` lays them out."""
    from convrnn.layers.recurrent.gpu.cells import ops  # registers the operators

    _ = ops
    batch = x.shape[1]
    xw = cell.project(x.contiguous())
    state = tuple(s.float() if s.dtype in (torch.bfloat16, torch.float16) else s for s in state)
    drop = None
    if training and recurrent_dropout > 0:
        drop = recurrent_dropout_mask(batch, cell.output_size, recurrent_dropout, state[0])
    precision = precision_for(xw, state[0])
    empty = state[0].new_empty(0)
    parameters = parameters_of(cell, spec)
    results = torch.ops.convrnn_gpu.cell(
        xw, state[0], state[1] if spec.components == 2 else empty, *parameters,
        lengths if lengths is not None else empty.long(), drop if drop is not None else empty,
        [int(v) for v in as_tuple(spec)],
        float(zoneout), bool(training), _seed() if zoneout > 0 and training else 0, float(epsilon_of(cell)),
        bool(reverse), int(lookahead), strategy_of(spec, precision), precision)
    K = spec.components
    every = results[:K]
    final = results[2:2 + K]
    return tuple(every), tuple(final)


def linear_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """h_t = a_t ∘ h_{t−1} + b_t on the Triton kernel (``torch.ops.convrnn_gpu.linear_scan``);
    a, b: (T, *S), h0: (*S) → (T, *S)."""
    from convrnn.layers.recurrent.gpu.scan import ops  # registers the operators

    _ = ops
    return torch.ops.convrnn_gpu.linear_scan(a, b, h0)


__all__ = ["STRATEGIES", "backend", "capture_graphs", "force_strategy", "kernel_spec", "kernels_everywhere",
           "linear_scan", "precision_for", "refusal", "run_cell", "scan_refusal", "triton_installed"]
