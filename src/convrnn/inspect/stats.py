"""Per-layer statistics on one batch — the seeds' ConvNetJS panel ("max activation 3.60709, min
−2.93768; max gradient 0.14545; parameters 8×5×5×1+8 = 208") for every layer at once.

For every leaf layer ℓ with output a_ℓ (N, *S_ℓ) on the batch, and a scalar loss L:

    activation min/max/mean/std   over all N·|S_ℓ| entries of a_ℓ
    gradient min/max              of ∂L/∂a_ℓ (N, *S_ℓ), over all entries
    ‖∂L/∂a_ℓ‖                     the Frobenius norm of that gradient
    ‖θ_ℓ‖, ‖∂L/∂θ_ℓ‖              norms over the layer's own parameters, all concatenated
                                  (a recurrent stack is one layer: all its cells' parameters)
    dead fraction                 (ReLU layers) the share of units u ∈ S_ℓ with a_ℓ[n, u] = 0
                                  for every example n of the batch

Letters: N batch, S_ℓ the per-example output shape of layer ℓ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.inspect.summary import _formula, layers_of
from convrnn.layers.recurrent.rnn import RNN

RELU_KINDS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU)


@dataclass
class LayerStats:
    """The statistics of one leaf layer (see the module docstring); gradient fields are ``None``
    without a loss, ``dead_fraction`` is ``None`` for layers that are not ReLUs.

    ``activation`` and ``gradient`` keep the first example's output and its gradient, both
    (*S_ℓ), and ``weight_gradient`` ∂L/∂(module.weight) (shaped like the weight), for the
    activation, gradient and weight images of :mod:`convrnn.inspect.images`.
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    formula: str
    activation_min: float
    activation_max: float
    activation_mean: float
    activation_std: float
    gradient_min: float | None = None
    gradient_max: float | None = None
    gradient_norm: float | None = None
    weight_norm: float | None = None
    weight_gradient_norm: float | None = None
    dead_fraction: float | None = None
    activation: Tensor | None = None
    gradient: Tensor | None = None
    weight_gradient: Tensor | None = None


@dataclass
class StatsTable:
    """The rows of :func:`layer_stats` and the loss they were taken at; ``str()`` is the table."""

    rows: list[LayerStats]
    loss: float | None

    def __getitem__(self, name: str) -> LayerStats:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"StatsTable: no layer named {name!r}; layers are {[r.name for r in self.rows]}")

    def __str__(self) -> str:
        def number(value: float | None) -> str:
            return "—" if value is None else f"{value:.5g}"

        header = ("layer", "type", "output shape", "parameters", "act min", "act max", "act mean±std",
                  "grad min", "grad max", "‖grad‖", "‖W‖", "‖∂L/∂W‖", "dead")
        lines = [header]
        for row in self.rows:
            params = "—" if not row.params else (
                f"{row.formula} = {row.params:,}" if row.formula and row.formula != str(row.params)
                else f"{row.params:,}")
            lines.append((
                row.name, row.kind, "×".join(str(v) for v in row.output_shape), params,
                number(row.activation_min), number(row.activation_max),
                f"{row.activation_mean:.3g}±{row.activation_std:.3g}",
                number(row.gradient_min), number(row.gradient_max), number(row.gradient_norm),
                number(row.weight_norm), number(row.weight_gradient_norm),
                "—" if row.dead_fraction is None else f"{row.dead_fraction:.1%}",
            ))
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines]
        out.insert(1, "  ".join("-" * w for w in widths))
        if self.loss is not None:
            out.append(f"loss {self.loss:.5g} on this batch")
        return "\n".join(out)


def _norm(tensors: list[Tensor]) -> float:
    return float(torch.sqrt(sum((t.detach().double() ** 2).sum() for t in tensors)))


