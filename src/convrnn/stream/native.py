"""A causal stream's chunk step as one native call: ``convrnn.stream(model, backend="native")``.

The Python stream (``compose.py``) runs a dozen small PyTorch operators per chunk, and for a chunk of
one or two frames their fixed per-call price is the cost, not the arithmetic. This backend lowers the
chain of stages once, at plan time, to a native plan (``native_plan.cpp``, a compiled extension built
like the recurrent core, :mod:`convrnn._extensions`) that runs the whole chunk step in one call, its
state inside the plan. Signals between the lowered ops are ``(N, T, C)``, step-major.

What lowers (every other stage refuses by name, :class:`NoLoweringError`):

- ``first_channel`` (the keyword spotter's ``(N, 1, T) → (N, T)``), as the first stage;
- ``LogMelSpectrogram(framing="causal")``: frame t is samples t·hop − (n_fft − 1) … t·hop (zeros before
  the start), ``log(Σ_f H[f, m] |rFFT(w · frame)_f|² + ε)`` — a radix-2 real FFT (n_fft a power of 2;
  otherwise the DFT's sums), the Hann window w and the filters H of the Python stage, in its dtype;
- ``RunningNorm``: w_t = max(1/(s + t + 1), 1/τ), m ← (1 − w) m + w x, v ← (1 − w) v + (1 − w) w d²,
  y = (x − m) / max(√v, min_std), step by step as the Python stage's short chunks;
- 1-d convolution over time (``Conv1d`` of convrnn or torch, groups 1, boundary zeros or constant,
  any padding (low, high), dilation, stride ≤ its span): a window buffer of the padded cells,
  y_o = b + Σ_j W_j x_{o·s + j·d}, weights packed once as ``(K, C_in, C_out)``; with dilation d ≥ 2 (stride 1)
  the sums over the taps before the last are made for the next d outputs at once, as soon as their cells are
  in, and each of those outputs then adds its last tap (the same sums, in the same order: at one step a chunk
  those weights are read once every d outputs, not once an output); an evaluation-mode
  ``BatchNorm1d`` right after it is folded in (W ← W·γ/√(σ² + ε), b ← (b − μ)·γ/√(σ² + ε) + β), a ReLU
  after that fused;
- ``BatchNorm1d`` elsewhere (a per-channel affine), ``ReLU``, ``Identity``, dropout in ``eval()``;
- ``GlobalPool`` max, min, sum, avg (the running value, ``(N, T, C)``), and after it ``Linear``
  (a 1×1 convolution), ``ReLU``, batch norm;
- convrnn's ``RNN`` of plain LSTM cells (no layer norm, peepholes or zoneout; ``batch_first``, residual or
  not), one op per layer, ``(N, T, C)`` in and out: one direction, (h, c) carried; or ``lookahead=L``, the
  backward output at step t the backward cell run from zero over x_{min(t+L, last)}, …, x_t (``lookahead.py``),
  out once x_{t+L} is in (all at the end). Each input is projected once per direction (W x + b), U h + b per
  step; a window's first step, from h = 0, takes the bias alone (U·0 skipped: the same sum). ``Linear`` after it.

A hybrid plan: per-step stages before a recurrent layer that lowers (a tagger's word features — embedding and
character CNN, each word on its own — and dropout) run in PyTorch on each chunk, the rest in the plan; their
output ``(N, T, C)`` is the plan's input.

Outputs equal the Python stream's (the reference) for any chunking: float64 to rounding (≈ 1e−14), float32
to float32 rounding (≈ 5e−6 on the keyword spotter: the FFT, the sums' order and the folded batch norm
round differently; ``RunningNorm`` rounds as PyTorch's operators do, no fused multiply-add, because on a
near-constant signal its division by ``min_std`` would magnify any difference a thousandfold).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from convrnn._extensions import load_extension
from convrnn.stream.compose import Stream
from convrnn.stream.conv import ConvStage
from convrnn.stream.features import LogMelStage, RunningNormStage
from convrnn.stream.pointwise import FoldedStage, PointwiseStage
from convrnn.stream.pool import GlobalPoolStage
from convrnn.stream.recurrent import LookaheadStage, RecurrentStage
from convrnn.stream.stage import Stage

SOURCE = Path(__file__).with_name("native_plan.cpp")
POOL_KINDS = {"max": 0, "min": 1, "sum": 2, "avg": 3}
LOWERED = ("first_channel, LogMelSpectrogram(framing='causal'), RunningNorm, Conv1d (groups 1, zeros or constant "
           "padding, stride ≤ span), BatchNorm1d (eval), ReLU, Identity, Dropout (eval), GlobalPool max/min/sum/avg, "
           "Linear after a global pool or a recurrent layer, RNN of plain LSTM cells (batch_first, one direction or "
           "lookahead=L; per-step stages before it run in PyTorch)")


class NoLoweringError(TypeError):
    """A stage that the native backend cannot run; the message names it (use ``backend="python"``)."""


@functools.cache
def load() -> ModuleType | None:
    """The compiled plan module (``native_plan.cpp``), built on first use; None if it cannot be had."""
    from convrnn.layers.recurrent._compiled import HEADERS  # its LSTM unit is the core's (units.h)

    return load_extension("convrnn_stream", SOURCE, headers=HEADERS, what="C++ stream kernel",
                          fallback="backend='native' is unavailable (backend='python' streams in PyTorch)")


# ------------------------------------------------------------------ the lowered ops (float64 until planned)

@dataclass
class _Conv:
    """y_o = b + Σ_j W[j] x_{o·s + j·d} (+ ReLU); ``weight (K, C_in, C_out)``, ``bias (C_out,)`` float64."""

    name: str
    weight: Tensor
    bias: Tensor
    dilation: int = 1
    stride: int = 1
    low: int = 0
    high: int = 0
    value: float = 0.0
    relu: bool = False

    def fold(self, norm: nn.BatchNorm1d) -> None:
        scale, shift = _affine(norm)
        self.weight = self.weight * scale
        self.bias = self.bias * scale + shift

    def add(self, plan: Any, dtype: torch.dtype, channels: int) -> int:
        _check_channels(self.name, self.weight.shape[1], channels)
        plan.add_conv(self.weight, self.bias, self.dilation, self.stride, self.low, self.high, self.value, self.relu)
        return self.weight.shape[2]


@dataclass
class _Affine:
    """y = x·scale + shift per channel (empty scale: identity), then ReLU if ``relu``."""

    name: str
    scale: Tensor
    shift: Tensor
    relu: bool = False

    def add(self, plan: Any, dtype: torch.dtype, channels: int) -> int:
        if self.scale.numel():
            _check_channels(self.name, self.scale.numel(), channels)
        plan.add_affine(channels, self.scale, self.shift, self.relu)
        return channels


@dataclass
class _LogMel:
    name: str
    module: Any

    def add(self, plan: Any, dtype: torch.dtype, channels: int) -> int:
        from convrnn.data.audio import _filters, _hann

        m = self.module
        low, high = m.padding
        window = _hann(m.n_fft, dtype, torch.device("cpu"))
        filters = _filters(m.n_fft, m.n_mels, float(m.sample_rate), m.f_min, m.f_max, dtype, torch.device("cpu"))
        plan.add_log_mel(window, filters, m.hop_length, low, high, float(m.epsilon))
        return m.n_mels


@dataclass
class _RunningNorm:
    name: str
    time_constant: float | None
    min_std: float

    def add(self, plan: Any, dtype: torch.dtype, channels: int) -> int:
        inverse = 0.0 if self.time_constant is None else 1.0 / self.time_constant
        plan.add_running_norm(channels, inverse, self.min_std ** 2)
        return channels


@dataclass
class _Pool:
    name: str
    kind: str

    def add(self, plan: Any, dtype: torch.dtype, channels: int) -> int:
        plan.add_running_pool(channels, POOL_KINDS[self.kind])
        return channels


@dataclass
class _LSTM:
    """One layer of a convrnn ``RNN`` with the LSTM cell: ``weights`` W_ih, b_ih, U, b_hh of the forward cell
    (and of the backward cell with ``lookahead`` ≥ 0; −1: one direction), float64."""

    name: str
    weights: list
    lookahead: int
    residual: bool

    def add(self, plan: Any, dtype: torch.dtype, channels: int) -> int:
        _check_channels(self.name, self.weights[0].shape[1], channels)
        plan.add_lstm(self.weights, self.lookahead, self.residual)
        size = self.weights[2].shape[1]
        return 2 * size if self.lookahead >= 0 else size


@dataclass
class _WordFeatures:
    """A tagger's ``word_features`` (``Tagger.word_features``): the word embedding ``words (V, Dw)`` and, with a
    character model, ``letters (A, Dc)``, the convolution's ``taps (k, Dc, C)`` (cross-correlation, "full"
    padding) and ``bias (C,)``, float64; the plan's front (input 4: ids)."""

    name: str
    words: Tensor
    letters: Tensor
    taps: Tensor
    bias: Tensor

    @property
    def width(self) -> int:
        return self.words.shape[1] + (self.taps.shape[2] if self.taps.numel() else 0)


