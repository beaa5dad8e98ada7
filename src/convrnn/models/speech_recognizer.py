"""A small end-to-end speech recognizer (seed 003's first example problem): log-mel features, a CNN
front end over (frequency, time), a bidirectional LSTM over time and CTC (Graves et al., 2006):

    waveform (N, 1, T) ─ log-mel, causal frames (hop h) ─▶ (N, M, F)   F = 1 + ⌊(T − 1) / h⌋
      ─ per-band normalisation over each utterance's own frames ─▶ (N, 1, M, F) as an image
      ─ CRNN: S × [conv 3×3 → batch norm → ReLU → max-pool] (the first ``width_pools`` also
        halve time) ─▶ columns as time (N, F / 2^width_pools, C_S · M / 2^S)
      ─ BiLSTM (L layers, lengths) → dropout → CTC head ─▶ log y (N, T', words + 1)

It is :class:`~convrnn.models.ocr.CRNN` reading a spectrogram instead of a line of ink: the mel
bands are the image's height and time its width. Causal framing (frame t ends at sample t·h)
makes each frame independent of anything after it, so zeros padding an utterance in a batch
change none of its frames; the normalisation and the CRNN ignore the padded frames too, so in
``eval()`` mode an utterance is recognised the same alone or in any batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from convrnn.data.audio import LogMelSpectrogram
from convrnn.functional._checks import check_tensor
from convrnn.layers.time_norm import ClipNorm
from convrnn.models.ocr import CRNN

__all__ = ["SpeechRecognizer"]


class SpeechRecognizer(nn.Module):
    """Log-mel → CNN → BiLSTM → CTC over a vocabulary of ``classes`` words (see the module docstring).

    Args:
        sample_rate, n_fft, hop_length, n_mels: the log-mel front end (M = ``n_mels`` bands, a
            multiple of 2^len(channels)).
        classes: number of words (CTC adds the blank as symbol 0; word c is symbol c + 1).
        channels: output channels of each conv stage.
        width_pools: how many of the first stages halve time (one output step per 2^width_pools frames).
        hidden, layers, cell, dropout: the recurrent layers (bidirectional), as in :class:`CRNN`.

    Shapes: ``waveform: (N, 1, T)``, ``lengths: (N,)`` samples of each utterance or None (all T) →
    ``(log_probs (N, T', classes + 1), steps (N,))``, ``T' = ⌊F / 2^width_pools⌋`` for F frames.
    """

    def __init__(self, sample_rate: int = 22_050, n_fft: int = 512, hop_length: int = 220, n_mels: int = 32,
                 classes: int = 11, channels: Sequence[int] = (32, 64, 96), width_pools: int = 2, hidden: int = 128,
                 layers: int = 2, cell: str = "lstm", dropout: float = 0.2) -> None:
        super().__init__()
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = sample_rate, n_fft, hop_length, n_mels
        self.classes = classes
        self.frontend = LogMelSpectrogram(sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                                          framing="causal")
        self.normalise = ClipNorm()
        self.reader = CRNN(height=n_mels, classes=classes, in_channels=1, channels=channels,
                           width_pools=width_pools, hidden=hidden, layers=layers, cell=cell, dropout=dropout)

    @property
    def least_samples(self) -> int:
        """The shortest waveform with one output step: 2^width_pools frames."""
        return (2 ** self.reader.width_pools - 1) * self.hop_length + 1

    def frames(self, lengths: Tensor) -> Tensor:
        """Frames of utterances ``lengths (N,)`` samples long: ``1 + ⌊(T − 1) / hop⌋``."""
        return 1 + torch.div(lengths - 1, self.hop_length, rounding_mode="floor")

    def forward(self, waveform: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_tensor("waveform", waveform, dims=3, floating=True, where="SpeechRecognizer")
        if waveform.shape[1] != 1:
            raise ValueError(f"SpeechRecognizer: argument 'waveform' expected (N, 1, T), got shape "
                             f"{tuple(waveform.shape)}")
        if waveform.shape[-1] < self.least_samples:
            raise ValueError(f"SpeechRecognizer: argument 'waveform' expected at least {self.least_samples} samples "
                             f"({1000 * self.least_samples / self.sample_rate:.0f} ms), got {waveform.shape[-1]}")
        features = self.frontend(waveform[:, 0])
        if lengths is None:   # every utterance full length: no masking, no data-dependent checks (it exports)
            return self.reader(self.normalise(features).unsqueeze(1))
        check_tensor("lengths", lengths, dims=1, where="SpeechRecognizer")
        lengths = lengths.cpu()
        batch = waveform.shape[0]
        if lengths.is_floating_point() or lengths.shape[0] != batch or \
                (batch and (int(lengths.min()) < self.least_samples or int(lengths.max()) > waveform.shape[-1])):
            raise ValueError(f"SpeechRecognizer: argument 'lengths' expected {batch} sample counts in "
                             f"[{self.least_samples}, {waveform.shape[-1]}], got {lengths.tolist()}")
        frames = self.frames(lengths)
        # the frames past each utterance's own are zeroed, as CRNN expects of a padded image
        inside = torch.arange(features.shape[-1]) < frames.unsqueeze(1)
        features = self.normalise(features, frames) * inside.to(features.device).unsqueeze(1)
        return self.reader(features.unsqueeze(1), frames)
