"""The forward kernel of every recurrent cell the compiled CPU core runs, in Triton.

One kernel source serves both strategies (``launch.py`` chooses by shape):

- **persistent** (``PERSISTENT=True``): one launch runs every step; each program owns ``BLOCK_N``
  rows (sequences, or look-ahead windows) and keeps the recurrent matrix U on chip as (S, H)
  tiles, one per gate block, so a step is ``tl.dot`` + pointwise code with no global round trip;
- **stepwise** (``PERSISTENT=False``): one launch per step (per stage), after the step's recurrent
  product R = fb Uᵀ has been computed by cuBLAS (``torch.mm``); the kernel is the fused pointwise
  part. Cells whose step needs a second product of a gated state (GRU with ``reset="before"``,
  MGU: U_h (r ∘ h); Jordan: V h) run it in two launches, ``PHASE`` 1 and 2, around that product.

Rows and steps. Row r is sequence n = r (or, for look-ahead windows, ``WINDOWED``: n = r mod N and
the window of t₀ = r div N). At processing step k a row reads position p of the projections:
p = k forward; p = length − 1 − k backward within its own length (``REVERSE``); p = t₀ + L − k for
windows. The step is valid where p (k, unwindowed) lies before the sequence's length; elsewhere
the state is frozen. States are stored at their position p (``slot``; zero where not valid, the
engine's padded outputs) — for windows at k, frozen, the order the backward pass reads them in.

Equations: those of ``cells.py`` (the single source of truth; the tests hold this kernel to the
engine running them), with the options of ``options.py`` (layer norm of every recurrent block
before its bias, recurrent dropout on the feedback, zoneout s = k∘s_old + (1 − k)∘s_new with
Philox draws). State component 0 is h; component 1 is the LSTM's c or Jordan's y (O = S wide).
"""

from __future__ import annotations

import triton
import triton.language as tl

from convrnn.layers.recurrent.gpu.pointwise import activate, dot, keep_draw, layer_norm, sigmoid, tanh

ELMAN = tl.constexpr(0)
LSTM = tl.constexpr(1)
GRU_AFTER = tl.constexpr(2)
GRU_BEFORE = tl.constexpr(3)
MGU = tl.constexpr(4)
JORDAN = tl.constexpr(5)
GATED = tl.constexpr(6)


@triton.jit
def rows_of(ptr, starts, cols, mask, ACC: tl.constexpr):
    """A (R, C) tile: row i from element ``starts[i]``, columns ``cols``; 0 where not ``mask``."""
    return tl.load(ptr + starts[:, None] + cols[None, :], mask=mask, other=0.0).to(ACC)


