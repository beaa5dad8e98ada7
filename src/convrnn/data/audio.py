"""Log-mel spectrograms from ``torch.stft``: the usual input of a keyword spotter, with no
torchaudio needed.

    power[f, t] = |Σ_n w[n] x[t·hop + n − n_fft/2] e^{−2πi f n / n_fft}|²     (Hann window w)
    mel[m, t]   = Σ_f H[f, m] power[f, t]                                   (triangular filters)
    out[m, t]   = log(mel[m, t] + ε)

Filters are spaced evenly on the HTK mel scale ``mel(f) = 2595 log10(1 + f / 700)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from convrnn.functional._checks import check_tensor


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
                        f_max: float | None = None, epsilon: float = 1e-6) -> Tensor:
    """``log(mel power + ε)`` of ``waveform``, frames centred (reflect-padded by ``n_fft // 2``).

    Shapes: ``waveform (*, T)`` → ``(*, n_mels, 1 + T // hop_length)``; ``hop_length`` defaults
    to 10 ms of samples. Differentiable; works on any device and floating dtype.
    """
    check_tensor("waveform", waveform, floating=True, where="log_mel_spectrogram")
    hop_length = hop_length or max(1, round(sample_rate / 100))
    if waveform.shape[-1] <= n_fft // 2:
        raise ValueError(f"log_mel_spectrogram: expected more than n_fft // 2 = {n_fft // 2} "
                         f"samples, got {waveform.shape[-1]}")
    batch_shape = waveform.shape[:-1]
    flat = waveform.reshape(-1, waveform.shape[-1])
    window = torch.hann_window(n_fft, dtype=waveform.dtype, device=waveform.device)
    spectrum = torch.stft(flat, n_fft, hop_length=hop_length, window=window, center=True,
                          pad_mode="reflect", return_complex=True)
    power = spectrum.real**2 + spectrum.imag**2  # (B, n_fft // 2 + 1, frames)
    filters = mel_filterbank(n_fft, n_mels, sample_rate, f_min=f_min, f_max=f_max)
    mel = torch.einsum("bft,fm->bmt", power, filters.to(power))
    return torch.log(mel + epsilon).reshape(*batch_shape, n_mels, mel.shape[-1])


def frames(length: int, hop_length: int) -> int:
    """Number of frames :func:`log_mel_spectrogram` makes from ``length`` samples."""
    return 1 + math.floor(length / hop_length)
