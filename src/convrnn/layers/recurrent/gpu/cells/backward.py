"""The backward kernel of every recurrent cell: the forward kernel's steps walked back in time.

Same rows, positions and strategies as ``forward.py``. At processing step k (K − 1 … 0), with
d the gradient carried to the state s_k (from the final state's gradient, later steps and the
per-step state gradients):

    valid step:   d_new = (1 − κ)∘d, the gradient of the cell's fresh state (κ zoneout's keep
                  weights, drawn again from the same Philox counters; 0 without zoneout); the cell's
                  derivative turns d_new into the gradients of its gate pre-activations δ
                  (= ∂L/∂(W x_t + b)) and of its previous state; δ through layer norm's backward
                  pass gives ∂L/∂(U fb_{k−1}), whose product with U (on chip, or by cuBLAS between
                  launches) reaches the previous feedback, times the recurrent dropout mask;
                  d_{k−1} = κ∘d + (direct and recurrent terms).
    masked step:  d_{k−1} = d (the state was frozen); every gradient of the step is 0.

What the weights' gradients need is written per step and summed outside by one product each:
∂L/∂U = Σ ∂L/∂(U fb)ᵀ fb_{k−1} (``DREC`` — or ``GXW`` where the two coincide — and ``FBP``; the
second stage's U_h with the saved gated state; Jordan's V with δ_o in ``DOUT``). Per-unit
parameters (biases, layer norm gains and shifts, peepholes, the cell norm) are summed in the
kernel into ``PART`` (programs, BLOCK_V, BLOCK_H), one row per parameter vector
(``Spec.vector_slots``), without atomics: each program owns its rows.
"""

from __future__ import annotations

import triton
import triton.language as tl

from convrnn.layers.recurrent.gpu.cells.forward import (
    GATED,
    GRU_AFTER,
    GRU_BEFORE,
    JORDAN,
    LSTM,
    MGU,
    put_rows,
    recurrent_tile,
    rows_of,
    step_position,
    vector,
)
from convrnn.layers.recurrent.gpu.pointwise import activation_slope, dot, keep_draw, layer_norm_backward, tanh


@triton.jit
def accumulate(part, slot, values, slots):
    """Add the column sums of ``values`` (R, C) to row ``slot`` of ``part`` (V, C)."""
    return tl.where(slots[:, None] == slot, part + tl.sum(values, axis=0)[None, :], part)


@triton.jit
def through_norm(delta, block, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, cols, valid, mask, row_ok, NB,
                 ACC: tl.constexpr, LAYER_NORM: tl.constexpr):
    """δ of block ``block`` after its bias (and layer norm) → δ before layer norm, summing the
    bias's (shift's) and gain's gradients into ``part``. Returns (δ before, part)."""
    part = accumulate(part, block, delta, slots)
    if LAYER_NORM:
        normed = rows_of(NORMED, at * NW + block * H, cols, mask, ACC)
        rstd = tl.load(RSTD + at * RW + block, mask=row_ok, other=0.0).to(ACC)
        part = accumulate(part, NB + block, delta * normed, slots)
        delta = layer_norm_backward(delta, normed, rstd, vector(GAIN + block * H, cols, valid, ACC), valid, H)
    return delta, part


@triton.jit
def decide_backward(grad, y, valid, DECISION: tl.constexpr):
    """∂L/∂o of y = d(o) from ∂L/∂y."""
    if DECISION == 1:
        return grad * (1.0 - y * y)
    elif DECISION == 2:
        return grad * y * (1.0 - y)
    elif DECISION == 3:
        inner = tl.sum(tl.where(valid[None, :], grad * y, 0.0), axis=1)
        return y * (grad - inner[:, None])
    else:
        return grad


