"""Per-layer summary of a network: output shape, parameters with their formula, multiply-adds, and
receptive field — the seeds' "parameters: 8×5×5×1 + 8 = 208" for every layer at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from convrnn.functional import shapes
from convrnn.functional.conv import resolve_padding
from convrnn.layers.recurrent.rnn import RNN


@dataclass
class LayerRow:
    """One leaf layer of the summary.

    ``receptive`` is the receptive field of one output unit in input cells per spatial dimension,
    ``None`` where it is not defined (after a transposed convolution) and ``()`` where the layer
    sees the whole input (fully connected, global pooling).
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    formula: str
    macs: int
    receptive: tuple[int, ...] | None = field(default_factory=tuple)


@dataclass
class Summary:
    """The rows of :func:`summary` plus totals; ``str(summary)`` renders the table."""

    input_shape: tuple[int, ...]
    rows: list[LayerRow]

    @property
    def total_params(self) -> int:
        return sum(row.params for row in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(row.macs for row in self.rows)

    def __str__(self) -> str:
        header = ("layer", "type", "output shape", "parameters", "MACs", "receptive field")
        lines = [header]
        for row in self.rows:
            shape = "×".join(str(v) for v in row.output_shape)
            if not row.params:
                params = "—"
            elif row.formula and row.formula != str(row.params):
                params = f"{row.formula} = {row.params:,}"
            else:
                params = f"{row.params:,}"
            if row.receptive is None:
                field_text = "—"
            elif row.receptive == ():
                field_text = "whole input"
            else:
                field_text = "×".join(str(v) for v in row.receptive)
            lines.append((row.name, row.kind, shape, params, f"{row.macs:,}" if row.macs else "—",
                          field_text))
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        rule = "  ".join("-" * w for w in widths)
        out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
               for line in lines]
        out.insert(1, rule)
        out.append(rule)
        out.append(f"input {'×'.join(str(v) for v in self.input_shape)} · "
                   f"{self.total_params:,} parameters · {self.total_macs:,} multiply-adds per sample")
        return "\n".join(out)


def _formula(module: nn.Module) -> str:
    """Parameter count as the seeds write it: ``C_out×k…×C_in + C_out`` for a convolution."""
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    own = list(module.parameters(recurse=False))
    if isinstance(weight, Tensor) and weight.dim() >= 3 and isinstance(module, nn.Module):
        transposed = "Transpose" in type(module).__name__
        out_c, in_c = (weight.shape[1], weight.shape[0]) if transposed else weight.shape[:2]
        text = "×".join(str(v) for v in (out_c, *weight.shape[2:], in_c))
    elif isinstance(weight, Tensor) and weight.dim() == 2:
        text = f"{weight.shape[0]}×{weight.shape[1]}"
    else:
        return " + ".join("×".join(str(v) for v in p.shape) for p in own)
    if isinstance(bias, Tensor):
        text += f" + {bias.numel()}"
    return text


def _window(module: nn.Module, x: Tensor) -> list[tuple[int, int, int, int]] | None:
    """``(kernel, stride, dilation, padding_low)`` per spatial dimension for a windowed layer, or
    ``None`` for a layer that keeps positions as they are."""
    kernel = getattr(module, "kernel_size", None)
    if kernel is None:
        return None
    dims = x.dim() - 2
    if dims < 1:
        return None

    def per_dim(value: object, default: int) -> tuple[int, ...]:
        if value is None:
            return (default,) * dims
        if isinstance(value, int):
            return (value,) * dims
        return tuple(int(v) for v in value)  # type: ignore[union-attr]

    k = per_dim(kernel, 1)
    s = per_dim(getattr(module, "stride", None) or k, 1)
    d = per_dim(getattr(module, "dilation", 1), 1)
    padding = getattr(module, "padding", 0)
    if isinstance(padding, str):
        pairs = resolve_padding(padding, tuple(x.shape[2:]), k, s, d)
    elif isinstance(padding, int):
        pairs = ((padding, padding),) * dims
    else:
        pairs = tuple((p, p) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in padding)
    return [(ki, si, di, pi[0]) for ki, si, di, pi in zip(k, s, d, pairs, strict=True)]


def _macs(module: nn.Module, x: Tensor, y: Tensor) -> int:
    weight = getattr(module, "weight", None)
    if not isinstance(weight, Tensor):
        return 0
    per_sample_out = y[0].numel() if y.dim() > 0 else 1
    if weight.dim() >= 3:
        if "Transpose" in type(module).__name__:
            return x[0].numel() * weight[0].numel()
        return per_sample_out * weight[0].numel()
    if weight.dim() == 2 and isinstance(module, nn.Linear):
        return per_sample_out * weight.shape[1]
    return 0


