"""Log-mel spectrograms from ``torch.stft``: the usual input of a keyword spotter, with no
torchaudio needed.

    power[f, t] = |Σ_n w[n] x[t·hop + n − o] e^{−2πi f n / n_fft}|²     (Hann window w)
    mel[m, t]   = Σ_f H[f, m] power[f, t]                              (triangular filters)
    out[m, t]   = log(mel[m, t] + ε)

Framing: ``"centred"`` (o = n_fft/2, the signal reflected past both ends, as ``torch.stft``'s
``center=True``: frame t reads up to n_fft/2 − 1 samples past t·hop) or ``"causal"``
(o = n_fft − 1, zeros before the start: frame t ends at sample t·hop, so it needs nothing later).
Filters are spaced evenly on the HTK mel scale ``mel(f) = 2595 log10(1 + f / 700)``.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch._subclasses.fake_tensor import is_fake

from convrnn.functional._checks import check_choice, check_tensor, is_tracing

FRAMINGS = ("centred", "causal")


def hz_to_mel(frequency: Tensor | float) -> Tensor:
    """HTK mel scale: ``2595 · log10(1 + f / 700)``."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(frequency, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: Tensor | float) -> Tensor:
    """Inverse of :func:`hz_to_mel`: ``700 · (10^{m / 2595} − 1)``."""
    return 700.0 * (10.0 ** (torch.as_tensor(mel, dtype=torch.float64) / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: float, *, f_min: float = 0.0,
                   f_max: float | None = None) -> Tensor:
    """Triangular filters ``H (n_fft // 2 + 1, n_mels)`` float32 over the FFT bins.

    Filter ``m`` rises linearly from 0 at mel point ``m`` to 1 at point ``m + 1`` and falls to 0
    at point ``m + 2``, the ``n_mels + 2`` points spread evenly in mel between ``f_min`` and
    ``f_max`` (default ``sample_rate / 2``).
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"mel_filterbank: expected 0 ≤ f_min < f_max ≤ sample_rate / 2 = "
                         f"{sample_rate / 2}, got f_min={f_min}, f_max={f_max}")
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    points = mel_to_hz(torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)),
                                      n_mels + 2, dtype=torch.float64))
    lower, centre, upper = points[:-2], points[1:-1], points[2:]
    rising = (bins[:, None] - lower) / (centre - lower)
    falling = (upper - bins[:, None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).to(torch.float32)


def log_mel_spectrogram(waveform: Tensor, sample_rate: float, *, n_fft: int = 512,
                        hop_length: int | None = None, n_mels: int = 40, f_min: float = 20.0,
                        f_max: float | None = None, epsilon: float = 1e-6, framing: str = "centred") -> Tensor:
    """``log(mel power + ε)`` of ``waveform``.

    ``framing="centred"``: frames centred on t·hop (reflect-padded by ``n_fft // 2`` on both sides);
    ``framing="causal"``: frame t ends at sample t·hop (``n_fft − 1`` zeros before the start).
    Shapes: ``waveform (*, T)`` → ``(*, n_mels, frames)`` with ``frames = 1 + T // hop_length``
    (centred) or ``1 + (T − 1) // hop_length`` (causal); ``hop_length`` defaults to 10 ms of
    samples. Differentiable; works on any device and floating dtype.
    """
    check_tensor("waveform", waveform, floating=True, where="log_mel_spectrogram")
    check_choice("framing", framing, FRAMINGS, where="log_mel_spectrogram")
    hop_length = hop_length or max(1, round(sample_rate / 100))
    if framing == "centred" and waveform.shape[-1] <= n_fft // 2:
        raise ValueError(f"log_mel_spectrogram: expected more than n_fft // 2 = {n_fft // 2} "
                         f"samples, got {waveform.shape[-1]}")
    if waveform.shape[-1] == 0:
        raise ValueError("log_mel_spectrogram: expected at least one sample, got 0")
    batch_shape = waveform.shape[:-1]
    flat = waveform.reshape(-1, 1, waveform.shape[-1])
    if framing == "centred":
        padded = F.pad(flat, (n_fft // 2, n_fft // 2), mode="reflect")
    else:
        padded = F.pad(flat, (n_fft - 1, 0))
    mel = log_mel_frames(padded[:, 0], sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                         f_min=f_min, f_max=f_max, epsilon=epsilon)
    return mel.reshape(*batch_shape, n_mels, mel.shape[-1])


@functools.lru_cache(maxsize=16)
def _hann(n_fft: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    return torch.hann_window(n_fft, dtype=dtype, device=device)


@functools.lru_cache(maxsize=16)
def _filters(n_fft: int, n_mels: int, sample_rate: float, f_min: float, f_max: float | None, dtype: torch.dtype,
             device: torch.device) -> Tensor:
    return mel_filterbank(n_fft, n_mels, sample_rate, f_min=f_min, f_max=f_max).to(dtype=dtype, device=device)


def log_mel_frames(padded: Tensor, sample_rate: float, *, n_fft: int = 512, hop_length: int | None = None,
                   n_mels: int = 40, f_min: float = 20.0, f_max: float | None = None,
                   epsilon: float = 1e-6) -> Tensor:
    """The log-mel frames of already padded samples, one per whole window: frame t reads
    ``padded[t·hop : t·hop + n_fft]``. Shapes: ``padded (B, L)`` → ``(B, n_mels, 1 + (L − n_fft) // hop)``;
    what :func:`log_mel_spectrogram` computes after padding, and what a stream computes per chunk."""
    hop_length = hop_length or max(1, round(sample_rate / 100))
    # built once per setting for eager calls (a stream asks every chunk); never cached while traced, where
    # they are fake tensors of the trace
    traced = is_tracing() or torch.compiler.is_exporting() or is_fake(padded)
    hann = _hann.__wrapped__ if traced else _hann
    if not traced and padded.shape[0] == 0 and padded.shape[-1] >= n_fft:  # a batch of none: MKL's FFT refuses it
        return padded.new_empty(0, n_mels, 1 + (padded.shape[-1] - n_fft) // hop_length)
    window = hann(n_fft, padded.dtype, padded.device)
    spectrum = torch.stft(padded, n_fft, hop_length=hop_length, window=window, center=False,
                          return_complex=True)
    power = spectrum.real**2 + spectrum.imag**2  # (B, n_fft // 2 + 1, frames)
    filters = (_filters.__wrapped__ if traced else _filters)(n_fft, n_mels, float(sample_rate), f_min, f_max,
                                                             power.dtype, power.device)
    mel = torch.einsum("bft,fm->bmt", power, filters)
    return torch.log(mel + epsilon)


class LogMelSpectrogram(nn.Module):
    """:func:`log_mel_spectrogram` as a module (no parameters): ``waveform (*, T)`` → ``(*, n_mels, frames)``.

    ``framing="centred"`` reads n_fft/2 − 1 samples past each frame's centre t·hop (its look-ahead
    when streamed) and reflects the signal at both ends; ``framing="causal"`` reads nothing past t·hop.
    """

    def __init__(self, sample_rate: float, *, n_fft: int = 512, hop_length: int | None = None, n_mels: int = 40,
                 f_min: float = 20.0, f_max: float | None = None, epsilon: float = 1e-6,
                 framing: str = "centred") -> None:
        super().__init__()
        check_choice("framing", framing, FRAMINGS, where="LogMelSpectrogram")
        for name, value in (("n_fft", n_fft), ("n_mels", n_mels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LogMelSpectrogram: argument '{name}' expected a positive int, got {value!r}")
        self.sample_rate, self.n_fft, self.n_mels = sample_rate, n_fft, n_mels
        self.hop_length = hop_length or max(1, round(sample_rate / 100))
        self.f_min, self.f_max, self.epsilon, self.framing = f_min, f_max, epsilon, framing

    @property
    def padding(self) -> tuple[int, int]:
        """Samples added before and after the signal: reflected (centred) or zeros (causal)."""
        if self.framing == "centred":
            return self.n_fft // 2, self.n_fft // 2
        return self.n_fft - 1, 0

    def forward(self, waveform: Tensor) -> Tensor:
        return log_mel_spectrogram(waveform, self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length,
                                   n_mels=self.n_mels, f_min=self.f_min, f_max=self.f_max, epsilon=self.epsilon,
                                   framing=self.framing)

    def frames(self, padded: Tensor) -> Tensor:
        """:func:`log_mel_frames` with this module's settings: ``padded (B, L)`` → ``(B, n_mels, frames)``."""
        return log_mel_frames(padded, self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length,
                              n_mels=self.n_mels, f_min=self.f_min, f_max=self.f_max, epsilon=self.epsilon)

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop_length={self.hop_length}, "
                f"n_mels={self.n_mels}, framing={self.framing!r}")


def frames(length: int, hop_length: int, framing: str = "centred") -> int:
    """Number of frames :func:`log_mel_spectrogram` makes from ``length`` samples."""
    if framing == "causal":
        return 1 + math.floor((length - 1) / hop_length)
    return 1 + math.floor(length / hop_length)
