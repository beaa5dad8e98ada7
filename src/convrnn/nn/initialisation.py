"""torch.nn's initialisation for :mod:`convrnn.nn`, and giving modules built on the meta device memory.

torch.nn's recurrent modules (``RNNBase.reset_parameters``, ``RNNCellBase.reset_parameters``)
draw every parameter from U(−1/√H, 1/√H), H = ``hidden_size``, one tensor after the other in
registration order, from the global generator. :mod:`convrnn.nn` registers torch's parameters in
torch's order and draws them the same way, so the same seed gives the same numbers. Its extras
start neutral instead, without drawing, so that the extended module starts as the plain one:
peepholes V = 0, layer-norm gains 1 and shifts 0 (see :func:`neutral_value`). Any other
parameter (a Jordan cell's output matrix, a user's cell's own) follows torch's rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from convrnn.layers.recurrent.options import BlockLayerNorm


def neutral_value(owner: nn.Module, name: str) -> float | None:
    """The value the parameter ``name`` of module ``owner`` starts at where it has a neutral one
    (a peephole weight: 0; a layer norm's gain: 1, shift: 0), else None (torch's draw)."""
    if isinstance(owner, BlockLayerNorm):
        return 1.0 if name == "weight" else 0.0
    if name == "weight_peephole":
        return 0.0
    return None


def torch_initialise(parameters: Iterable[tuple[Tensor, float | None]], hidden_size: int) -> None:
    """Initialise ``parameters`` in the given order as torch.nn's recurrent modules do: each
    (tensor, neutral) pair is filled with ``neutral`` when it is not None (no draw), else drawn
    from U(−1/√H, 1/√H) with ``Tensor.uniform_`` (what ``torch.nn.init.uniform_`` calls)."""
    bound = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for tensor, neutral in parameters:
            if neutral is None:
                tensor.uniform_(-bound, bound)
            else:
                tensor.fill_(neutral)


def materialise(module: nn.Module, device: torch.device | str | None, dtype: torch.dtype | None) -> None:
    """Give every parameter and buffer of ``module`` (built on the meta device) fresh memory on
    ``device`` with ``dtype`` (None: torch's defaults, as ``torch.empty`` takes them): parameters
    uninitialised (the caller initialises them), buffers zero (a cell's only buffers are the zero
    biases of ``bias=False``). Parameters stay registered under their names."""
    for owner in module.modules():
        for name, parameter in list(owner._parameters.items()):
            if parameter is not None:
                fresh = torch.empty(parameter.shape, device=device, dtype=dtype)
                owner._parameters[name] = nn.Parameter(fresh, requires_grad=parameter.requires_grad)
        for name, buffer in list(owner._buffers.items()):
            if buffer is not None:
                owner._buffers[name] = torch.zeros(buffer.shape, device=device, dtype=dtype)
