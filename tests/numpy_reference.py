"""Independent references in plain numpy and Python loops, shared by the tests."""

from __future__ import annotations

import itertools

import numpy as np

NUMPY_MODE = {
    "zeros": "constant",
    "constant": "constant",
    "neumann": "edge",
    "reflect": "reflect",
    "symmetric": "symmetric",
    "circular": "wrap",
}


def pad(x: np.ndarray, pairs, boundary: str = "zeros", value: float = 0.0) -> np.ndarray:
    """numpy.pad over the spatial axes of (N, C, *spatial), plus the Neumann ramp."""
    widths = [(0, 0), (0, 0), *pairs]
    if boundary == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    out = np.pad(x, widths, mode=NUMPY_MODE[boundary])
    if boundary == "neumann" and value:
        # outward difference = value: the k-th padded cell is edge + k·value
        for axis, (low, high) in enumerate(pairs):
            n = x.shape[axis + 2]
            i = np.arange(-low, n + high)
            ramp = (np.clip(-i, 0, None) + np.clip(i - (n - 1), 0, None)) * value
            shape = [1] * out.ndim
            shape[axis + 2] = -1
            out = out + ramp.reshape(shape)
    return out


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, dilation, groups: int,
         flip: bool = False) -> np.ndarray:
    """Naive N-d grouped, strided, dilated cross-correlation of an already padded input."""
    n_batch, c_in = x.shape[:2]
    c_out, c_per_group = w.shape[:2]
    kernel = w.shape[2:]
    if flip:
        w = w[(slice(None), slice(None), *(slice(None, None, -1),) * len(kernel))]
    out_sizes = [
        (n - d * (k - 1) - 1) // s + 1
        for n, k, s, d in zip(x.shape[2:], kernel, stride, dilation, strict=True)
    ]
    y = np.zeros((n_batch, c_out, *out_sizes))
    out_per_group = c_out // groups
    for o in range(c_out):
        g = o // out_per_group
        for pos in itertools.product(*(range(m) for m in out_sizes)):
            total = np.zeros(n_batch)
            for c in range(c_per_group):
                for m in itertools.product(*(range(k) for k in kernel)):
                    idx = tuple(p * s + q * d for p, q, s, d in zip(pos, m, stride, dilation))
                    total += w[(o, c, *m)] * x[(slice(None), g * c_per_group + c, *idx)]
            y[(slice(None), o, *pos)] = total + (b[o] if b is not None else 0.0)
    return y


def conv_transpose(x: np.ndarray, w: np.ndarray, stride, dilation, groups: int) -> np.ndarray:
    """Naive "rubber stamp" transposed convolution, no cropping: length (n−1)s + d(k−1) + 1."""
    n_batch, c_in = x.shape[:2]
    out_per_group = w.shape[1]
    kernel = w.shape[2:]
    in_per_group = c_in // groups
    sizes = [(n - 1) * s + d * (k - 1) + 1
             for n, k, s, d in zip(x.shape[2:], kernel, stride, dilation, strict=True)]
    y = np.zeros((n_batch, out_per_group * groups, *sizes))
    for c in range(c_in):
        g = c // in_per_group
        for pos in itertools.product(*(range(n) for n in x.shape[2:])):
            for o in range(out_per_group):
                for m in itertools.product(*(range(k) for k in kernel)):
                    idx = tuple(p * s + q * d for p, q, s, d in zip(pos, m, stride, dilation))
                    y[(slice(None), g * out_per_group + o, *idx)] += (
                        w[(c, o, *m)] * x[(slice(None), c, *pos)]
                    )
    return y