def layers_of(model: nn.Module) -> list[nn.Module]:
    """The layers a table lists: every leaf module, except that a recurrent stack (:class:`RNN`)
    counts as one layer — its cells are run by the engine (or torch's fused kernels), never
    called as modules, so only the stack sees their outputs."""
    stacks = [m for m in model.modules() if isinstance(m, RNN)]
    inside = {id(sub) for stack in stacks for sub in stack.modules() if sub is not stack}
    return [m for m in model.modules()
            if id(m) not in inside and (isinstance(m, RNN) or not any(True for _ in m.children()))]


def summary(model: nn.Module, input_shape: Sequence[int] | None = None, *, dtype: torch.dtype = torch.float32,
            device: torch.device | str = "cpu", example: Tensor | None = None) -> Summary:
    """Run one sample of ``input_shape`` (without the batch axis) through ``model`` and tabulate
    every leaf layer in execution order. ``example`` (with its batch axis of 1) replaces the zeros
    input, e.g. token indices ``(1, T)`` for a language model.

    The receptive field is followed along the execution order with the seeds' recursion
    (``r_out = r_in + (k_eff − 1)·j_in``, ``j_out = j_in·s``), which is exact for a chain of layers.
    Each layer starts from the field of the tensor it is given, so parallel branches (Inception
    blocks, residual shortcuts) each grow from their common input; a tensor that no layer made
    (branches concatenated or added in a ``forward``) takes the widest field seen so far, which is
    the merged map's field when the branches share their stride.
    """
    if example is None:
        if input_shape is None:
            raise ValueError("summary: expected 'input_shape' or 'example', got neither")
        x = torch.zeros(1, *input_shape, dtype=dtype, device=device)
    else:
        x = example.to(device)
        input_shape = tuple(example.shape[1:])
    rows: list[LayerRow] = []
    names = {module: name for name, module in model.named_modules()}
    spatial = max(len(input_shape) - 1, 0) if x.is_floating_point() else 0
    state = {"defined": True, "whole": False}
    # receptive field (size, jump) of each tensor a layer made, keyed by id; the tensors are kept
    # alive so that their ids stay unique while the sample runs
    fields: dict[int, tuple[Tensor, list[int], list[int]]] = {id(x): (x, [1] * spatial, [1] * spatial)}

    def field_of(tensor: Tensor) -> tuple[list[int], list[int]]:
        if id(tensor) not in fields:    # made by a tensor operation: the widest field so far, kept for
            sizes = [size for _, size, _ in fields.values()]    # the other branches that read it
            jumps = [jump for _, _, jump in fields.values()]
            fields[id(tensor)] = (tensor, [max(v) for v in zip(*sizes, strict=True)],
                                  [max(v) for v in zip(*jumps, strict=True)])
        _, size, jump = fields[id(tensor)]
        return list(size), list(jump)

    def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
        first = inputs[0] if inputs and isinstance(inputs[0], Tensor) else None
        out = output[0] if isinstance(output, tuple) else output
        if not isinstance(out, Tensor):
            return
        size, jump = field_of(first) if first is not None else ([1] * spatial, [1] * spatial)
        if first is not None:
            window = _window(module, first)
            if "Transpose" in type(module).__name__:
                state["defined"] = False
            elif window is not None and len(window) == len(size) and not state["whole"]:
                for axis, (k, s, d, _) in enumerate(window):
                    size[axis] += (shapes.effective_kernel(k, d) - 1) * jump[axis]
                    jump[axis] *= s
            elif out.dim() < first.dim() or isinstance(module, nn.Linear):
                state["whole"] = True
        fields[id(out)] = (out, size, jump)
        if not state["defined"]:
            receptive: tuple[int, ...] | None = None
        elif state["whole"]:
            receptive = ()
        else:
            receptive = tuple(size)
        params = sum(p.numel() for p in module.parameters(recurse=isinstance(module, RNN)))
        rows.append(LayerRow(
            name=names.get(module, "?"), kind=type(module).__name__,
            output_shape=tuple(out.shape[1:]), params=params,
            formula=_formula(module) if params and not isinstance(module, RNN) else "",
            macs=_macs(module, first, out)
            if first is not None else 0, receptive=receptive,
        ))

    handles = [m.register_forward_hook(hook) for m in layers_of(model)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    counted = sum(row.params for row in rows)
    missing = sum(p.numel() for p in model.parameters()) - counted
    if missing:
        rows.append(LayerRow("(not run)", "parameters", (), missing, str(missing), 0, None))
    return Summary(tuple(input_shape), rows)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars, ``Σ numel`` over parameters that require grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["LayerRow", "Summary", "count_parameters", "summary"]
