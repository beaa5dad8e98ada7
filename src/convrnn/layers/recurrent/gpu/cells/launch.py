"""Launching the cell kernels: buffers, block sizes, the strategy (persistent or stepwise) and its loop.

The strategy rule (:func:`strategy_for`): **persistent** — one launch for the whole sequence,
the recurrent matrix held on chip — where every recurrent matrix of the cell (U, and V for Jordan)
fits in 64 KiB in the product's precision (float32: LSTM H ≤ 64, GRU H ≤ 73, Elman H ≤ 128;
bfloat16 under autocast: LSTM H ≤ 90) and H ≤ 128 (a program's tiles stay in registers); else
**stepwise** — per step one cuBLAS product of the whole batch and one fused Triton pointwise launch
(two of each for the two-stage cells), so large H uses the GPU's full width at every step. The rule
follows cuDNN's (a persistent kernel up to H ≈ 128–192, its standard algorithm above) and
FlashRNN's (fused kernels run out of on-chip memory from head size 128); where it flips best on
a given card is to be measured (``benchmarks/recurrent_gpu.py``).

The stepwise loop holds every buffer fixed before it starts and passes the step as an argument,
so it allocates nothing and never synchronises with the host: it can be captured as a CUDA graph
(:func:`convrnn.layers.recurrent.gpu.dispatch.capture_graphs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from convrnn.layers.recurrent.gpu import graphs
from convrnn.layers.recurrent.gpu.cells.spec import FIRST_STAGE, GRU_BEFORE, JORDAN, MGU, Spec

ON_CHIP_BYTES = 64 * 1024
BLOCK_N = 16


def next_power_of_two(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def block(n: int) -> int:
    """A tile side for n columns: a power of two, at least 16 (``tl.dot``'s smallest)."""
    return max(16, next_power_of_two(n))


def on_chip_bytes(spec: Spec, precision: str) -> int:
    element = 2 if precision.startswith(("bf16", "fp16")) else 4
    matrices = spec.blocks * spec.hidden * spec.feedback + (spec.hidden * spec.feedback if spec.kind == JORDAN else 0)
    return matrices * element


def strategy_for(spec: Spec, precision: str) -> str:
    """"persistent" or "stepwise" for a cell (see the module docstring)."""
    if spec.hidden <= 128 and spec.feedback <= 128 and on_chip_bytes(spec, precision) <= ON_CHIP_BYTES:
        return "persistent"
    return "stepwise"


@dataclass(frozen=True)
class Layout:
    """How the rows and steps of one call are laid out. steps K: processing steps; time T; batch N;
    rows: N, or T·N look-ahead windows; lookahead L or -1."""

    steps: int
    time: int
    batch: int
    rows: int
    lookahead: int
    reverse: bool

    @property
    def windowed(self) -> bool:
        return self.lookahead >= 0


def layout_of(xw: Tensor, reverse: bool, lookahead: int) -> Layout:
    time, batch = xw.shape[:2]
    if lookahead >= 0:
        return Layout(lookahead + 1, time, batch, time * batch, lookahead, False)
    return Layout(time, time, batch, batch, -1, reverse)


def compute_dtype(state: Tensor) -> torch.dtype:
    return torch.float64 if state.dtype == torch.float64 else torch.float32


def matmul_dtype(precision: str, dtype: torch.dtype) -> torch.dtype:
    if precision.startswith("bf16"):
        return torch.bfloat16
    if precision.startswith("fp16"):
        return torch.float16
    return dtype


def dummy(like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """A one-element tensor for a pointer the kernel does not read (a null pointer is refused)."""
    return torch.zeros(1, dtype=dtype or like.dtype, device=like.device)


def present(t: Tensor, like: Tensor) -> Tensor:
    return t.contiguous() if t.numel() else dummy(like)


def scalars(zoneout: float, eps: float, like: Tensor, dtype: torch.dtype, slope: float = 0.0) -> Tensor:
    """[p, 1 − p, ε, the leaky ReLU's slope] in the compute precision (Triton's float arguments are
    float32)."""
    return torch.tensor([zoneout, 1.0 - zoneout, eps, slope], dtype=dtype, device=like.device)


def zoneout_mode(zoneout: float, training: bool) -> int:
    return 0 if zoneout <= 0 else 2 if training else 1


def flags(spec: Spec, layout: Layout, lengths: Tensor | None, zoneout: int, drop: Tensor | None,
          precision: str) -> dict[str, object]:
    return {"KIND": spec.kind, "CHUNKS": spec.chunks, "NB": spec.blocks, "ACTIVATION": spec.activation,
            "PEEPHOLE": spec.peephole, "LAYER_NORM": spec.layer_norm, "DECISION": spec.decision,
            "REVERSE": layout.reverse, "WINDOWED": layout.windowed, "HAS_LENGTHS": lengths is not None,
            "ZONEOUT": zoneout, "DROPOUT": drop is not None, "PRECISION": precision,
            "BLOCK_N": BLOCK_N, "BLOCK_H": block(spec.hidden), "BLOCK_S": block(spec.feedback)}


def warps(spec: Spec, persistent: bool) -> int:
    """More warps where a program holds the recurrent matrix (fewer registers per thread)."""
    return 8 if persistent and spec.hidden > 32 else 4


def stage_matrices(spec: Spec, weight_hh: Tensor, weight_ho: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """The matrices of the stepwise strategy's products: U of the first stage (B₁·H, S) and the
    second stage's (U_h (H, H); Jordan V (O, H)), in the product's dtype."""
    H = spec.hidden
    first = weight_hh[:FIRST_STAGE[spec.kind] * H].to(dtype)
    if spec.kind in (GRU_BEFORE, MGU):
        return first, weight_hh[(spec.blocks - 1) * H:].to(dtype)
    if spec.kind == JORDAN:
        return first, weight_ho.to(dtype)
    return first, first


def forward(spec: Spec, xw: Tensor, state: tuple[Tensor, ...], parameters: tuple[Tensor, ...],
            lengths: Tensor | None, drop: Tensor | None, zoneout: float, training: bool, seed: int, eps: float,
            reverse: bool, lookahead: int, strategy: str, precision: str) -> tuple[Tensor, ...]:
    """Run the forward kernel. xw (T, N, chunks·H); state: (N, S_k) per component; lengths (N,) or
    None; drop (N, S) or None (the recurrent dropout mask, scaled); lookahead L ≥ 0 for windows.

    Returns (every state per component: (slots, rows, S_k); the final state per component: (rows,
    S_k); SAVED, NORMED, RSTD) with slots = T (positions) or L + 1 (window steps), rows = N or T·N.
    """
    from convrnn.layers.recurrent.gpu.cells.forward import forward_kernel

    layout = layout_of(xw, reverse, lookahead)
    dtype = compute_dtype(state[0])
    device = xw.device
    xw = xw.contiguous()
    rows, slots = layout.rows, layout.steps if layout.windowed else layout.time
    repeat = layout.rows // layout.batch
    current = [s.to(dtype).repeat(repeat, 1).contiguous() for s in state]
    sizes = spec.state_sizes
    every = [torch.empty(slots, rows, size, dtype=dtype, device=device) for size in sizes]
    zone = zoneout_mode(zoneout, training)
    saved_width = spec.saved_width(zone != 0)
    saved = torch.empty(slots, rows, saved_width, dtype=dtype, device=device)
    normed = torch.empty(slots, rows, spec.normed_width, dtype=dtype, device=device)
    rstd = torch.empty(slots, rows, spec.rstd_width, dtype=dtype, device=device)
    weight_hh, bias_hh, peephole, gain, shift, cell_gain, cell_shift, weight_ho, bias_ho = parameters
    like = every[0]
    grid = (triton_cdiv(rows, BLOCK_N),)
    persistent = strategy == "persistent"
    mm_dtype = matmul_dtype(precision, dtype)
    H, S = spec.hidden, spec.feedback
    first_width = FIRST_STAGE[spec.kind] * H
    feedback = torch.empty(rows, S, dtype=mm_dtype, device=device) if not persistent else dummy(like)
    gated = torch.empty(rows, H, dtype=mm_dtype, device=device) if not persistent and spec.two_stage else dummy(like)
    first = torch.empty(rows, first_width, dtype=mm_dtype, device=device) if not persistent else dummy(like)
    second = torch.empty(rows, S if spec.kind == JORDAN else H, dtype=mm_dtype, device=device) \
        if not persistent and spec.two_stage else dummy(like)
    arguments = [xw, current[0], current[-1] if spec.components == 2 else dummy(like),
                 weight_hh.contiguous(), present(bias_hh, like), present(peephole, like), present(gain, like),
                 present(shift, like), present(cell_gain, like), present(cell_shift, like), present(weight_ho, like),
                 present(bias_ho, like), lengths.contiguous() if lengths is not None else dummy(like, torch.long),
                 drop.to(dtype).contiguous() if drop is not None else dummy(like),
                 scalars(zoneout, eps, xw, dtype, spec.slope),
                 every[0], every[-1] if spec.components == 2 else dummy(like), present(saved, like),
                 present(normed, like), present(rstd, like), feedback, gated, first, second]
    sizes_arguments = [seed, layout.steps, layout.time, rows, layout.batch, H, S, layout.lookahead]
    widths = [saved_width, spec.normed_width, spec.rstd_width, first_width, max(H, S)]
    options = flags(spec, layout, lengths, zone, drop, precision)
    launch = forward_kernel[grid]
    if persistent:
        launch(*arguments, *sizes_arguments, 0, *widths, PERSISTENT=True, PHASE=0, **options,
               num_warps=warps(spec, True))
    else:
        first_matrix, second_matrix = stage_matrices(spec, weight_hh, weight_ho, mm_dtype)
        out = current[-1] if spec.kind == JORDAN else current[0]
        feedback.copy_(out if drop is None else out * drop.to(dtype).repeat(repeat, 1))

        def loop() -> None:
            for k in range(layout.steps):
                torch.mm(feedback, first_matrix.t(), out=first)
                launch(*arguments, *sizes_arguments, k, *widths, PERSISTENT=False, PHASE=1 if spec.two_stage else 0,
                       **options, num_warps=4)
                if spec.two_stage:
                    torch.mm(gated, second_matrix.t(), out=second)
                    launch(*arguments, *sizes_arguments, k, *widths, PERSISTENT=False, PHASE=2, **options,
                           num_warps=4)

        graphs.run(loop, device, lambda: graphs.key_of(
            [t for t in arguments if isinstance(t, Tensor)] + [first_matrix, second_matrix],
            [*sizes_arguments, *widths, *sorted(options.items())]))
    return (*every, *current, saved, normed, rstd)


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def backward(spec: Spec, xw_shape: tuple[int, ...], state: tuple[Tensor, ...], parameters: tuple[Tensor, ...],
             lengths: Tensor | None, drop: Tensor | None, zoneout: float, training: bool, seed: int, eps: float,
             reverse: bool, lookahead: int, strategy: str, precision: str, results: tuple[Tensor, ...],
             grad_every: tuple[Tensor | None, ...], grad_final: tuple[Tensor | None, ...]) -> tuple[Tensor, ...]:
    """Run the backward kernel over :func:`forward`'s ``results`` (every state, final state, SAVED,
    NORMED, RSTD). grad_every, grad_final: ∂L/∂ of each state component's every step and final
    value (None where no loss reads it).

    Returns (∂L/∂xw (T, N, chunks·H), ∂L/∂state per component (N, S_k), then the gradients of the
    nine parameters of ``spec.parameters_of`` (an empty tensor where the cell has none)).
    """
    from convrnn.layers.recurrent.gpu.cells.backward import backward_kernel

    time, batch = xw_shape[:2]
    layout = layout_of(torch.empty(time, batch, 0), reverse, lookahead)
    components = spec.components
    every = results[:components]
    saved, normed, rstd = results[2 * components:]
    dtype, device = every[0].dtype, every[0].device
    rows, slots = layout.rows, every[0].shape[0]
    repeat = rows // batch
    H, S = spec.hidden, spec.feedback
    weight_hh, _, peephole, gain, _, cell_gain, cell_shift, weight_ho, _ = parameters
    like = every[0]
    initial = [s.to(dtype).repeat(repeat, 1).contiguous() for s in state]
    carried = [g.to(dtype).contiguous().clone() if g is not None
               else torch.zeros(rows, size, dtype=dtype, device=device)
               for g, size in zip(grad_final, spec.state_sizes, strict=True)]
    grad_xw = torch.empty(slots, rows, spec.chunks * H, dtype=dtype, device=device)
    recurrent = torch.empty(slots, rows, spec.blocks * H, dtype=dtype, device=device) \
        if spec.separate_recurrent_gradient else dummy(like)
    feedbacks = torch.empty(slots, rows, S, dtype=dtype, device=device)
    delta_o = torch.empty(slots, rows, S, dtype=dtype, device=device) if spec.kind == JORDAN else dummy(like)
    programs = triton_cdiv(rows, BLOCK_N)
    block_v = next_power_of_two(max(1, spec.vector_slots))
    partial = torch.zeros(programs, block_v, block(H), dtype=dtype, device=device)
    persistent = strategy == "persistent"
    mm_dtype = matmul_dtype(precision, dtype)
    first_width = FIRST_STAGE[spec.kind] * H
    stepwise = not persistent
    pending = torch.zeros(rows, S, dtype=mm_dtype, device=device) if stepwise else dummy(like)
    first = torch.zeros(rows, first_width, dtype=mm_dtype, device=device) if stepwise else dummy(like)
    second = torch.empty(rows, S if spec.kind == JORDAN else H, dtype=mm_dtype, device=device) \
        if stepwise and spec.two_stage else dummy(like)
    product = torch.empty(rows, H, dtype=mm_dtype, device=device) if stepwise and spec.two_stage else dummy(like)
    handed = torch.empty(rows, H, dtype=dtype, device=device) if stepwise and spec.two_stage else dummy(like)
    zone = zoneout_mode(zoneout, training)
    arguments = [initial[0], initial[-1] if components == 2 else dummy(like), every[0],
                 every[-1] if components == 2 else dummy(like), present(saved, like), present(normed, like),
                 present(rstd, like), weight_hh.contiguous(), present(peephole, like), present(gain, like),
                 present(cell_gain, like), present(cell_shift, like), present(weight_ho, like),
                 lengths.contiguous() if lengths is not None else dummy(like, torch.long),
                 drop.to(dtype).contiguous() if drop is not None else dummy(like),
                 scalars(zoneout, eps, like, dtype, spec.slope),
                 grad_every[0].contiguous() if grad_every[0] is not None else dummy(like),
                 grad_every[-1].contiguous() if components == 2 and grad_every[-1] is not None else dummy(like),
                 carried[0], carried[-1] if components == 2 else dummy(like), grad_xw, recurrent, feedbacks, delta_o,
                 partial, pending, first, second, product, handed]
    sizes_arguments = [seed, layout.steps, layout.time, rows, layout.batch, H, S, layout.lookahead]
    widths = [saved.shape[-1], spec.normed_width, spec.rstd_width, first_width, max(H, S)]
    options = flags(spec, layout, lengths, zone, drop, precision)
    options.update(HAS_GRAD0=grad_every[0] is not None,
                   HAS_GRAD1=components == 2 and grad_every[-1] is not None,
                   SEPARATE=spec.separate_recurrent_gradient, BLOCK_V=block_v)
    launch = backward_kernel[(programs,)]
    if persistent:
        launch(*arguments, *sizes_arguments, 0, *widths, PERSISTENT=True, PHASE=0, **options,
               num_warps=warps(spec, True))
    else:
        first_matrix, second_matrix = stage_matrices(spec, weight_hh, weight_ho, mm_dtype)

        def loop() -> None:
            for k in reversed(range(layout.steps)):
                if spec.two_stage:
                    launch(*arguments, *sizes_arguments, k, *widths, PERSISTENT=False, PHASE=2, **options,
                           num_warps=4)
                    torch.mm(second, second_matrix, out=product)
                    launch(*arguments, *sizes_arguments, k, *widths, PERSISTENT=False, PHASE=1, **options,
                           num_warps=4)
                else:
                    launch(*arguments, *sizes_arguments, k, *widths, PERSISTENT=False, PHASE=0, **options,
                           num_warps=4)
                torch.mm(first, first_matrix, out=pending)

        graphs.run(loop, device, lambda: graphs.key_of(
            [t for t in arguments if isinstance(t, Tensor)] + [first_matrix, second_matrix],
            [*sizes_arguments, *widths, *sorted(options.items())]))
        out = -1 if spec.kind == JORDAN else 0
        tail = pending.to(dtype)
        carried[out] += tail if drop is None else tail * drop.to(dtype).repeat(repeat, 1)

    grad_hh, grad_ho, grad_bho = _weight_gradients(spec, grad_xw, recurrent, feedbacks, delta_o, saved, every,
                                                   zone != 0, parameters)
    grad_bias, grad_peephole, grad_gain, grad_shift, grad_cell_gain, grad_cell_shift = \
        _vector_gradients(spec, partial, parameters)
    return (_input_gradient(grad_xw, layout), *_state_gradients(carried, layout), grad_hh, grad_bias, grad_peephole,
            grad_gain, grad_shift, grad_cell_gain, grad_cell_shift, grad_ho, grad_bho)


def _input_gradient(grad_xw: Tensor, layout: Layout) -> Tensor:
    """∂L/∂xw (T, N, G): as written (positions), or the window steps' gradients added at the
    position each read (window row (t₀, n), step k read x_{t₀+L−k})."""
    if not layout.windowed:
        return grad_xw
    T, N, L = layout.time, layout.batch, layout.lookahead
    steps = grad_xw.view(layout.steps, T, N, -1)
    total = torch.zeros(T, N, grad_xw.shape[-1], dtype=grad_xw.dtype, device=grad_xw.device)
    for k in range(layout.steps):
        shift = L - k                  # t₀ + shift = the position read
        if shift < T:
            total[shift:] += steps[k, :T - shift]
    return total


def _state_gradients(carried: list[Tensor], layout: Layout) -> list[Tensor]:
    if not layout.windowed:
        return carried
    return [g.view(layout.time, layout.batch, -1).sum(0) for g in carried]


def _weight_gradients(spec: Spec, grad_xw: Tensor, recurrent: Tensor, feedbacks: Tensor, delta_o: Tensor,
                      saved: Tensor, every: tuple[Tensor, ...], zoneout: bool,
                      parameters: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
    """∂L/∂U (and Jordan's ∂L/∂V): one product over every step and row."""
    H = spec.hidden
    delta = (recurrent if spec.separate_recurrent_gradient else grad_xw).flatten(0, 1)
    inputs = feedbacks.flatten(0, 1)
    weight_hh, weight_ho = parameters[0], parameters[7]
    if spec.kind in (GRU_BEFORE, MGU):
        first = (spec.blocks - 1) * H
        gated = saved.flatten(0, 1)[:, (spec.blocks if spec.kind == GRU_BEFORE else 2) * H:][:, :H]
        grad_hh = torch.cat([delta[:, :first].t().mm(inputs), delta[:, first:first + H].t().mm(gated)])
    else:
        grad_hh = delta.t().mm(inputs)
    grad_ho = torch.empty(0, dtype=grad_hh.dtype, device=grad_hh.device)
    grad_bho = grad_ho
    if spec.kind == JORDAN:
        hidden = (saved[..., :H] if zoneout else every[0]).flatten(0, 1)
        flat = delta_o.flatten(0, 1)
        grad_ho, grad_bho = flat.t().mm(hidden).to(weight_ho.dtype), flat.sum(0).to(weight_ho.dtype)
    return grad_hh.to(weight_hh.dtype), grad_ho, grad_bho


def _vector_gradients(spec: Spec, partial: Tensor, parameters: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """(∂L/∂bias_hh, ∂L/∂peephole, ∂L/∂gain, ∂L/∂shift, ∂L/∂cell gain, ∂L/∂cell shift) from the
    kernel's per-program sums; the Jordan gradients come from :func:`_weight_gradients`."""
    _, bias_hh, peephole, gain, shift, cell_gain, cell_shift, _, _ = parameters
    H, NB = spec.hidden, spec.blocks
    sums = partial.sum(0)[:, :H]
    empty = sums.new_empty(0)
    biases = sums[:NB]
    grad_bias = biases.reshape(-1).to(bias_hh.dtype) if bias_hh.numel() else empty
    grad_gain = sums[NB:2 * NB].to(gain.dtype) if spec.layer_norm else empty
    grad_shift = biases.to(shift.dtype) if spec.layer_norm else empty
    peep = NB * (2 if spec.layer_norm else 1)
    grad_peephole = sums[peep:peep + 3].to(peephole.dtype) if spec.peephole else empty
    cell = peep + 3 * spec.peephole
    lstm_norm = spec.layer_norm and cell_gain.numel() > 0
    grad_cell_gain = sums[cell:cell + 1].to(cell_gain.dtype) if lstm_norm else empty
    grad_cell_shift = sums[cell + 1:cell + 2].to(cell_shift.dtype) if lstm_norm else empty
    return grad_bias, grad_peephole, grad_gain, grad_shift, grad_cell_gain, grad_cell_shift
