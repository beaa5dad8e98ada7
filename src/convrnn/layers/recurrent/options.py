"""Per-step options every cell gets from the engine: layer norm, variational recurrent dropout, zoneout.

Exact formulations (H = a state component's size, ∘ = elementwise product):

- **Layer norm** (Ba, Kiros & Hinton, 2016, §3.1 and the LSTM of their §6): each gate block of the
  input projection and of the recurrent projection is normalised on its own, with its own gain
  α and shift β, before the biases are added:

      a_t = LN(W x_t; α_x, β_x) + LN(U h_{t−1}; α_h, β_h) + b,
      LN(z; α, β) = α ∘ (z − mean(z)) / sqrt(var(z) + 1e−5) + β   (statistics over the H units)

  and the LSTM output reads h_t = o_t ∘ tanh(LN(c_t; α_c, β_c)); the carried c_t stays unnormalised.
  Gains start at 1, shifts at 0.
- **Variational recurrent dropout** (Gal & Ghahramani, 2016): one Bernoulli mask m per sequence
  and per unit, drawn once per forward call and reused at every step, multiplies the recurrent
  input before the recurrent matrices: U (m ∘ h_{t−1}) / (1 − p). The state itself (what the
  gates interpolate, what is returned) is never dropped, so a GRU keeps its memory.
  Evaluation mode uses no mask.
- **Zoneout** (Krueger et al., 2016): each unit of every state component keeps its previous value
  with probability p at each step, k_t ~ Bernoulli(p) drawn per step and unit:
  s_t = k_t ∘ s_{t−1} + (1 − k_t) ∘ s̃_t. In evaluation mode k_t = p (the expectation).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class BlockLayerNorm(nn.Module):
    """Layer norm applied separately to each of ``blocks`` consecutive blocks of ``size`` units.

    ``forward(z, first)`` takes z: (N, k·size) holding blocks ``first … first+k−1`` and returns
    the same shape, each block normalised with its own gain and shift.
    """

    fused_threshold = 1 << 16   # elements from which one F.layer_norm call beats var_mean

    def __init__(self, blocks: int, size: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.size, self.eps = size, eps
        self.weight = nn.Parameter(torch.ones(blocks, size))
        self.bias = nn.Parameter(torch.zeros(blocks, size))

    def forward(self, z: Tensor, first: int = 0, bias: Tensor | None = None) -> Tensor:
        """z: (..., k·size) → the same shape; ``bias`` (k·size,), if given, is added as well (in
        the same pass)."""
        count = z.shape[-1] // self.size
        gain = self.weight[first:first + count]
        shift = self.bias[first:first + count]
        if bias is not None:
            shift = shift + bias.view(count, self.size)
        if torch.compiler.is_exporting():
            return self._exported(z, gain, shift)
        blocks = z.unflatten(-1, (count, self.size))
        if torch.compiler.is_compiling() or blocks.numel() >= self.fused_threshold:
            # Many rows at once (a whole sequence's input projections): torch's layer-norm kernel
            # is one vectorised pass; var_mean over a short last dimension is ~10× slower.
            # torch.compile'd graphs take it at any size (no guard on a symbolic batch).
            normed = F.layer_norm(blocks, (self.size,), eps=self.eps)
        else:
            # A step's few rows: not F.layer_norm, which enters an OpenMP region even for a few
            # rows, and on a busy CPU each call then stalls for milliseconds (measured: 8 µs idle,
            # 5–15 ms with 2 threads per core); var_mean + rsqrt compute the same normalisation.
            var, mean = torch.var_mean(blocks, dim=-1, correction=0, keepdim=True)
            normed = (blocks - mean) * torch.rsqrt(var + self.eps)
        return torch.addcmul(shift, normed, gain).flatten(-2)

    def _exported(self, z: Tensor, gain: Tensor, shift: Tensor) -> Tensor:
        """The same normalisation for the exporters (inside their scan over time), written with
        matrix products only: with E (k, k·size) the blocks' indicator, each block's mean spread
        over its units is z Eᵀ E / size. No reshape or slice of the symbolic batch and no reduction
        is in it — the ONNX exporter's decomposition of scan bodies fails on those (a reshape, and
        the backward of a slice or a reduction, keep symbolic sizes) — and no size test to guard."""
        count = gain.shape[0]
        spread = torch.eye(count, dtype=z.dtype, device=z.device).repeat_interleave(self.size, dim=1)   # E
        average = spread.t() / self.size
        centred = z - (z @ average) @ spread
        normed = centred * torch.rsqrt(((centred * centred) @ average) @ spread + self.eps)
        return normed * gain.reshape(-1) + shift.reshape(-1)


def recurrent_dropout_mask(batch: int, size: int, probability: float, like: Tensor) -> Tensor:
    """One inverted-dropout mask per sequence: (batch, size), entries 0 or 1/(1 − p)."""
    keep = torch.full((batch, size), 1.0 - probability, dtype=like.dtype, device=like.device)
    return torch.bernoulli(keep) / (1.0 - probability)


def zoneout_weights(probability: float, training: bool, steps: int, batch: int,
                    sizes: Sequence[int], like: Tensor) -> tuple[float | Tensor, ...]:
    """The keep weights k of every state component: Bernoulli(p) draws (steps, batch, S) in
    training, the constant p in evaluation."""
    if not training:
        return tuple(probability for _ in sizes)
    return tuple(
        torch.bernoulli(torch.full((steps, batch, size), probability, dtype=like.dtype,
                                   device=like.device))
        for size in sizes
    )
