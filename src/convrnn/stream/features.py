"""Feature front ends, chunk by chunk: the log-mel spectrogram frame by frame, and per-band normalisation.

- ``LogMelSpectrogram``: the STFT's window slides over the samples as they arrive (its padding made as
  offline's, ``windows.py``); a frame is computed once its last sample is in. Centred framing reads
  n_fft − 1 − n_fft/2 samples past a frame's centre t·hop (255 at n_fft = 512: its look-ahead) and
  reflects the signal at both ends; causal framing reads none. One frame per hop: stride = hop.
- ``RunningNorm``: its running mean and variance are the state (causal: look-ahead 0).
- ``ClipNorm`` divides by the whole clip's statistics: not causal. It refuses to stream, naming its
  causal variant, unless the stream is asked to approximate: then it normalises by running
  statistics (``RunningNorm`` without forgetting), which the stream reports as an approximation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from convrnn.data.audio import LogMelSpectrogram
from convrnn.functional._checks import check_tensor
from convrnn.layers.time_norm import ClipNorm, RunningNorm
from convrnn.stream.stage import NotCausalError, Stage, State
from convrnn.stream.windows import PaddedWindows


class LogMelStage(Stage):
    """``waveform (*, T)`` → ``(*, n_mels, frames)``, frame by frame."""

    time_axis = -1

    def __init__(self, module: LogMelSpectrogram, name: str) -> None:
        super().__init__(name)
        self.module = module
        low, high = module.padding
        boundary = "reflect" if module.framing == "centred" else "zeros"
        self.windows = PaddedWindows(module.n_fft, module.hop_length, low, high, boundary,
                                     where=f"stream: {name} (LogMelSpectrogram)")
        self.lookahead, self.stride = module.n_fft - 1 - low, module.hop_length
        self.state_names = self.windows.names
        if self.windows.data_dependent:
            self.not_exportable = (f"{name}: centred framing reflects the signal's first samples "
                                   f"(causal framing exports)")

    def describe(self) -> str:
        m = self.module
        return f"LogMelSpectrogram {m.framing} n_fft={m.n_fft} hop={m.hop_length}"

    def init(self, x: Tensor) -> State:
        return self.windows.init(x)

    def _frames(self, cells: Tensor) -> Tensor:
        mel = self.module.frames(cells.reshape(-1, cells.shape[-1]))
        return mel.reshape(*cells.shape[:-1], *mel.shape[-2:])

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        check_tensor("waveform", x, floating=True, where=f"stream: {self.name}")
        ready, state = self.windows.push(x, state)
        if ready is None:
            return x.new_zeros(*x.shape[:-1], self.module.n_mels, 0), state
        return self._frames(ready), state

    def finish(self, state: State) -> Tensor | None:
        rest = self.windows.finish(state)
        if rest is None or rest.shape[-1] < self.module.n_fft:
            return None
        return self._frames(rest)


class RunningNormStage(Stage):
    """:class:`~convrnn.layers.RunningNorm` with its running mean, variance and step count as the state.
    ``approximating`` a :class:`~convrnn.layers.ClipNorm` (see the module docstring)."""

    time_axis = -1
    state_names = ("mean", "var", "seen")

    def __init__(self, module: RunningNorm | ClipNorm, name: str) -> None:
        super().__init__(name)
        self.approximating = isinstance(module, ClipNorm)
        self.module = RunningNorm(None, module.min_std) if self.approximating else module

    def describe(self) -> str:
        if self.approximating:
            return "ClipNorm approximated by running statistics (not equal to offline)"
        return f"RunningNorm time_constant={self.module.time_constant}"

    def init(self, x: Tensor) -> State:
        zeros = x.new_zeros(x.shape[:2])
        return {"mean": zeros, "var": zeros, "seen": torch.zeros((), dtype=torch.long, device=x.device)}

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        check_tensor("x", x, dims=3, floating=True, where=f"stream: {self.name}")
        y, mean, var, seen = self.module.run(x, state["mean"], state["var"], state["seen"])
        return y, {"mean": mean, "var": var, "seen": seen}


def clip_norm_stage(module: ClipNorm, name: str, approximate: bool) -> Stage:
    """The stage of a :class:`~convrnn.layers.ClipNorm`: refused (not causal) unless ``approximate``."""
    if not approximate:
        raise NotCausalError(
            f"stream: {name} (ClipNorm) divides every step by the statistics of the whole clip, which a stream "
            f"has only at its end: not causal. Its causal variant is RunningNorm (for the keyword spotter: "
            f"KeywordSpotter(causal=True), recipe keyword-causal); or stream with approximate=True to normalise "
            f"by running statistics instead (outputs then differ from offline)")
    return RunningNormStage(module, name)


__all__ = ["LogMelStage", "RunningNormStage", "clip_norm_stage"]
