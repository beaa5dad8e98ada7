"""Normalisation of every channel over time: per clip (``ClipNorm``) or as a running, causal statistic
(``RunningNorm``), e.g. the per-band normalisation of a log-mel spectrogram.

Letters: N batch, C channels (mel bands), T steps; x (N, C, T), time last.

- ``ClipNorm``: each channel by its clip's mean and (unbiased) standard deviation over all T steps.
  Loudness-invariant, but step t depends on the whole clip: not causal, so it cannot stream.
- ``RunningNorm``: each channel by its mean and standard deviation *so far*, updated step by step
  with weight w_t = max(1 / (t + 1), 1 / τ): a cumulative average until t = τ − 1, an exponential
  moving average with time constant τ steps after that (τ = ``time_constant``; None keeps the
  cumulative average for ever). Step t depends on steps 0 … t only: the causal variant of
  ``ClipNorm``, and what a stream computes chunk by chunk.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_real, check_tensor
from convrnn.layers.recurrent.linear_scan import linear_recurrence


class ClipNorm(nn.Module):
    r"""Normalise each channel of a clip by its own statistics over time (not causal).

        y[n, c, t] = (x[n, c, t] − μ[n, c]) / max(σ[n, c], min_std)
        μ = mean over t < L_n,   σ = unbiased standard deviation over t < L_n

    L_n is clip n's length (``lengths``; T for all when None): the steps of a batch padded on the
    right past L_n do not enter the statistics (their outputs are normalised the same way and are
    meaningless), so each clip is normalised as it would be alone.

    Shapes: ``x: (N, C, T)``, ``lengths: (N,)`` integers in [1, T] or None → ``(N, C, T)``.
    Its causal variant is :class:`RunningNorm`.
    """

    causal = False

    def __init__(self, min_std: float = 1e-3) -> None:
        super().__init__()
        self.min_std = check_real("min_std", min_std, above=0, where="ClipNorm")

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        check_tensor("x", x, dims=3, floating=True, where="ClipNorm")
        if lengths is None:
            mean = x.mean(dim=-1, keepdim=True)
            std = x.std(dim=-1, keepdim=True).clamp_min(self.min_std)
            return (x - mean) / std
        check_tensor("lengths", lengths, dims=1, where="ClipNorm")
        if lengths.is_floating_point() or lengths.shape[0] != x.shape[0] or \
                (x.shape[0] and (int(lengths.min()) < 1 or int(lengths.max()) > x.shape[-1])):
            raise ValueError(f"ClipNorm: argument 'lengths' expected {x.shape[0]} integers in [1, {x.shape[-1]}], "
                             f"got {lengths.tolist()}")
        count = lengths.to(x.device, x.dtype).view(-1, 1, 1)
        inside = (torch.arange(x.shape[-1], device=x.device) < lengths.to(x.device).unsqueeze(1)).unsqueeze(1)
        mean = torch.where(inside, x, 0).sum(dim=-1, keepdim=True) / count
        squares = torch.where(inside, (x - mean) ** 2, 0).sum(dim=-1, keepdim=True)
        std = (squares / (count - 1)).sqrt().nan_to_num(0.0).clamp_min(self.min_std)  # one step: σ = 0
        return (x - mean) / std

    def extra_repr(self) -> str:
        return f"min_std={self.min_std}"


class RunningNorm(nn.Module):
    r"""Normalise each channel by its running mean and standard deviation over the steps so far (causal).

        w_t = max(1 / (s + t + 1), 1 / τ)            s steps seen before (0 for a whole sequence)
        d_t = x_t − m_{t−1}
        m_t = m_{t−1} + w_t d_t                      (m: the running mean)
        v_t = (1 − w_t) (v_{t−1} + w_t d_t²)         (v: the running variance; West, 1979)
        y_t = (x_t − m_t) / max(√v_t, min_std)

    With τ = None (the default) w_t = 1 / (t + 1) and m_t, v_t are exactly the mean and the
    population variance of x_0 … x_t; with τ they become exponential averages once t ≥ τ − 1, so a
    long stream forgets what it heard long ago. Step 0 is always 0 (w_0 = 1: m_0 = x_0, v_0 = 0).
    Both recurrences are linear (h_t = a_t h_{t−1} + b_t) and run over all steps at once
    (:func:`~convrnn.layers.recurrent.linear_recurrence`). No parameters.

    Shapes: ``x: (N, C, T)`` → ``(N, C, T)``. :meth:`run` continues from a carried state
    (``mean (N, C)``, ``var (N, C)``, ``seen ()``), which is how a stream computes it chunk by chunk.
    """

    causal = True

    def __init__(self, time_constant: float | None = None, min_std: float = 1e-3) -> None:
        super().__init__()
        if time_constant is not None:   # ∞ forgets nothing, as None does
            try:
                check_real("time_constant", time_constant, minimum=1, finite=False, where="RunningNorm")
            except (TypeError, ValueError) as error:
                raise type(error)(f"RunningNorm: argument 'time_constant' expected None or a number ≥ 1 (steps), "
                                  f"got {time_constant!r}") from None
        min_std = check_real("min_std", min_std, above=0, where="RunningNorm")
        self.time_constant, self.min_std = time_constant, min_std

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x, dims=3, floating=True, where="RunningNorm")
        zeros = x.new_zeros(x.shape[:2])
        return self.run(x, zeros, zeros, x.new_zeros((), dtype=torch.long))[0]

    def run(self, x: Tensor, mean: Tensor, var: Tensor, seen: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Normalise x (N, C, T) continuing from the running ``mean`` (N, C), ``var`` (N, C) after
        ``seen`` () int64 steps. Returns ``(y (N, C, T), mean, var, seen + T)``."""
        steps = x.shape[-1]
        if steps == 0:
            return x, mean, var, seen
        t = seen.to(x.dtype) + torch.arange(1, steps + 1, dtype=x.dtype, device=x.device)
        w = 1.0 / t
        if self.time_constant is not None:
            w = w.clamp_min(1.0 / self.time_constant)
        w = w.view(steps, 1, 1)
        xs = x.permute(2, 0, 1)                                          # (T, N, C)
        if steps <= _STEPWISE and not x.requires_grad:
            return self._stepwise(xs, w, mean, var, seen)
        keep = (1.0 - w).expand_as(xs)
        means = linear_recurrence(keep, w * xs, mean)                    # m_t
        previous = torch.cat([mean.unsqueeze(0), means[:-1]])            # m_{t−1}
        d = xs - previous
        variances = linear_recurrence(keep, keep * w * d * d, var)       # v_t
        # max(√v, min_std) as √max(v, min_std²): the same value, and no 0·∞ = NaN gradient where v = 0 (step 0)
        y = (xs - means) / variances.clamp_min(self.min_std ** 2).sqrt()
        return y.permute(1, 2, 0), means[-1], variances[-1], seen + steps

    def _stepwise(self, xs: Tensor, w: Tensor, mean: Tensor, var: Tensor, seen: Tensor
                  ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The same recurrences one step at a time: cheaper than two scans for the few steps of a
        stream's chunk. xs (T, N, C), w (T, 1, 1)."""
        outputs = []
        for t in range(xs.shape[0]):
            keep = 1.0 - w[t]
            d = xs[t] - mean
            mean = keep * mean + w[t] * xs[t]
            var = keep * var + keep * w[t] * d * d
            outputs.append((xs[t] - mean) / var.clamp_min(self.min_std ** 2).sqrt())
        return torch.stack(outputs, dim=-1), mean, var, seen + xs.shape[0]

    def extra_repr(self) -> str:
        return f"time_constant={self.time_constant}, min_std={self.min_std}"


_STEPWISE = 4   # chunks up to this many steps run step by step (see RunningNorm._stepwise)


__all__ = ["ClipNorm", "RunningNorm"]