@triton.jit
def put_rows(ptr, starts, cols, mask, value):
    tl.store(ptr + starts[:, None] + cols[None, :], value.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def vector(ptr, cols, valid, ACC: tl.constexpr):
    return tl.load(ptr + cols, mask=valid, other=0.0).to(ACC)


@triton.jit
def recurrent_tile(W, block, H, S, hcols, scols, hvalid, svalid, ACC: tl.constexpr):
    """Block ``block`` of W (blocks·H, S) transposed: the (S, H) tile t[j, i] = W[block·H + i, j]."""
    return tl.load(W + (block * H + hcols[None, :]) * S + scols[:, None],
                   mask=svalid[:, None] & hvalid[None, :], other=0.0).to(ACC)


@triton.jit
def product(fb, u, R, starts, cols, mask, ACC: tl.constexpr, PERSISTENT: tl.constexpr, PRECISION: tl.constexpr):
    """fb Uᵀ of one gate block: on chip (persistent), or read from R where cuBLAS wrote it (stepwise)."""
    if PERSISTENT:
        return dot(fb, u, PRECISION)
    else:
        return rows_of(R, starts, cols, mask, ACC)


@triton.jit
def normalise(r, block, GAIN, SHIFT, BHH, NORMED, RSTD, at, H, NW, RW, cols, valid, mask, row_ok, eps,
              ACC: tl.constexpr, LAYER_NORM: tl.constexpr, BIAS: tl.constexpr):
    """LN(r; α_block, β_block) + b_block (``options.BlockLayerNorm``), saving ẑ and 1/σ for the
    backward pass; r + b_block without layer norm."""
    if LAYER_NORM:
        gain = vector(GAIN + block * H, cols, valid, ACC)
        shift = vector(SHIFT + block * H, cols, valid, ACC)
        normed, rstd, r = layer_norm(r, gain, shift, valid, H, eps)
        put_rows(NORMED, at * NW + block * H, cols, mask, normed)
        tl.store(RSTD + at * RW + block, rstd.to(RSTD.dtype.element_ty), mask=row_ok)
    if BIAS:
        r = r + vector(BHH + block * H, cols, valid, ACC)[None, :]
    return r


@triton.jit
def decide(o, valid, DECISION: tl.constexpr):
    """Jordan's decision function d over a row of O outputs: identity, tanh, σ or softmax."""
    if DECISION == 1:
        return tanh(o)
    elif DECISION == 2:
        return sigmoid(o)
    elif DECISION == 3:
        largest = tl.max(tl.where(valid[None, :], o, float("-inf")), axis=1)
        e = tl.where(valid[None, :], tl.exp(o - largest[:, None]), 0.0)
        return e / tl.sum(e, axis=1)[:, None]
    else:
        return o


@triton.jit
def zoneout_mix(old, new, seed, k, rows, row, component, cols, width, SCALARS, ACC: tl.constexpr,
                ZONEOUT: tl.constexpr):
    """k∘old + (1 − k)∘new: k drawn (training, ``ZONEOUT`` 2) or k = p (evaluation, 1)."""
    if ZONEOUT == 2:
        keep = keep_draw(seed, k, rows, row, component, cols, width, tl.load(SCALARS).to(tl.float32)).to(ACC)
        return old * keep + new * (1.0 - keep)
    elif ZONEOUT == 1:
        return old * tl.load(SCALARS).to(ACC) + new * tl.load(SCALARS + 1).to(ACC)
    else:
        return new


@triton.jit
def step_position(k, start, length, row_ok, lookahead, REVERSE: tl.constexpr, WINDOWED: tl.constexpr,
                  BLOCK_N: tl.constexpr):
    """(p, valid, slot) of processing step k: the position read, whether the step is real, where the
    step's state is stored."""
    if WINDOWED:
        p = start + lookahead - k
        valid = row_ok & (p < length)
        slot = tl.zeros((BLOCK_N,), tl.int32) + k
    else:
        valid = row_ok & (k < length)
        if REVERSE:
            p = tl.where(valid, length - 1 - k, k)
        else:
            p = tl.zeros((BLOCK_N,), tl.int32) + k
        slot = p
    return p, valid, slot


@triton.jit
def forward_kernel(
        XW, CUR0, CUR1, WHH, BHH, PEEP, GAIN, SHIFT, CGAIN, CSHIFT, WHO, BHO, LENGTHS, DROP, SCALARS,
        OUT0, OUT1, SAVED, NORMED, RSTD, FB, Q, R1, R2,
        seed, steps, time, rows, batch, H, S, lookahead, step, SW, NW, RW, R1W, WIDTH,
        KIND: tl.constexpr, CHUNKS: tl.constexpr, NB: tl.constexpr, ACTIVATION: tl.constexpr,
        PEEPHOLE: tl.constexpr, LAYER_NORM: tl.constexpr, DECISION: tl.constexpr, REVERSE: tl.constexpr,
        WINDOWED: tl.constexpr, HAS_LENGTHS: tl.constexpr, ZONEOUT: tl.constexpr, DROPOUT: tl.constexpr,
        PERSISTENT: tl.constexpr, PHASE: tl.constexpr, PRECISION: tl.constexpr,
        BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_S: tl.constexpr):
    """Steps of one cell over rows ``BLOCK_N·pid …``; see the module docstring.

    XW (T, N, CHUNKS·H) the projections W x + b; CUR0 (rows, H) and CUR1 (rows, H or S) the state
    before the first step, overwritten with the state after the last; OUT0/OUT1 (slots, rows, ·)
    every step's state; SAVED (slots, rows, SW) gate activations (and pre-zoneout states), NORMED
    (slots, rows, NW) and RSTD (slots, rows, RW) layer norm's ẑ and 1/σ; FB (rows, S), Q (rows, H),
    R1 (rows, R1W), R2: the stepwise strategy's per-step buffers (feedback, gated state, products)."""
    ACC = CUR0.dtype.element_ty
    TWO_STAGE: tl.constexpr = KIND >= GRU_BEFORE and KIND <= JORDAN   # GRU reset before, MGU, Jordan
    eps = tl.load(SCALARS + 2).to(ACC)
    slope = tl.load(SCALARS + 3).to(ACC)   # the leaky ReLU's
    pid = tl.program_id(0)
    row = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = row < rows
    if WINDOWED:
        n = row % batch
        start = row // batch
    else:
        n = row
        start = row
    if HAS_LENGTHS:
        length = tl.load(LENGTHS + n, mask=row_ok, other=0).to(tl.int32)
    else:
        length = tl.zeros((BLOCK_N,), tl.int32) + time
    hcols = tl.arange(0, BLOCK_H)
    hvalid = hcols < H
    scols = tl.arange(0, BLOCK_S)
    svalid = scols < S
    hmask = row_ok[:, None] & hvalid[None, :]
    smask = row_ok[:, None] & svalid[None, :]
    row64 = row.to(tl.int64)

    s0 = rows_of(CUR0, row64 * H, hcols, hmask, ACC)
    if KIND == LSTM:
        s1 = rows_of(CUR1, row64 * H, hcols, hmask, ACC)
    if KIND == JORDAN:
        s1 = rows_of(CUR1, row64 * S, scols, smask, ACC)
    if DROPOUT:
        drop = rows_of(DROP, n.to(tl.int64) * S, scols, smask, ACC)
    if PERSISTENT:
        u0 = recurrent_tile(WHH, 0, H, S, hcols, scols, hvalid, svalid, ACC)
        if NB > 1:
            u1 = recurrent_tile(WHH, 1, H, S, hcols, scols, hvalid, svalid, ACC)
        if NB > 2:
            u2 = recurrent_tile(WHH, 2, H, S, hcols, scols, hvalid, svalid, ACC)
        if NB > 3:
            u3 = recurrent_tile(WHH, 3, H, S, hcols, scols, hvalid, svalid, ACC)
        if KIND == JORDAN:
            vt = tl.load(WHO + scols[None, :] * H + hcols[:, None], mask=hvalid[:, None] & svalid[None, :],
                         other=0.0).to(ACC)
    else:
        u0 = 0.0
        u1 = 0.0
        u2 = 0.0
        u3 = 0.0
        vt = 0.0
    if KIND == GRU_BEFORE:
        un = u2
    if KIND == MGU:
        un = u1
    if KIND == JORDAN:
        bho = vector(BHO, scols, svalid, ACC)
    if PEEPHOLE:
        vi = vector(PEEP, hcols, hvalid, ACC)[None, :]
        vf = vector(PEEP + H, hcols, hvalid, ACC)[None, :]
        vo = vector(PEEP + 2 * H, hcols, hvalid, ACC)[None, :]
    BIAS: tl.constexpr = KIND != JORDAN

    if PERSISTENT:
        count = steps
    else:
        count = 1
    for j in range(count):
        if PERSISTENT:
            k = j
        else:
            k = step
        p, valid, slot = step_position(k, start, length, row_ok, lookahead, REVERSE, WINDOWED, BLOCK_N)
        x_at = (p.to(tl.int64) * batch + n) * (CHUNKS * H)
        at = slot.to(tl.int64) * rows + row64
        vmask = valid[:, None] & hvalid[None, :]
        if KIND == JORDAN:
            feedback = s1
        else:
            feedback = s0
        if DROPOUT:
            feedback = feedback * drop
        r_at = row64 * R1W

        # ---- stage 1: the products of the previous feedback, and the gates they make ----
        if PHASE != 2:
            x0 = rows_of(XW, x_at, hcols, vmask, ACC)
            r0 = product(feedback, u0, R1, r_at, hcols, hmask, ACC, PERSISTENT, PRECISION)
            r0 = normalise(r0, 0, GAIN, SHIFT, BHH, NORMED, RSTD, at, H, NW, RW, hcols, hvalid, hmask, row_ok, eps,
                           ACC, LAYER_NORM, BIAS)
            if KIND == ELMAN:
                new0 = activate(x0 + r0, ACTIVATION, slope)
            elif KIND == LSTM:
                r1 = product(feedback, u1, R1, r_at + H, hcols, hmask, ACC, PERSISTENT, PRECISION)
                r2 = product(feedback, u2, R1, r_at + 2 * H, hcols, hmask, ACC, PERSISTENT, PRECISION)
                r3 = product(feedback, u3, R1, r_at + 3 * H, hcols, hmask, ACC, PERSISTENT, PRECISION)
                r1 = normalise(r1, 1, GAIN, SHIFT, BHH, NORMED, RSTD, at, H, NW, RW, hcols, hvalid, hmask, row_ok,
                               eps, ACC, LAYER_NORM, BIAS)
                r2 = normalise(r2, 2, GAIN, SHIFT, BHH, NORMED, RSTD, at, H, NW, RW, hcols, hvalid, hmask, row_ok,
                               eps, ACC, LAYER_NORM, BIAS)
                r3 = normalise(r3, 3, GAIN, SHIFT, BHH, NORMED, RSTD, at, H, NW, RW, hcols, hvalid, hmask, row_ok,
                               eps, ACC, LAYER_NORM, BIAS)
                c_old = s1
                a_i = x0 + r0
                a_f = rows_of(XW, x_at + H, hcols, vmask, ACC) + r1
                if PEEPHOLE:
                    a_i = a_i + vi * c_old
                    a_f = a_f + vf * c_old
                gate_i = sigmoid(a_i)
                gate_f = sigmoid(a_f)
                gate_g = tanh(rows_of(XW, x_at + 2 * H, hcols, vmask, ACC) + r2)
                new1 = gate_f * c_old + gate_i * gate_g
                a_o = rows_of(XW, x_at + 3 * H, hcols, vmask, ACC) + r3
                if PEEPHOLE:
                    a_o = a_o + vo * new1
                gate_o = sigmoid(a_o)
                if LAYER_NORM:
                    cell_hat, cell_rstd, shown = layer_norm(new1, vector(CGAIN, hcols, hvalid, ACC),
                                                            vector(CSHIFT, hcols, hvalid, ACC), hvalid, H, eps)
                    put_rows(NORMED, at * NW + NB * H, hcols, hmask, cell_hat)
                    tl.store(RSTD + at * RW + NB, cell_rstd.to(RSTD.dtype.element_ty), mask=row_ok)
                else:
                    shown = new1
                new0 = gate_o * tanh(shown)
                put_rows(SAVED, at * SW, hcols, hmask, gate_i)
                put_rows(SAVED, at * SW + H, hcols, hmask, gate_f)
                put_rows(SAVED, at * SW + 2 * H, hcols, hmask, gate_g)
                put_rows(SAVED, at * SW + 3 * H, hcols, hmask, gate_o)
            elif KIND == GRU_AFTER:
                r1 = product(feedback, u1, R1, r_at + H, hcols, hmask, ACC, PERSISTENT, PRECISION)
                r2 = product(feedback, u2, R1, r_at + 2 * H, hcols, hmask, ACC, PERSISTENT, PRECISION)
                r1 = normalise(r1, 1, GAIN, SHIFT, BHH, NORMED, RSTD, at, H, NW, RW, hcols, hvalid, hmask, row_ok,
                               eps, ACC, LAYER_NORM, BIAS)
                r2 = normalise(r2, 2, GAIN, SHIFT, BHH, NORMED, RSTD, at, H, NW, RW, hcols, hvalid, hmask, row_ok,
                               eps, ACC, LAYER_NORM, BIAS)
                gate_r = sigmoid(x0 + r0)
                gate_z = sigmoid(rows_of(XW, x_at + H, hcols, vmask, ACC) + r1)
                candidate = tanh(rows_of(XW, x_at + 2 * H, hcols, vmask, ACC) + gate_r * r2)
                new0 = candidate + gate_z * (s0 - candidate)
                put_rows(SAVED, at * SW, hcols, hmask, gate_r)
                put_rows(SAVED, at * SW + H, hcols, hmask, gate_z)
                put_rows(SAVED, at * SW + 2 * H, hcols, hmask, candidate)
                put_rows(SAVED, at * SW + 3 * H, hcols, hmask, r2)
            elif KIND == GATED:
                r1 = product(feedback, u1, R1, r_at + H, hcols, hmask, ACC, PERSISTENT, PRECISION)
                r1 = normalise(r1, 1, GAIN, SHIFT, BHH, NORMED, RSTD, at, H, NW, RW, hcols, hvalid, hmask, row_ok,
                               eps, ACC, LAYER_NORM, BIAS)
                gate_g = sigmoid(x0 + r0)
                candidate = tanh(rows_of(XW, x_at + H, hcols, vmask, ACC) + r1)
                new0 = candidate + gate_g * (s0 - candidate)
                put_rows(SAVED, at * SW, hcols, hmask, gate_g)
                put_rows(SAVED, at * SW + H, hcols, hmask, candidate)
            elif KIND == GRU_BEFORE:
                r1 = product(feedback, u1, R1, r_at + H, hcols, hmask, ACC, PERSISTENT, PRECISION)
                r1 = normalise(r1, 1, GAIN, SHIFT, BHH, NORMED, RSTD, at, H, NW, RW, hcols, hvalid, hmask, row_ok,
                               eps, ACC, LAYER_NORM, BIAS)
                gate_r = sigmoid(x0 + r0)
                gate_z = sigmoid(rows_of(XW, x_at + H, hcols, vmask, ACC) + r1)
                gated = gate_r * feedback
                put_rows(SAVED, at * SW, hcols, hmask, gate_r)
                put_rows(SAVED, at * SW + H, hcols, hmask, gate_z)
                put_rows(SAVED, at * SW + 3 * H, hcols, hmask, gated)
            elif KIND == MGU:
                gate_f = sigmoid(x0 + r0)
                gated = gate_f * feedback
                put_rows(SAVED, at * SW, hcols, hmask, gate_f)
                put_rows(SAVED, at * SW + 2 * H, hcols, hmask, gated)
            else:
                hidden = activate(x0 + r0, ACTIVATION, slope)
            if PHASE == 1:
                # the gated state (Jordan: h) for cuBLAS's second product
                if KIND == JORDAN:
                    put_rows(Q, row64 * H, hcols, hmask, hidden)
                else:
                    put_rows(Q, row64 * H, hcols, hmask, gated)

        # ---- stage 2: the product of the gated state (GRU reset before, MGU) or of h (Jordan) ----
        if TWO_STAGE:
            if PHASE != 1:
                if PHASE == 2:
                    if KIND == GRU_BEFORE:
                        gate_z = rows_of(SAVED, at * SW + H, hcols, hmask, ACC)
                        gated = rows_of(Q, row64 * H, hcols, hmask, ACC)
                    elif KIND == MGU:
                        gate_f = rows_of(SAVED, at * SW, hcols, hmask, ACC)
                        gated = rows_of(Q, row64 * H, hcols, hmask, ACC)
                    else:
                        hidden = rows_of(Q, row64 * H, hcols, hmask, ACC)
                if KIND == JORDAN:
                    o = product(hidden, vt, R2, row64 * S, scols, smask, ACC, PERSISTENT, PRECISION)
                    new0 = hidden
                    new1 = decide(o + bho[None, :], svalid, DECISION)
                else:
                    rn = product(gated, un, R2, row64 * H, hcols, hmask, ACC, PERSISTENT, PRECISION)
                    rn = normalise(rn, NB - 1, GAIN, SHIFT, BHH, NORMED, RSTD, at, H, NW, RW, hcols, hvalid, hmask,
                                   row_ok, eps, ACC, LAYER_NORM, BIAS)
                    candidate = tanh(rows_of(XW, x_at + (NB - 1) * H, hcols, vmask, ACC) + rn)
                    if KIND == GRU_BEFORE:
                        new0 = candidate + gate_z * (s0 - candidate)
                        put_rows(SAVED, at * SW + 2 * H, hcols, hmask, candidate)
                    else:
                        new0 = s0 + gate_f * (candidate - s0)
                        put_rows(SAVED, at * SW + H, hcols, hmask, candidate)

        # ---- the new state: zoneout, masking, stores ----
        if PHASE != 1:
            if ZONEOUT != 0:
                if KIND == ELMAN:
                    put_rows(SAVED, at * SW, hcols, hmask, new0)
                if KIND == JORDAN:
                    put_rows(SAVED, at * SW, hcols, hmask, new0)
                    put_rows(SAVED, at * SW + H, scols, smask, new1)
            new0 = zoneout_mix(s0, new0, seed, k, rows, row, 0, hcols, WIDTH, SCALARS, ACC, ZONEOUT)
            s0 = tl.where(valid[:, None], new0, s0)
            if WINDOWED:
                put_rows(OUT0, at * H, hcols, hmask, s0)
            else:
                put_rows(OUT0, at * H, hcols, hmask, tl.where(valid[:, None], s0, 0.0))
            if KIND == LSTM:
                new1 = zoneout_mix(s1, new1, seed, k, rows, row, 1, hcols, WIDTH, SCALARS, ACC, ZONEOUT)
                s1 = tl.where(valid[:, None], new1, s1)
                if WINDOWED:
                    put_rows(OUT1, at * H, hcols, hmask, s1)
                else:
                    put_rows(OUT1, at * H, hcols, hmask, tl.where(valid[:, None], s1, 0.0))
            if KIND == JORDAN:
                new1 = zoneout_mix(s1, new1, seed, k, rows, row, 1, scols, WIDTH, SCALARS, ACC, ZONEOUT)
                s1 = tl.where(valid[:, None], new1, s1)
                if WINDOWED:
                    put_rows(OUT1, at * S, scols, smask, s1)
                else:
                    put_rows(OUT1, at * S, scols, smask, tl.where(valid[:, None], s1, 0.0))
            if not PERSISTENT:
                if KIND == JORDAN:
                    feedback = s1
                else:
                    feedback = s0
                if DROPOUT:
                    feedback = feedback * drop
                put_rows(FB, row64 * S, scols, smask, feedback)

    if PHASE != 1:
        put_rows(CUR0, row64 * H, hcols, hmask, s0)
        if KIND == LSTM:
            put_rows(CUR1, row64 * H, hcols, hmask, s1)
        if KIND == JORDAN:
            put_rows(CUR1, row64 * S, scols, smask, s1)


@triton.jit
def keeps_kernel(OUT, seed, probability, rows, size, component, WIDTH, BLOCK_N: tl.constexpr, BLOCK_S: tl.constexpr):
    """Zoneout's keep weights of one step and component as the forward kernel draws them:
    OUT (rows, size) for step ``program_id(1)``, written at OUT + step·rows·size."""
    step = tl.program_id(1)
    row = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.arange(0, BLOCK_S)
    keep = keep_draw(seed, step, rows, row, component, cols, WIDTH, probability)
    mask = (row < rows)[:, None] & (cols < size)[None, :]
    offsets = (step * rows + row.to(tl.int64))[:, None] * size + cols[None, :]
    tl.store(OUT + offsets, keep.to(OUT.dtype.element_ty), mask=mask)
