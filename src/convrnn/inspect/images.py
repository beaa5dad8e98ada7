"""Pictures of a convolutional network: filters as a grid, feature maps, the ConvNetJS panel of
activations, gradients, weights and weight gradients per layer, and the matched-filter view.

Every picture is first an array — RGB bytes (H, W, 3) uint8 — and then a PNG (:func:`png`), with
no matplotlib needed; only :func:`plot_matched_filter` draws lines and needs the ``viz`` extra.
Signed quantities (weights, gradients) use a blue–white–red scale centred on 0, activations grey
from their minimum to their maximum. Letters: K maps, C_in/C_out channels, k kernel size.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.inspect._plot import array_png, diverging, figure_png, grayscale, require_matplotlib, write_atomic
from convrnn.inspect.stats import LayerStats

PADDING_RGB = (235, 235, 235)


def _numpy(x: Tensor | np.ndarray) -> np.ndarray:
    return np.asarray(x.detach().cpu().double() if isinstance(x, Tensor) else x, dtype=np.float64)


def tile(maps: Tensor | np.ndarray, columns: int | None = None, *, signed: bool = False,
         pad: int = 1) -> np.ndarray:
    """Lay K maps (K, H, W) out in a grid, ``columns`` wide (default ⌈√K⌉), ``pad`` pixels apart.

    One colour scale for all maps, so they compare: ``signed`` → blue–white–red around 0,
    otherwise grey from the global minimum to the maximum. Returns (H', W', 3) uint8.
    """
    values = _numpy(maps)
    if values.ndim == 2:
        values = values[None]
    if values.ndim != 3 or values.shape[0] == 0:
        raise ValueError(f"tile: argument 'maps' expected a (K, H, W) array with K ≥ 1, got shape {values.shape}")
    count, height, width = values.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    colour = diverging(values) if signed else grayscale(values)
    grid = np.empty((rows * (height + pad) - pad, columns * (width + pad) - pad, 3), dtype=np.uint8)
    grid[:] = PADDING_RGB
    for k in range(count):
        top, left = (k // columns) * (height + pad), (k % columns) * (width + pad)
        grid[top:top + height, left:left + width] = colour[k]
    return grid


def as_maps(x: Tensor | np.ndarray) -> np.ndarray:
    """Any per-example tensor as maps (K, H, W): (C, H, W) stays, (C, L) → C maps 1×L, (F,) → 1×F;
    more than two spatial dimensions keep their first slice (C, H, W, …)[..., 0]."""
    values = _numpy(x)
    while values.ndim > 3:
        values = values[..., 0]
    if values.ndim == 2:
        return values[:, None, :]
    if values.ndim == 1:
        return values[None, None, :]
    return values


def filter_grid(weight: Tensor) -> np.ndarray:
    """The filters of a 2-d convolution as a grid: weight (C_out, C_in, k_h, k_w) → RGB.

    C_in = 3 draws each filter in colour (min–max over all filters, as ConvNetJS does);
    otherwise row c_out holds the C_in slices of filter c_out on the signed scale, and a single
    input channel wraps the C_out filters into a square grid.
    """
    check_tensor("weight", weight, dims=(3, 4), floating=True, where="filter_grid")
    w = _numpy(weight)
    if w.ndim == 3:                       # a 1-d convolution: each filter a strip
        w = w[:, :, None, :]
    c_out, c_in, kh, kw = w.shape
    if c_in == 3:
        low, high = w.min(), w.max()
        colour = ((w - low) / (high - low) if high > low else np.zeros_like(w)).transpose(0, 2, 3, 1)
        columns = math.ceil(math.sqrt(c_out))
        rows = math.ceil(c_out / columns)
        grid = np.empty((rows * (kh + 1) - 1, columns * (kw + 1) - 1, 3), dtype=np.uint8)
        grid[:] = PADDING_RGB
        for k in range(c_out):
            top, left = (k // columns) * (kh + 1), (k % columns) * (kw + 1)
            grid[top:top + kh, left:left + kw] = (colour[k] * 255).round().astype(np.uint8)
        return grid
    if c_in == 1:
        return tile(w[:, 0], signed=True)
    return tile(w.reshape(c_out * c_in, kh, kw), columns=c_in, signed=True)


def is_convolution(module: nn.Module) -> bool:
    """A layer with a (C_out, C_in, k, …) weight: every convolution, transposed or not."""
    weight = getattr(module, "weight", None)
    return isinstance(weight, Tensor) and weight.dim() >= 3 and not any(True for _ in module.children())


def feature_maps(model: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """The output of every convolution for the first example of x (N, C, *S): ``{name: (C_out, *S')}``,
    in execution order, computed in eval mode without gradients."""
    check_tensor("x", x, floating=True, where="feature_maps")
    names = {module: name for name, module in model.named_modules()}
    maps: dict[str, Tensor] = {}

    def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
        if isinstance(output, Tensor):
            maps[names[module]] = output[0].detach().clone()

    handles = [m.register_forward_hook(hook) for m in model.modules() if is_convolution(m)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x[:1])
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return maps


def layer_panel(row: LayerStats, module: nn.Module | None = None) -> dict[str, np.ndarray]:
    """The ConvNetJS panel of one layer from :func:`convrnn.inspect.layer_stats`: RGB images of
    its activations (first example), their gradients, and, for a convolution, its weights and
    weight gradients. Keys: "activations", "activation gradients", "weights", "weight gradients"
    (those that exist)."""
    panel = {}
    if row.activation is not None:
        panel["activations"] = tile(as_maps(row.activation))
    if row.gradient is not None:
        panel["activation gradients"] = tile(as_maps(row.gradient), signed=True)
    if module is not None and is_convolution(module) and module.weight.dim() in (3, 4):
        panel["weights"] = filter_grid(module.weight)
        if row.weight_gradient is not None:
            panel["weight gradients"] = filter_grid(row.weight_gradient)
    return panel


def matched_filter(signal: Tensor | np.ndarray, template: Tensor | np.ndarray) -> np.ndarray:
    """The matched filter's response, the cross-correlation y[n] = Σ_m s[n + m] · w[m]
    (convolution with the flipped template): signal s (L,), template w (K,) → y (L − K + 1,).
    A copy of w hidden in noise shows up as a peak where it starts (seed 002)."""
    s, w = _numpy(signal).reshape(-1), _numpy(template).reshape(-1)
    if w.size == 0 or w.size > s.size:
        raise ValueError(f"matched_filter: argument 'template' expected 1 ≤ K ≤ L = {s.size} samples, got {w.size}")
    return np.correlate(s, w, mode="valid")


def plot_matched_filter(signal: Tensor | np.ndarray, template: Tensor | np.ndarray,
                        response: Tensor | np.ndarray | None = None) -> bytes:
    """PNG: the signal (blue) with the matched filter (red) above, its response below, peak marked.

    ``response`` (L − K + 1,) replaces :func:`matched_filter`'s when given — e.g. a convolution
    layer's own output, which also sums the filter's other input channels and adds its bias."""
    plt = require_matplotlib()
    s, w = _numpy(signal).reshape(-1), _numpy(template).reshape(-1)
    response = matched_filter(s, w) if response is None else _numpy(response).reshape(-1)
    peak = int(np.argmax(response))
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4), sharex=True)
    top.plot(s, color="tab:blue", linewidth=1, label="signal")
    top.plot(np.arange(peak, peak + w.size), w, color="tab:red", linewidth=2, label="matched filter")
    top.legend(loc="upper right")
    bottom.plot(response, color="black", linewidth=1)
    bottom.axvline(peak, color="tab:red", linestyle="--", linewidth=1)
    bottom.set_ylabel("response")
    bottom.set_xlabel("n")
    return figure_png(figure)


def strongest_filter(model: nn.Module, x: Tensor) -> dict[str, object] | None:
    """The matched-filter view of a trained 1-d convolution: run the first example of x (N, …)
    through ``model`` and find, in its first 1-d convolution (weight (C_out, C_in, K)), the filter
    with the largest response. Returns ``{"layer", "filter", "channel", "signal" (L,), "template"
    (K,), "response" (L_out,)}``: the input channel that filter weighs most (largest ‖w[f, c]‖),
    that channel's slice of the filter, and the filter's whole response — or None when the model
    has no 1-d convolution."""
    check_tensor("x", x, floating=True, where="strongest_filter")
    layers = [(name, m) for name, m in model.named_modules() if is_convolution(m) and m.weight.dim() == 3]
    if not layers:
        return None
    name, layer = layers[0]
    seen: dict[str, Tensor] = {}

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        seen["input"], seen["output"] = inputs[0][0].detach(), output[0].detach()

    handle = layer.register_forward_hook(hook)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x[:1])
    finally:
        handle.remove()
        model.train(was_training)
    response = seen["output"]                      # (C_out, L_out)
    f = int(response.amax(dim=1).argmax())
    weight = layer.weight.detach()[f]              # (C_in, K)
    c = int(weight.norm(dim=1).argmax())
    return {"layer": name, "filter": f, "channel": c, "signal": seen["input"][c], "template": weight[c],
            "response": response[f]}


def png(rgb: np.ndarray, zoom: int | None = None) -> bytes:
    """PNG bytes of an RGB array, enlarged so that its shorter side is about 160 pixels unless
    ``zoom`` is given (filters are 5×5; a browser would blur them)."""
    if zoom is None:
        zoom = max(1, min(16, 160 // max(min(rgb.shape[:2]), 1)))
    return array_png(rgb, zoom)


def save_png(path: str | os.PathLike[str], rgb: np.ndarray, zoom: int | None = None) -> Path:
    """Write :func:`png` of ``rgb`` to ``path`` atomically."""
    return write_atomic(path, png(rgb, zoom))


__all__ = ["as_maps", "feature_maps", "filter_grid", "is_convolution", "layer_panel", "matched_filter",
           "plot_matched_filter", "png", "save_png", "strongest_filter", "tile"]