@triton.jit
def keep_weight(seed, k, rows, row, component, cols, width, SCALARS, ACC: tl.constexpr, ZONEOUT: tl.constexpr):
    """κ of one component at step k: the forward's draws (training), p (evaluation) or 0."""
    if ZONEOUT == 2:
        return keep_draw(seed, k, rows, row, component, cols, width, tl.load(SCALARS).to(tl.float32)).to(ACC)
    elif ZONEOUT == 1:
        return tl.load(SCALARS).to(ACC)
    else:
        return 0.0


@triton.jit
def recurrent_product(delta, u, PRECISION: tl.constexpr):
    """δ (R, H) U_b (H, S) from the (S, H) tile of U_b."""
    return dot(delta, tl.trans(u), PRECISION)


@triton.jit
def backward_kernel(
        INIT0, INIT1, OUT0, OUT1, SAVED, NORMED, RSTD, WHH, PEEP, GAIN, CGAIN, CSHIFT, WHO, LENGTHS, DROP, SCALARS,
        GOUT0, GOUT1, DCUR0, DCUR1, GXW, DREC, FBP, DOUT, PART, DFB, DR1, DR2, DQ, TMP,
        seed, steps, time, rows, batch, H, S, lookahead, step, SW, NW, RW, R1W, WIDTH,
        KIND: tl.constexpr, CHUNKS: tl.constexpr, NB: tl.constexpr, ACTIVATION: tl.constexpr,
        PEEPHOLE: tl.constexpr, LAYER_NORM: tl.constexpr, DECISION: tl.constexpr, REVERSE: tl.constexpr,
        WINDOWED: tl.constexpr, HAS_LENGTHS: tl.constexpr, ZONEOUT: tl.constexpr, DROPOUT: tl.constexpr,
        PERSISTENT: tl.constexpr, PHASE: tl.constexpr, PRECISION: tl.constexpr,
        HAS_GRAD0: tl.constexpr, HAS_GRAD1: tl.constexpr, SEPARATE: tl.constexpr,
        BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_S: tl.constexpr, BLOCK_V: tl.constexpr):
    """Backward steps of one cell over rows ``BLOCK_N·pid …``; see the module docstring.

    INIT* (rows, ·) the initial state; OUT*, SAVED, NORMED, RSTD the forward kernel's results;
    GOUT* (slots, rows, ·) ∂L/∂(every state) (``HAS_GRAD*``); DCUR* (rows, ·) the carried gradient:
    ∂L/∂(final state) in, ∂L/∂(initial state) out. Written: GXW (slots, rows, CHUNKS·H), DREC
    (``SEPARATE``), FBP (slots, rows, S), DOUT (Jordan), PART. Stepwise buffers: DFB (rows, S)
    ∂L/∂fb of the later step from cuBLAS, added first; DR1 (rows, R1W), DR2 the δ for cuBLAS; DQ
    (rows, H) cuBLAS's product of DR2; TMP (rows, H) what the second phase hands the first."""
    ACC = DCUR0.dtype.element_ty
    slope = tl.load(SCALARS + 3).to(ACC)   # the leaky ReLU's
    TWO_STAGE: tl.constexpr = KIND >= GRU_BEFORE and KIND <= JORDAN   # GRU reset before, MGU, Jordan
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
    slots = tl.arange(0, BLOCK_V)
    G = CHUNKS * H

    carry0 = rows_of(DCUR0, row64 * H, hcols, hmask, ACC)
    if KIND == LSTM:
        carry1 = rows_of(DCUR1, row64 * H, hcols, hmask, ACC)
    if KIND == JORDAN:
        carry1 = rows_of(DCUR1, row64 * S, scols, smask, ACC)
    part = tl.load(PART + pid * BLOCK_V * BLOCK_H + slots[:, None] * BLOCK_H + hcols[None, :]).to(ACC)
    if DROPOUT:
        drop = rows_of(DROP, n.to(tl.int64) * S, scols, smask, ACC)
    else:
        drop = 1.0
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
    if PEEPHOLE:
        vi = vector(PEEP, hcols, hvalid, ACC)[None, :]
        vf = vector(PEEP + H, hcols, hvalid, ACC)[None, :]
        vo = vector(PEEP + 2 * H, hcols, hvalid, ACC)[None, :]
        peep_slot = NB * (1 + LAYER_NORM)
    cell_slot = NB * (1 + LAYER_NORM) + 3 * PEEPHOLE

    if PERSISTENT:
        count = steps
    else:
        count = 1
    for j in range(count):
        if PERSISTENT:
            k = steps - 1 - j
        else:
            k = step
        p, valid, slot = step_position(k, start, length, row_ok, lookahead, REVERSE, WINDOWED, BLOCK_N)
        at = slot.to(tl.int64) * rows + row64
        # the state before step k: the initial one, or the one stored one step earlier
        if WINDOWED:
            before = slot - 1
        elif REVERSE:
            before = slot + 1
        else:
            before = slot - 1
        before_at = before.to(tl.int64) * rows + row64
        later = ((tl.zeros((BLOCK_N,), tl.int32) + k) > 0)[:, None]
        vmask = valid[:, None] & hvalid[None, :]
        wmask = valid[:, None] & svalid[None, :]
        # (masked where the step is not valid: a reversed sequence's "before" may lie past T)
        old0 = tl.where(later, rows_of(OUT0, before_at * H, hcols, vmask & later, ACC),
                        rows_of(INIT0, row64 * H, hcols, hmask, ACC))
        if KIND == LSTM:
            old1 = tl.where(later, rows_of(OUT1, before_at * H, hcols, vmask & later, ACC),
                            rows_of(INIT1, row64 * H, hcols, hmask, ACC))
        if KIND == JORDAN:
            old1 = tl.where(later, rows_of(OUT1, before_at * S, scols, wmask & later, ACC),
                            rows_of(INIT1, row64 * S, scols, smask, ACC))
            feedback = old1 * drop
        else:
            feedback = old0 * drop
        live = valid[:, None]

        # ---- the whole step (single-stage cells) or its second stage, walked back ----
        if PHASE != 1:
            if not PERSISTENT:
                pending = rows_of(DFB, row64 * S, scols, smask, ACC) * drop
                if KIND == JORDAN:
                    carry1 = carry1 + pending
                else:
                    carry0 = carry0 + pending
            # a window's frozen states are the state itself (their gradient counts); padded steps'
            # stored zeros are constants
            if WINDOWED:
                gmask = hmask
                gsmask = smask
            else:
                gmask = vmask
                gsmask = wmask
            if HAS_GRAD0:
                carry0 = carry0 + rows_of(GOUT0, at * H, hcols, gmask, ACC)
            keep0 = keep_weight(seed, k, rows, row, 0, hcols, WIDTH, SCALARS, ACC, ZONEOUT)
            fresh0 = tl.where(live, carry0 * (1.0 - keep0), 0.0)
            carry0 = tl.where(live, carry0 * keep0, carry0)
            if KIND == LSTM:
                if HAS_GRAD1:
                    carry1 = carry1 + rows_of(GOUT1, at * H, hcols, gmask, ACC)
                keep1 = keep_weight(seed, k, rows, row, 1, hcols, WIDTH, SCALARS, ACC, ZONEOUT)
                fresh1 = tl.where(live, carry1 * (1.0 - keep1), 0.0)
                carry1 = tl.where(live, carry1 * keep1, carry1)
            if KIND == JORDAN:
                if HAS_GRAD1:
                    carry1 = carry1 + rows_of(GOUT1, at * S, scols, gsmask, ACC)
                keep1 = keep_weight(seed, k, rows, row, 1, scols, WIDTH, SCALARS, ACC, ZONEOUT)
                fresh1 = tl.where(live, carry1 * (1.0 - keep1), 0.0)
                carry1 = tl.where(live, carry1 * keep1, carry1)

            if KIND == 0:      # Elman
                if ZONEOUT != 0:
                    hidden = rows_of(SAVED, at * SW, hcols, hmask, ACC)
                else:
                    hidden = rows_of(OUT0, at * H, hcols, hmask, ACC)
                delta0 = tl.where(live, fresh0 * activation_slope(hidden, ACTIVATION, slope), 0.0)
                put_rows(GXW, at * G, hcols, hmask, delta0)
                rec0, part = through_norm(delta0, 0, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                if SEPARATE:
                    put_rows(DREC, at * (NB * H), hcols, hmask, rec0)
                if PERSISTENT:
                    carry0 = carry0 + recurrent_product(rec0, u0, PRECISION) * drop
                else:
                    put_rows(DR1, row64 * R1W, hcols, hmask, rec0)
            elif KIND == LSTM:
                gate_i = rows_of(SAVED, at * SW, hcols, hmask, ACC)
                gate_f = rows_of(SAVED, at * SW + H, hcols, hmask, ACC)
                gate_g = rows_of(SAVED, at * SW + 2 * H, hcols, hmask, ACC)
                gate_o = rows_of(SAVED, at * SW + 3 * H, hcols, hmask, ACC)
                c_new = gate_f * old1 + gate_i * gate_g
                if LAYER_NORM:
                    cell_hat = rows_of(NORMED, at * NW + NB * H, hcols, hmask, ACC)
                    cell_rstd = tl.load(RSTD + at * RW + NB, mask=row_ok, other=0.0).to(ACC)
                    cell_gain = vector(CGAIN, hcols, hvalid, ACC)
                    shown = cell_hat * cell_gain[None, :] + vector(CSHIFT, hcols, hvalid, ACC)[None, :]
                else:
                    shown = c_new
                squashed = tanh(shown)
                d_shown = tl.where(live, fresh0 * gate_o * (1.0 - squashed * squashed), 0.0)
                if LAYER_NORM:
                    part = accumulate(part, cell_slot, d_shown * cell_hat, slots)
                    part = accumulate(part, cell_slot + 1, d_shown, slots)
                    d_cell = fresh1 + layer_norm_backward(d_shown, cell_hat, cell_rstd, cell_gain, hvalid, H)
                else:
                    d_cell = fresh1 + d_shown
                delta3 = tl.where(live, fresh0 * squashed * gate_o * (1.0 - gate_o), 0.0)
                if PEEPHOLE:
                    d_cell = d_cell + delta3 * vo
                    part = accumulate(part, peep_slot + 2, delta3 * c_new, slots)
                delta0 = tl.where(live, d_cell * gate_g * gate_i * (1.0 - gate_i), 0.0)
                delta1 = tl.where(live, d_cell * old1 * gate_f * (1.0 - gate_f), 0.0)
                delta2 = tl.where(live, d_cell * gate_i * (1.0 - gate_g * gate_g), 0.0)
                d_old = d_cell * gate_f
                if PEEPHOLE:
                    d_old = d_old + delta0 * vi + delta1 * vf
                    part = accumulate(part, peep_slot, delta0 * old1, slots)
                    part = accumulate(part, peep_slot + 1, delta1 * old1, slots)
                carry1 = carry1 + tl.where(live, d_old, 0.0)
                put_rows(GXW, at * G, hcols, hmask, delta0)
                put_rows(GXW, at * G + H, hcols, hmask, delta1)
                put_rows(GXW, at * G + 2 * H, hcols, hmask, delta2)
                put_rows(GXW, at * G + 3 * H, hcols, hmask, delta3)
                rec0, part = through_norm(delta0, 0, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                rec1, part = through_norm(delta1, 1, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                rec2, part = through_norm(delta2, 2, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                rec3, part = through_norm(delta3, 3, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                if SEPARATE:
                    put_rows(DREC, at * (NB * H), hcols, hmask, rec0)
                    put_rows(DREC, at * (NB * H) + H, hcols, hmask, rec1)
                    put_rows(DREC, at * (NB * H) + 2 * H, hcols, hmask, rec2)
                    put_rows(DREC, at * (NB * H) + 3 * H, hcols, hmask, rec3)
                if PERSISTENT:
                    back = recurrent_product(rec0, u0, PRECISION) + recurrent_product(rec1, u1, PRECISION) \
                        + recurrent_product(rec2, u2, PRECISION) + recurrent_product(rec3, u3, PRECISION)
                    carry0 = carry0 + back * drop
                else:
                    put_rows(DR1, row64 * R1W, hcols, hmask, rec0)
                    put_rows(DR1, row64 * R1W + H, hcols, hmask, rec1)
                    put_rows(DR1, row64 * R1W + 2 * H, hcols, hmask, rec2)
                    put_rows(DR1, row64 * R1W + 3 * H, hcols, hmask, rec3)
            elif KIND == GRU_AFTER:
                gate_r = rows_of(SAVED, at * SW, hcols, hmask, ACC)
                gate_z = rows_of(SAVED, at * SW + H, hcols, hmask, ACC)
                candidate = rows_of(SAVED, at * SW + 2 * H, hcols, hmask, ACC)
                recurrent = rows_of(SAVED, at * SW + 3 * H, hcols, hmask, ACC)
                carry0 = carry0 + tl.where(live, fresh0 * gate_z, 0.0)
                delta2 = tl.where(live, fresh0 * (1.0 - gate_z) * (1.0 - candidate * candidate), 0.0)
                delta1 = tl.where(live, fresh0 * (old0 - candidate) * gate_z * (1.0 - gate_z), 0.0)
                delta0 = tl.where(live, delta2 * recurrent * gate_r * (1.0 - gate_r), 0.0)
                put_rows(GXW, at * G, hcols, hmask, delta0)
                put_rows(GXW, at * G + H, hcols, hmask, delta1)
                put_rows(GXW, at * G + 2 * H, hcols, hmask, delta2)
                rec0, part = through_norm(delta0, 0, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                rec1, part = through_norm(delta1, 1, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                rec2, part = through_norm(tl.where(live, delta2 * gate_r, 0.0), 2, part, slots, NORMED, RSTD, GAIN,
                                          at, H, NW, RW, hcols, hvalid, hmask, row_ok, NB, ACC, LAYER_NORM)
                put_rows(DREC, at * (NB * H), hcols, hmask, rec0)
                put_rows(DREC, at * (NB * H) + H, hcols, hmask, rec1)
                put_rows(DREC, at * (NB * H) + 2 * H, hcols, hmask, rec2)
                if PERSISTENT:
                    back = recurrent_product(rec0, u0, PRECISION) + recurrent_product(rec1, u1, PRECISION) \
                        + recurrent_product(rec2, u2, PRECISION)
                    carry0 = carry0 + back * drop
                else:
                    put_rows(DR1, row64 * R1W, hcols, hmask, rec0)
                    put_rows(DR1, row64 * R1W + H, hcols, hmask, rec1)
                    put_rows(DR1, row64 * R1W + 2 * H, hcols, hmask, rec2)
            elif KIND == GATED:
                gate_g = rows_of(SAVED, at * SW, hcols, hmask, ACC)
                candidate = rows_of(SAVED, at * SW + H, hcols, hmask, ACC)
                carry0 = carry0 + tl.where(live, fresh0 * gate_g, 0.0)
                delta0 = tl.where(live, fresh0 * (old0 - candidate) * gate_g * (1.0 - gate_g), 0.0)
                delta1 = tl.where(live, fresh0 * (1.0 - gate_g) * (1.0 - candidate * candidate), 0.0)
                put_rows(GXW, at * G, hcols, hmask, delta0)
                put_rows(GXW, at * G + H, hcols, hmask, delta1)
                rec0, part = through_norm(delta0, 0, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                rec1, part = through_norm(delta1, 1, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                if SEPARATE:
                    put_rows(DREC, at * (NB * H), hcols, hmask, rec0)
                    put_rows(DREC, at * (NB * H) + H, hcols, hmask, rec1)
                if PERSISTENT:
                    back = recurrent_product(rec0, u0, PRECISION) + recurrent_product(rec1, u1, PRECISION)
                    carry0 = carry0 + back * drop
                else:
                    put_rows(DR1, row64 * R1W, hcols, hmask, rec0)
                    put_rows(DR1, row64 * R1W + H, hcols, hmask, rec1)
            elif KIND == GRU_BEFORE:
                gate_z = rows_of(SAVED, at * SW + H, hcols, hmask, ACC)
                candidate = rows_of(SAVED, at * SW + 2 * H, hcols, hmask, ACC)
                carry0 = carry0 + tl.where(live, fresh0 * gate_z, 0.0)
                delta2 = tl.where(live, fresh0 * (1.0 - gate_z) * (1.0 - candidate * candidate), 0.0)
                delta1 = tl.where(live, fresh0 * (old0 - candidate) * gate_z * (1.0 - gate_z), 0.0)
                put_rows(GXW, at * G + H, hcols, hmask, delta1)
                put_rows(GXW, at * G + 2 * H, hcols, hmask, delta2)
                rec1, part = through_norm(delta1, 1, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                rec2, part = through_norm(delta2, 2, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                if SEPARATE:
                    put_rows(DREC, at * (NB * H) + H, hcols, hmask, rec1)
                    put_rows(DREC, at * (NB * H) + 2 * H, hcols, hmask, rec2)
                if PERSISTENT:
                    d_gated = recurrent_product(rec2, u2, PRECISION)
                else:
                    put_rows(DR1, row64 * R1W + H, hcols, hmask, rec1)
                    put_rows(DR2, row64 * H, hcols, hmask, rec2)
            elif KIND == MGU:
                gate_f = rows_of(SAVED, at * SW, hcols, hmask, ACC)
                candidate = rows_of(SAVED, at * SW + H, hcols, hmask, ACC)
                carry0 = carry0 + tl.where(live, fresh0 * (1.0 - gate_f), 0.0)
                direct = tl.where(live, fresh0 * (candidate - old0), 0.0)
                delta1 = tl.where(live, fresh0 * gate_f * (1.0 - candidate * candidate), 0.0)
                put_rows(GXW, at * G + H, hcols, hmask, delta1)
                rec1, part = through_norm(delta1, 1, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols, hvalid,
                                          hmask, row_ok, NB, ACC, LAYER_NORM)
                if SEPARATE:
                    put_rows(DREC, at * (NB * H) + H, hcols, hmask, rec1)
                if PERSISTENT:
                    d_gated = recurrent_product(rec1, u1, PRECISION)
                else:
                    put_rows(DR2, row64 * H, hcols, hmask, rec1)
                    put_rows(TMP, row64 * H, hcols, hmask, direct)
            else:              # Jordan: the decision function, then V
                if ZONEOUT != 0:
                    outputs = rows_of(SAVED, at * SW + H, scols, smask, ACC)
                else:
                    outputs = rows_of(OUT1, at * S, scols, smask, ACC)
                delta_o = tl.where(live, decide_backward(fresh1, outputs, svalid, DECISION), 0.0)
                put_rows(DOUT, at * S, scols, smask, delta_o)
                if PERSISTENT:
                    d_hidden = fresh0 + dot(delta_o, tl.trans(vt), PRECISION)
                else:
                    put_rows(DR2, row64 * S, scols, smask, delta_o)
                    put_rows(TMP, row64 * H, hcols, hmask, fresh0)

        # ---- the first stage of the two-stage cells, walked back ----
        if TWO_STAGE:
            if PHASE != 2:
                if PHASE == 1:
                    d_product = rows_of(DQ, row64 * H, hcols, hmask, ACC)
                if KIND == GRU_BEFORE:
                    if PHASE == 1:
                        d_gated = d_product
                    gate_r = rows_of(SAVED, at * SW, hcols, hmask, ACC)
                    carry0 = carry0 + tl.where(live, d_gated * gate_r * drop, 0.0)
                    delta0 = tl.where(live, d_gated * feedback * gate_r * (1.0 - gate_r), 0.0)
                    put_rows(GXW, at * G, hcols, hmask, delta0)
                    rec0, part = through_norm(delta0, 0, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols,
                                              hvalid, hmask, row_ok, NB, ACC, LAYER_NORM)
                    if SEPARATE:
                        put_rows(DREC, at * (NB * H), hcols, hmask, rec0)
                    if PERSISTENT:
                        back = recurrent_product(rec0, u0, PRECISION) + recurrent_product(rec1, u1, PRECISION)
                        carry0 = carry0 + back * drop
                    else:
                        put_rows(DR1, row64 * R1W, hcols, hmask, rec0)
                elif KIND == MGU:
                    if PHASE == 1:
                        d_gated = d_product
                        direct = rows_of(TMP, row64 * H, hcols, hmask, ACC)
                    gate_f = rows_of(SAVED, at * SW, hcols, hmask, ACC)
                    carry0 = carry0 + tl.where(live, d_gated * gate_f * drop, 0.0)
                    d_gate = direct + d_gated * feedback
                    delta0 = tl.where(live, d_gate * gate_f * (1.0 - gate_f), 0.0)
                    put_rows(GXW, at * G, hcols, hmask, delta0)
                    rec0, part = through_norm(delta0, 0, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols,
                                              hvalid, hmask, row_ok, NB, ACC, LAYER_NORM)
                    if SEPARATE:
                        put_rows(DREC, at * (NB * H), hcols, hmask, rec0)
                    if PERSISTENT:
                        carry0 = carry0 + recurrent_product(rec0, u0, PRECISION) * drop
                    else:
                        put_rows(DR1, row64 * R1W, hcols, hmask, rec0)
                else:
                    if PHASE == 1:
                        d_hidden = rows_of(TMP, row64 * H, hcols, hmask, ACC) + d_product
                    if ZONEOUT != 0:
                        hidden = rows_of(SAVED, at * SW, hcols, hmask, ACC)
                    else:
                        hidden = rows_of(OUT0, at * H, hcols, hmask, ACC)
                    delta0 = tl.where(live, d_hidden * activation_slope(hidden, ACTIVATION, slope), 0.0)
                    put_rows(GXW, at * G, hcols, hmask, delta0)
                    rec0, part = through_norm(delta0, 0, part, slots, NORMED, RSTD, GAIN, at, H, NW, RW, hcols,
                                              hvalid, hmask, row_ok, NB, ACC, LAYER_NORM)
                    if SEPARATE:
                        put_rows(DREC, at * (NB * H), hcols, hmask, rec0)
                    if PERSISTENT:
                        carry1 = carry1 + recurrent_product(rec0, u0, PRECISION) * drop
                    else:
                        put_rows(DR1, row64 * R1W, hcols, hmask, rec0)
        if PHASE != 2:
            put_rows(FBP, at * S, scols, smask, tl.where(live, feedback, 0.0))

    put_rows(DCUR0, row64 * H, hcols, hmask, carry0)
    if KIND == LSTM:
        put_rows(DCUR1, row64 * H, hcols, hmask, carry1)
    if KIND == JORDAN:
        put_rows(DCUR1, row64 * S, scols, smask, carry1)
    tl.store(PART + pid * BLOCK_V * BLOCK_H + slots[:, None] * BLOCK_H + hcols[None, :], part.to(PART.dtype.element_ty))