def _word_features(stage: Stage) -> _WordFeatures | None:
    """The front of a stage that is a :class:`~convrnn.models.tagger.Tagger`'s ``word_features``, else None."""
    from convrnn.layers.conv import Conv
    from convrnn.models.tagger import Tagger

    function = getattr(stage, "function", None)
    tagger = getattr(function, "__self__", None)
    if not isinstance(tagger, Tagger) or getattr(function, "__func__", None) is not Tagger.word_features:
        return None
    words = tagger.words.weight.detach().double()
    empty = words.new_zeros(0)
    encoder = tagger.characters
    if encoder is None:
        return _WordFeatures(stage.name, words, empty, empty, empty)
    conv = encoder.convolution
    if not isinstance(conv, Conv) or conv.padding != "full" or conv.dilation != (1,) or \
            conv.stride != (1,) or conv.groups != 1 or conv.boundary != "zeros":
        raise _refuse(stage, "a character convolution other than the tagger's own (full padding, stride 1)")
    taps = conv.weight.detach().double()
    if conv.flip:
        taps = taps.flip(-1)
    bias = conv.bias.detach().double() if conv.bias is not None else taps.new_zeros(taps.shape[0])
    return _WordFeatures(stage.name, words, encoder.embedding.weight.detach().double(),
                         taps.permute(2, 1, 0).contiguous(), bias)


