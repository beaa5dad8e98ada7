"""The seeds' "welcome detector" (seed 003): does a clip contain a given word, wherever it is?

A convolution over time is shift-equivariant and a global max over time makes it shift-invariant,
so the word is found at any offset — the seed's answer to the shift-invariance problem.

    waveform (N, 1, T) → log-mel spectrogram (N, M, F) → per-band normalisation over time
      → [conv 1-d k over time + batch norm + ReLU] × 4 (mel bands as channels, dilations 1, 2, 4, 8:
        a receptive field of 61 frames = 0.6 s, one word)
      → 1×1 conv to class scores s (N, classes, F)  → global max over time → logits (N, classes)
"""

from __future__ import annotations

from torch import Tensor, nn

from convrnn.data.audio import log_mel_spectrogram
from convrnn.layers import BatchNorm1d, Conv1d, GlobalPool


class KeywordSpotter(nn.Module):
    """1-D CNN over log-mel frames with global max pooling over time.

    Shapes: ``waveform: (N, 1, T)`` at ``sample_rate`` → logits ``(N, classes)``;
    :meth:`frame_scores` gives the scores before pooling, ``(N, classes, frames)``, i.e. where in
    the clip the detector fires.
    """

    def __init__(self, sample_rate: int = 22_050, n_mels: int = 40, n_fft: int = 512, hop_length: int = 220,
                 channels: tuple[int, ...] = (64, 96, 128, 128), kernel_size: int = 5, classes: int = 2,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.sample_rate, self.n_mels, self.n_fft, self.hop_length = sample_rate, n_mels, n_fft, hop_length
        layers: list[nn.Module] = []
        width = n_mels
        for index, out in enumerate(channels):
            layers += [Conv1d(width, out, kernel_size, padding="same", dilation=2**index, bias=False),
                       BatchNorm1d(out), nn.ReLU()]
            width = out
        self.body = nn.Sequential(*layers, nn.Dropout(dropout))
        self.scores = Conv1d(width, classes, 1)
        self.pool = GlobalPool("max")

    def features(self, waveform: Tensor) -> Tensor:
        """Log-mel frames normalised per band over time, ``(N, n_mels, frames)`` (loudness-invariant)."""
        mel = log_mel_spectrogram(waveform[:, 0], self.sample_rate, n_fft=self.n_fft,
                                  hop_length=self.hop_length, n_mels=self.n_mels)
        mean = mel.mean(dim=-1, keepdim=True)
        std = mel.std(dim=-1, keepdim=True).clamp_min(1e-3)
        return (mel - mean) / std

    def frame_scores(self, waveform: Tensor) -> Tensor:
        """Class scores at every frame, ``(N, classes, frames)``."""
        return self.scores(self.body(self.features(waveform)))

    def forward(self, waveform: Tensor) -> Tensor:
        return self.pool(self.frame_scores(waveform))
