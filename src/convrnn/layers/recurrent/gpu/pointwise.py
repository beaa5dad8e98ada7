"""Elementwise building blocks of the GPU kernels, written with what Triton's interpreter runs too.

Only ``tl.exp``, ``tl.sqrt``, arithmetic and ``tl.where`` are used (the interpreter has no
``libdevice``), in the precision of the tensors they get (float32, or float64 in the tests):

- σ(x) = 1 / (1 + e^{−x}): exact limits σ(−∞) = 0, σ(∞) = 1; NaN stays NaN;
- tanh x = sign(x)·(1 − e^{−2|x|}) / (1 + e^{−2|x|}), and below |x| = 1/16 its Taylor series to
  x⁹ (relative error < 1e−14), so that tanh keeps its relative precision near 0;
- layer norm of each row over its H valid columns (statistics as ``options.BlockLayerNorm``:
  biased variance, ε inside the square root), and its backward pass;
- the matrix product of a tile by a tile in a chosen precision ("ieee" float32 or float64,
  "tf32", "bf16" with float32 accumulation, "bf16_emulated": operands rounded to bfloat16 and
  multiplied in float32 — what the interpreter, whose bfloat16 ``tl.dot`` is wrong, runs instead).
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def sigmoid(x):
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def tanh(x):
    a = tl.abs(x)
    e = tl.exp(-2.0 * a)
    large = (1.0 - e) / (1.0 + e)
    s = a * a
    small = a * (1.0 + s * (-0.333333333333333333 + s * (0.133333333333333333 + s * (-0.053968253968253968
                                                                                       + s * 0.021869488536155203))))
    t = tl.where(a < 0.0625, small, large)
    return tl.where(x < 0, -t, t)


@triton.jit
def relu(x):
    # NaN < 0 is false: NaN passes through, as torch.relu's
    return tl.where(x < 0, 0.0, x)


@triton.jit
def activate(x, ACTIVATION: tl.constexpr, slope):
    """g(x) by code (``ElmanCell.nonlinearities``' order): 0 tanh, 1 ReLU, 2 σ, 3 leaky ReLU with
    ``slope`` (torch's x > 0 ? x : slope·x), 4 identity; NaN passes through each."""
    if ACTIVATION == 1:
        return relu(x)
    elif ACTIVATION == 2:
        return sigmoid(x)
    elif ACTIVATION == 3:
        return tl.where(x > 0, x, x * slope)
    elif ACTIVATION == 4:
        return x
    else:
        return tanh(x)


@triton.jit
def activation_slope(y, ACTIVATION: tl.constexpr, slope):
    """g'(a) from y = g(a): [y > 0] for ReLU (torch's: 0 at 0 and at NaN), y (1 − y) for σ,
    1 or ``slope`` for leaky ReLU (slope ≥ 0 keeps sign(y) = sign(a)), 1 for identity, 1 − y² for tanh."""
    if ACTIVATION == 1:
        return tl.where(y > 0, 1.0, 0.0)
    elif ACTIVATION == 2:
        return y * (1.0 - y)
    elif ACTIVATION == 3:
        return tl.where(y > 0, 1.0, slope)
    elif ACTIVATION == 4:
        return y * 0.0 + 1.0
    else:
        return 1.0 - y * y


@triton.jit
def layer_norm(z, gain, shift, valid, count, eps):
    """z: (R, C) rows over C ≥ ``count`` columns, ``valid`` (C,) the real ones; gain, shift: (C,).
    Returns ẑ = (z − mean)/sqrt(var + ε) (zero in padded columns), rstd (R,) and ẑ∘gain + shift."""
    mean = tl.sum(tl.where(valid[None, :], z, 0.0), axis=1) / count
    centred = tl.where(valid[None, :], z - mean[:, None], 0.0)
    variance = tl.sum(centred * centred, axis=1) / count
    rstd = 1.0 / tl.sqrt(variance + eps)
    normed = centred * rstd[:, None]
    return normed, rstd, normed * gain[None, :] + shift[None, :]


@triton.jit
def layer_norm_backward(grad, normed, rstd, gain, valid, count):
    """∂L/∂z of layer_norm from ∂L/∂out ``grad``: rstd·(g − mean(g) − ẑ·mean(g∘ẑ)), g = grad∘gain."""
    g = tl.where(valid[None, :], grad * gain[None, :], 0.0)
    mean_g = tl.sum(g, axis=1) / count
    mean_gz = tl.sum(g * normed, axis=1) / count
    return tl.where(valid[None, :], rstd[:, None] * (g - mean_g[:, None] - normed * mean_gz[:, None]), 0.0)


@triton.jit
def dot(a, b, PRECISION: tl.constexpr):
    """a (M, K) @ b (K, N) accumulated in float32 (float64 for float64 tiles)."""
    if PRECISION == "bf16":
        return tl.dot(a.to(tl.bfloat16), b.to(tl.bfloat16), out_dtype=tl.float32)
    elif PRECISION == "bf16_emulated":
        return tl.dot(a.to(tl.bfloat16).to(tl.float32), b.to(tl.bfloat16).to(tl.float32), input_precision="ieee")
    elif PRECISION == "fp16":
        return tl.dot(a.to(tl.float16), b.to(tl.float16), out_dtype=tl.float32)
    elif PRECISION == "fp16_emulated":
        return tl.dot(a.to(tl.float16).to(tl.float32), b.to(tl.float16).to(tl.float32), input_precision="ieee")
    else:
        return tl.dot(a, b, input_precision=PRECISION)


@triton.jit
def keep_draw(seed, step, rows, row, component, cols, width, probability):
    """Zoneout's Bernoulli(p) keep weights (1.0 or 0.0) of one step: Philox counter-based draws at
    offset ((step·rows + row)·2 + component)·width + column, so the backward pass draws them again."""
    offset = ((row.to(tl.int64) + step * rows) * 2 + component)[:, None] * width + cols[None, :]
    return tl.where(tl.rand(seed, offset) < probability, 1.0, 0.0)