def _check_channels(name: str, expected: int, got: int) -> None:
    if expected != got:
        raise ValueError(f"stream: {name}: argument 'x' expected {expected} channels, got {got}")


def _affine(norm: nn.BatchNorm1d) -> tuple[Tensor, Tensor]:
    """Batch norm in evaluation as ``(scale, shift)`` float64: γ/√(σ² + ε), β − μ·γ/√(σ² + ε)."""
    mean, var = norm.running_mean.detach().double(), norm.running_var.detach().double()
    scale = 1.0 / torch.sqrt(var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight.detach().double()
    shift = -mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias.detach().double()
    return scale, shift


# ------------------------------------------------------------------ lowering

@dataclass
class Program:
    """A stream's lowered stages: ``input`` 0 (samples ``(N, T)``), 1 (``(N, C, T)``, channel 0 taken),
    2 (``(N, C, T)``) or 3 (``(N, T, C)``, into a recurrent layer); ``ops`` in order; the outputs' layout
    ``"ct"`` (``(N, C, T)``) or ``"tc"`` (``(N, T, C)``, after a global pool or a recurrent layer; ``keepdim``
    adds a trailing 1); ``dtype`` the model's; ``prefix``: how many leading per-step stages run in PyTorch on
    each chunk before the plan (a hybrid plan)."""

    input: int
    ops: list
    layout: str
    keepdim: bool
    dtype: torch.dtype | None
    prefix: int = 0
    front: _WordFeatures | None = None


def _refuse(stage: Stage, why: str) -> NoLoweringError:
    return NoLoweringError(f"stream: backend 'native' has no lowering for {stage.name} ({stage.describe()}): {why}. "
                           f"What lowers: {LOWERED}; backend='python' streams every layer")


def _conv(stage: ConvStage) -> _Conv:
    from convrnn.layers.conv import Conv

    module, windows = stage.module, stage.windows
    if module.groups != 1:
        raise _refuse(stage, f"groups={module.groups} (only groups=1 lowers)")
    if windows.boundary not in ("zeros", "constant") or windows.left_need or windows.right_need:
        raise _refuse(stage, f"boundary {windows.boundary!r} pads from the signal (zeros and constant lower)")
    if windows.stride > windows.span:
        raise _refuse(stage, f"stride {windows.stride} skips cells between its windows of {windows.span}")
    weight = module.weight.detach().double()
    if isinstance(module, Conv) and module.flip:
        weight = weight.flip(-1)
    bias = module.bias.detach().double() if module.bias is not None else weight.new_zeros(weight.shape[0])
    return _Conv(stage.name, weight.permute(2, 1, 0).contiguous(), bias, module.dilation[0], module.stride[0],
                 windows.low, windows.high, windows.value)


def _recurrent(stage: RecurrentStage | LookaheadStage) -> list[_LSTM]:
    """A convrnn ``RNN`` of LSTM cells, batch first, one direction or ``lookahead=L``: one op per layer."""
    from convrnn.layers.recurrent.cells import LSTMCell

    m = stage.module
    cell = m.cells[0]
    peephole = getattr(cell, "weight_peephole", None)
    if type(cell) is not LSTMCell or cell.layer_norm or peephole is not None:
        raise _refuse(stage, f"cell {type(cell).__name__}{' with layer norm' if cell.layer_norm else ''}"
                             f"{' with peepholes' if peephole is not None else ''} (the plain LSTM lowers)")
    if m.zoneout:
        raise _refuse(stage, f"zoneout={m.zoneout} (zoneout 0 lowers)")
    if not m.batch_first:
        raise _refuse(stage, "batch_first=False (time-major chunks; batch_first=True lowers)")
    step = 2 if m.bidirectional else 1
    ops = []
    for layer in range(m.num_layers):
        cells = m.cells[step * layer:step * layer + step]
        weights = [w.detach().double() for c in cells for w in (c.weight_ih, c.bias_ih, c.weight_hh, c.bias_hh)]
        ops.append(_LSTM(f"{stage.name} layer {layer}", weights, m.lookahead if m.bidirectional else -1,
                         bool(m.residual and layer > 0)))
    return ops


def _per_step(stage: Stage, function: object, ops: list, layout: str) -> None:
    """A per-step module: fused into the op before it where it can be, else an op of its own."""
    last = ops[-1] if ops else None
    if isinstance(function, (nn.Identity, nn.Dropout, nn.Dropout1d, nn.AlphaDropout)):
        return   # identities in evaluation (checked when the stream was built)
    if isinstance(function, nn.ReLU):
        if isinstance(last, (_Conv, _Affine)) and not last.relu:
            last.relu = True
        else:
            ops.append(_Affine(stage.name, torch.empty(0), torch.empty(0), relu=True))
        return
    if isinstance(function, nn.BatchNorm1d):
        if isinstance(last, _Conv) and not last.relu:
            last.fold(function)
        else:
            ops.append(_Affine(stage.name, *_affine(function)))
        return
    if isinstance(function, nn.Linear):
        if layout != "tc":
            raise _refuse(stage, "Linear acts on the last axis, which is time here (it lowers after a global pool)")
        weight = function.weight.detach().double().t().unsqueeze(0).contiguous()
        bias = function.bias.detach().double() if function.bias is not None else weight.new_zeros(weight.shape[2])
        ops.append(_Conv(stage.name, weight, bias))
        return
    raise _refuse(stage, "a per-step function the native plan does not know")


def lower(stages: list[Stage]) -> Program:
    """The native :class:`Program` of a chain of stages, or a :class:`NoLoweringError` naming the first
    stage that has no lowering (see the module docstring for what lowers)."""
    from convrnn.models.keyword_spotter import first_channel

    ops: list = []
    layout: str | None = None      # None: the input's layout is not fixed yet
    keepdim = False
    input_kind = 2
    dtypes = set()
    front = _word_features(stages[0]) if stages else None
    prefix = 0 if front is not None else _prefix(stages)
    if front is not None:
        input_kind, layout, prefix = 4, "tc", 1
        dtypes.add(stages[0].function.__self__.words.weight.dtype)
    elif prefix:
        input_kind, layout = 3, "tc"
    for index, stage in enumerate(stages[prefix:], prefix):
        module = getattr(stage, "module", getattr(stage, "function", None))
        if isinstance(module, nn.Module):
            dtypes |= {p.dtype for p in module.parameters() if p.is_floating_point()}
        if isinstance(stage, PointwiseStage) and stage.function is first_channel:
            if index:
                raise _refuse(stage, "first_channel lowers as the first stage only")
            input_kind, layout = 1, "wave"
        elif isinstance(stage, LogMelStage):
            if layout not in (None, "wave"):
                raise _refuse(stage, "its input is a waveform, which only the stream's input (or first_channel) is")
            if stage.module.framing != "causal":
                raise _refuse(stage, "centred framing reflects the signal's first samples (causal framing lowers)")
            if stage.module.hop_length > stage.module.n_fft:
                raise _refuse(stage, "a hop longer than n_fft skips samples")
            input_kind = 0 if layout is None else input_kind
            ops.append(_LogMel(stage.name, stage.module))
            layout = "ct"
        elif isinstance(stage, (RunningNormStage, ConvStage, GlobalPoolStage)):
            if layout not in (None, "ct"):
                raise _refuse(stage, f"its input is not (N, C, T) here (layout {layout!r})")
            layout = "ct"
            if isinstance(stage, RunningNormStage):
                ops.append(_RunningNorm(stage.name, stage.module.time_constant, stage.module.min_std))
            elif isinstance(stage, ConvStage):
                ops.append(_conv(stage))
            else:
                if stage.kind not in POOL_KINDS:
                    raise _refuse(stage, f"kind {stage.kind!r} (max, min, sum and avg lower)")
                ops.append(_Pool(stage.name, stage.kind))
                layout, keepdim = "tc", stage.module.keepdim
        elif isinstance(stage, (RecurrentStage, LookaheadStage)):
            if layout not in (None, "tc"):
                raise _refuse(stage, f"its input is not (N, T, C) here (layout {layout!r})")
            if layout is None:
                input_kind, layout = 3, "tc"
            ops.extend(_recurrent(stage))
        elif isinstance(stage, (PointwiseStage, FoldedStage)) and isinstance(stage.function, nn.Module):
            if layout in (None, "wave"):
                raise _refuse(stage, "per-step layers lower after a stage over time (a convolution, the front end)")
            _per_step(stage, stage.function, ops, layout)
        else:
            raise _refuse(stage, "no native lowering")
    if not any(isinstance(op, (_Conv, _LogMel, _RunningNorm, _Pool, _LSTM)) for op in ops):
        raise NoLoweringError("stream: backend 'native' needs a stage over time (nothing of this model runs over "
                              "time); backend='python' streams it")
    if len(dtypes) > 1:
        raise NoLoweringError(f"stream: backend 'native' expected one parameter dtype, got {sorted(map(str, dtypes))}")
    if front is not None:
        return Program(input_kind, ops, layout, keepdim, dtypes.pop() if dtypes else None, 0, front)
    return Program(input_kind, ops, layout or "ct", keepdim, dtypes.pop() if dtypes else None, prefix)


def _prefix(stages: list[Stage]) -> int:
    """How many leading per-step stages run in PyTorch before the native plan (a hybrid plan): those before
    a recurrent stage that lowers, up to the first one with a lowering of its own; 0 if none."""
    for index, stage in enumerate(stages):
        if isinstance(stage, (RecurrentStage, LookaheadStage)):
            return index
        if not isinstance(stage, PointwiseStage):
            return 0
    return 0


# ------------------------------------------------------------------ the stream


class NativeStream(Stream):
    """A :class:`~convrnn.stream.Stream` whose ``push``/``flush``/``reset`` run the lowered chunk step in one
    native call (:func:`lower`), its state inside the plan. Equal to the Python stream for any chunking.

    Shapes: the input of the model's first stage — ``(N, 1, T)`` samples through ``first_channel`` (the
    keyword spotter), ``(N, T)`` into a log-mel front end, ``(N, C, T)`` into a convolution or
    ``RunningNorm``, ``(N, T, C)`` into a recurrent layer (or into the per-step stages a hybrid plan runs
    before it) — float32 or float64 (the model's dtype), on the CPU; a tagger's ``(words (N, T),
    characters (N, T, W))`` int64 ids. Outputs ``(N, C', T')`` (a view of ``(N, T', C')``), or ``(N, T', C')``
    after a global pool or a recurrent layer, as the Python stream's. The plan is packed on the first ``push``
    of a signal, for its dtype and channels (kept for the next signal of the same), from the weights the
    model had when the stream was made: make a new stream after changing them.

    :attr:`latency`, :meth:`latency_table` and the external-state methods (``initial_state``, ``step``,
    ``finish``, ``chunk_model``: export) are those of the Python stages; :attr:`state` is None (the native
    plan holds it).
    """

    backend = "native"

    def __init__(self, model: object, stages: list[Stage]) -> None:
        super().__init__(model, stages)
        self.program = lower(self.stages)
        self.time_axis = 1 if self.program.layout == "tc" else -1
        self._module = load()
        if self._module is None:
            raise RuntimeError("stream: backend 'native' needs the C++ stream kernel, which could not be built or "
                               "loaded (see the warning; CONVRNN_NO_COMPILE=1 turns it off); use backend='python'")
        self._plans: dict[tuple[torch.dtype, int], Any] = {}
        self._plan: Any = None
        self._plain = self.program.front is None and not self.program.prefix   # chunks go to the plan as given
        self._lead: tuple[int, ...] = ()
        self._dtype: torch.dtype | None = None

    @property
    def state(self) -> None:
        """None: the native plan holds the state (use the external-state methods for it as tensors)."""
        return None

    def _check(self, chunk: object) -> Tensor:
        where = "NativeStream.push"
        if not isinstance(chunk, Tensor):
            raise TypeError(f"{where}: argument 'chunk' expected a torch.Tensor, got {type(chunk).__name__}")
        dims = 2 if self.program.input == 0 else 3
        shown = {0: "(N, T)", 3: "(N, T, C)"}.get(self.program.input, "(N, C, T)")
        if chunk.dim() != dims:
            raise ValueError(f"{where}: argument 'chunk' expected shape {shown}, got shape {tuple(chunk.shape)}")
        if chunk.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{where}: argument 'chunk' expected dtype float32 or float64, got {chunk.dtype}")
        if self.program.dtype is not None and chunk.dtype != self.program.dtype:
            raise TypeError(f"{where}: argument 'chunk' expected the model's dtype {self.program.dtype}, "
                            f"got {chunk.dtype}")
        if chunk.device.type != "cpu":
            raise ValueError(f"{where}: argument 'chunk' expected a CPU tensor, got device {chunk.device}")
        channels = chunk.shape[2] if self.program.input == 3 else chunk.shape[1]
        if dims == 3 and channels < 1:
            raise ValueError(f"{where}: argument 'chunk' expected at least one channel, got shape {tuple(chunk.shape)}")
        return chunk

    def _start(self, chunk: Tensor) -> Any:
        channels = {2: chunk.shape[1], 3: chunk.shape[-1]}.get(self.program.input, 1)
        key = (chunk.dtype, channels)
        plan = self._plans.get(key)
        if plan is None:
            output = {"ct": 1, "tc": 2 if self.program.keepdim else 0}[self.program.layout]
            plan = self._module.NativePlan(chunk.dtype == torch.float64, self.program.input, output)
            for op in self.program.ops:
                channels = op.add(plan, chunk.dtype, channels)
            self._plans[key] = plan
        plan.reset()
        self._lead, self._dtype = self._fixed(chunk), chunk.dtype
        return plan

    def _fixed(self, chunk: Tensor) -> tuple[int, ...]:
        """The sizes every chunk of a signal shares with its first: all but time."""
        return (chunk.shape[0], chunk.shape[2]) if self.program.input == 3 else chunk.shape[:-1]

    def _push_ids(self, chunk: Any) -> Tensor:
        """A tagger's chunk ``(words (N, T), characters (N, T, W))`` (``words`` alone without a character model)
        into the plan's word-feature front."""
        words, characters = chunk if isinstance(chunk, tuple) and len(chunk) == 2 else (chunk, None)
        plan = self._plan
        if plan is not None and type(words) is Tensor and words.dtype is torch.int64 and words.dim() == 2 and \
                words.shape[0] == self._lead[0] and (characters is None or (
                    type(characters) is Tensor and characters.dtype is torch.int64 and characters.dim() == 3 and
                    characters.shape[:2] == words.shape)):
            return plan.push_ids(words, characters if characters is not None else words.new_zeros(0))
        self._check_chunk(chunk)
        self.stages[0].step(chunk, {})      # the tagger's own checks: one line naming the argument
        if plan is not None and words.shape[0] != self._lead[0]:
            raise ValueError(f"Stream.push: argument 'chunk' expected {self._lead[0]} sequences (those of the first "
                             f"chunk), got {words.shape[0]}")
        words = words.long()
        characters = characters.long() if isinstance(characters, Tensor) else words.new_zeros(0)
        if plan is None:
            dtype = self.program.dtype or torch.float32
            plan = self._plans.get((dtype, 0))
            if plan is None:
                plan = self._module.NativePlan(dtype == torch.float64, 4, 0)
                front = self.program.front
                plan.set_word_features(front.words, front.letters, front.taps, front.bias)
                channels = front.width
                for op in self.program.ops:
                    channels = op.add(plan, dtype, channels)
                self._plans[(dtype, 0)] = plan
            plan.reset()
            self._plan, self._lead = plan, (words.shape[0],)
        return plan.push_ids(words, characters)

    def push(self, chunk: Any) -> Tensor:
        """Consume ``chunk``; return the outputs now final (possibly zero steps), as the Python stream. A hybrid
        plan first runs its leading per-step stages (``program.prefix``) on the chunk in PyTorch."""
        plan = self._plan
        if plan is not None and self._plain:
            try:
                return plan.push(chunk)     # one call: the plan checks the chunk against the first (nothing done
            except (TypeError, RuntimeError):   # before), and a refusal is named below
                pass
        if self.program.front is not None:
            return self._push_ids(chunk)
        if self.program.prefix:
            if not isinstance(chunk, Tensor | tuple):
                self._check_chunk(chunk)    # the one-line refusal (shapes are checked on the prefix's output)
            for stage in self.stages[:self.program.prefix]:
                chunk, _ = stage.step(chunk, {})
        plan = self._plan
        if plan is not None and type(chunk) is Tensor and self._fixed(chunk) == self._lead and \
                chunk.dtype is self._dtype and chunk.is_cpu:
            return plan.push(chunk)     # a chunk like the first: straight to the plan (one call)
        chunk = self._check(chunk)
        self._check_chunk(chunk)        # (after a prefix: its output, whose shape but time is the first's)
        if plan is None:
            plan = self._plan = self._start(chunk)
        return plan.push(chunk)

    def flush(self) -> Tensor | None:
        """The outputs that only the end of the signal makes final; then :meth:`reset`. None if nothing was
        pushed."""
        if self._plan is None:
            return None
        y = self._plan.finish()
        self.reset()
        return y

    def reset(self) -> None:
        """Forget the signal: the next chunk starts a new one."""
        super().reset()
        self._plan = None

    def __repr__(self) -> str:
        return (f"NativeStream({len(self.program.ops)} native ops from {len(self.stages)} stages, "
                f"latency {self.latency} input steps)")


__all__ = ["LOWERED", "NativeStream", "NoLoweringError", "Program", "load", "lower"]