def layer_stats(model: nn.Module, batch: Tensor | tuple[Tensor, Tensor] | list[Tensor],
                loss_fn: Callable[..., Tensor] | None = None) -> StatsTable:
    """Run ``batch`` through ``model`` (in eval mode) and tabulate every leaf layer.

    Args:
        model: any module; a tuple output (logits, state) counts by its first element.
        batch: the input x (N, …), or ``(x, targets)``.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` when ``batch`` holds targets,
            ``loss_fn(outputs) -> scalar`` otherwise. Without one, a batch with targets is scored
            by cross-entropy on outputs (N, C) (or (N, T, C) against (N, T), or (N, C, *S) against
            (N, *S) with two or more spatial dimensions, as for segmentation), and a batch without
            targets gives no gradient statistics.

    Parameter ``.grad`` is left untouched (gradients are taken with ``torch.autograd.grad``).
    """
    where = "layer_stats"
    if isinstance(batch, tuple | list):
        if len(batch) != 2:
            raise ValueError(f"{where}: argument 'batch' expected x or (x, targets), got a sequence of {len(batch)}")
        x, targets = batch
        check_tensor("targets", targets, where=where)
    else:
        x, targets = batch, None
    check_tensor("batch", x, where=where)
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"{where}: argument 'loss_fn' expected a callable, got {type(loss_fn).__name__}")

    names = {module: name for name, module in model.named_modules()}
    captured: list[tuple[nn.Module, Tensor]] = []

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        out = output[0] if isinstance(output, tuple | list) else output
        if isinstance(out, Tensor) and out.is_floating_point():
            # Cloned so that a later in-place layer (ReLU(inplace=True)) cannot rewrite it.
            copy = out.clone() if out.requires_grad else out.detach().clone()
            captured.append((module, copy))
            return (copy, *output[1:]) if isinstance(output, tuple) else copy
        return None

    grads: dict[int, Tensor] = {}
    handles = [m.register_forward_hook(hook) for m in layers_of(model)]
    was_training = model.training
    loss = None
    try:
        model.eval()
        with torch.enable_grad():
            output = model(x)
            outputs = output[0] if isinstance(output, tuple | list) else output
            if loss_fn is not None:
                loss = loss_fn(outputs, targets) if targets is not None else loss_fn(outputs)
            elif targets is not None and outputs.dim() >= 4 and outputs.shape[2:] == targets.shape[1:]:
                loss = nn.functional.cross_entropy(outputs, targets)  # (N, C, *S) against (N, *S): per pixel
            elif targets is not None:
                loss = nn.functional.cross_entropy(outputs.flatten(0, -2), targets.flatten())
            params = [p for p in model.parameters() if p.requires_grad]
            parameter_grads: dict[int, Tensor] = {}
            if loss is not None:
                if loss.dim() != 0:
                    raise ValueError(f"{where}: argument 'loss_fn' expected to return a scalar, "
                                     f"got shape {tuple(loss.shape)}")
                tracked = [i for i, (_, a) in enumerate(captured) if a.requires_grad]
                found = torch.autograd.grad(loss, [*params, *(captured[i][1] for i in tracked)],
                                            allow_unused=True)
                parameter_grads = {id(p): g for p, g in zip(params, found[:len(params)], strict=True)
                                   if g is not None}
                grads = {i: g for i, g in zip(tracked, found[len(params):], strict=True) if g is not None}
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    rows = []
    for index, (module, a) in enumerate(captured):
        a = a.detach()
        own = list(module.parameters(recurse=isinstance(module, RNN)))
        count = sum(p.numel() for p in own)
        row = LayerStats(
            name=names.get(module, "?"), kind=type(module).__name__, output_shape=tuple(a.shape[1:]),
            params=count, formula=_formula(module) if count and not isinstance(module, RNN) else "",
            activation_min=float(a.min()), activation_max=float(a.max()),
            activation_mean=float(a.float().mean()),
            activation_std=float(a.float().std(unbiased=False)), activation=a[0].clone(),
        )
        if own:
            row.weight_norm = _norm(own)
            with_grad = [parameter_grads[id(p)] for p in own if id(p) in parameter_grads]
            row.weight_gradient_norm = _norm(with_grad) if with_grad else None
            weight = getattr(module, "weight", None)
            if isinstance(weight, Tensor) and id(weight) in parameter_grads:
                row.weight_gradient = parameter_grads[id(weight)].detach().clone()
        g = grads.get(index)
        if g is not None:
            row.gradient_min, row.gradient_max = float(g.min()), float(g.max())
            row.gradient_norm = float(g.double().norm())
            row.gradient = g[0].detach().clone()
        if isinstance(module, RELU_KINDS):
            alive = (a > 0).flatten(1).any(dim=0)
            row.dead_fraction = 1.0 - float(alive.float().mean())
        rows.append(row)
    return StatsTable(rows, None if loss is None else float(loss.detach()))


__all__ = ["LayerStats", "StatsTable", "layer_stats"]
