"""The seeds' "welcome detector" (seed 003): does a clip contain a given word, wherever it is?

A convolution over time is shift-equivariant and a global max over time makes it shift-invariant,
so the word is found at any offset — the seed's answer to the shift-invariance problem.

    waveform (N, 1, T) → log-mel spectrogram (N, M, F) → per-band normalisation over time
      → [conv 1-d k over time + batch norm + ReLU] × 4 (mel bands as channels, dilations 1, 2, 4, 8:
        a receptive field of 61 frames = 0.6 s, one word)
      → 1×1 conv to class scores s (N, classes, F)  → global max over time → logits (N, classes)

``causal=True`` builds the variant that streams with no look-ahead and equals itself offline: frames
that end at their own time (causal framing), per-band normalisation by running statistics
(:class:`~convrnn.layers.RunningNorm`) instead of the clip's, and convolutions that read the past
only (padding ``(d·(k − 1), 0)``: the same receptive field, all of it behind the frame).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from convrnn.data.audio import LogMelSpectrogram
from convrnn.functional._checks import check_tensor
from convrnn.layers import BatchNorm1d, ClipNorm, Conv1d, GlobalPool, RunningNorm


def first_channel(waveform: Tensor) -> Tensor:
    """``(N, 1, T)`` → ``(N, T)``: the mono waveform the front end reads."""
    check_tensor("waveform", waveform, dims=3, floating=True, where="KeywordSpotter")
    return waveform[:, 0]


class KeywordSpotter(nn.Module):
    """1-D CNN over log-mel frames with global max pooling over time.

    Shapes: ``waveform: (N, 1, T)`` at ``sample_rate`` → logits ``(N, classes)``;
    :meth:`frame_scores` gives the scores before pooling, ``(N, classes, frames)``, i.e. where in
    the clip the detector fires.

    Args:
        causal: the streaming variant (see the module docstring); its running normalisation forgets
            with a time constant of ``time_constant`` seconds, longer than a training clip.
    """

    def __init__(self, sample_rate: int = 22_050, n_mels: int = 40, n_fft: int = 512, hop_length: int = 220,
                 channels: tuple[int, ...] = (64, 96, 128, 128), kernel_size: int = 5, classes: int = 2,
                 dropout: float = 0.2, causal: bool = False, time_constant: float = 2.0) -> None:
        super().__init__()
        self.sample_rate, self.n_mels, self.n_fft, self.hop_length = sample_rate, n_mels, n_fft, hop_length
        self.causal = causal
        self.frontend = LogMelSpectrogram(sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                                          framing="causal" if causal else "centred")
        self.normalise: nn.Module = (RunningNorm(time_constant * sample_rate / hop_length) if causal
                                     else ClipNorm())
        layers: list[nn.Module] = []
        width = n_mels
        for index, out in enumerate(channels):
            dilation = 2**index
            padding = [(dilation * (kernel_size - 1), 0)] if causal else "same"
            layers += [Conv1d(width, out, kernel_size, padding=padding, dilation=dilation, bias=False),
                       BatchNorm1d(out), nn.ReLU()]
            width = out
        self.body = nn.Sequential(*layers, nn.Dropout(dropout))
        self.scores = Conv1d(width, classes, 1)
        self.pool = GlobalPool("max")

    def features(self, waveform: Tensor) -> Tensor:
        """Log-mel frames normalised per band over time, ``(N, n_mels, frames)`` (loudness-invariant)."""
        return self.normalise(self.frontend(first_channel(waveform)))

    def frame_scores(self, waveform: Tensor) -> Tensor:
        """Class scores at every frame, ``(N, classes, frames)``."""
        return self.scores(self.body(self.features(waveform)))

    def forward(self, waveform: Tensor) -> Tensor:
        return self.pool(self.frame_scores(waveform))

    def stream_layers(self, pooled: bool = True) -> list[nn.Module | Callable[[Tensor], Tensor]]:
        """What :meth:`forward` composes, in order, for :func:`convrnn.stream` (without the global max
        with ``pooled=False``: the streamed :meth:`frame_scores`)."""
        layers: list[nn.Module | Callable[[Tensor], Tensor]] = [
            first_channel, self.frontend, self.normalise, self.body, self.scores]
        return [*layers, self.pool] if pooled else layers
