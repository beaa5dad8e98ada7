"""Log-mel spectrograms against a naive numpy DFT and a loop-built mel filterbank."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.data.audio import LogMelSpectrogram, frames, log_mel_spectrogram, mel_filterbank


def _naive_filterbank(n_fft, n_mels, sample_rate, f_min, f_max):
    def mel(f):
        return 2595 * math.log10(1 + f / 700)

    def hz(m):
        return 700 * (10 ** (m / 2595) - 1)

    low, high = mel(f_min), mel(f_max)
    points = [hz(low + (high - low) * k / (n_mels + 1)) for k in range(n_mels + 2)]
    bank = np.zeros((n_fft // 2 + 1, n_mels))
    for f in range(n_fft // 2 + 1):
        frequency = f * sample_rate / n_fft
        for m in range(n_mels):
            a, b, c = points[m], points[m + 1], points[m + 2]
            if a <= frequency <= b:
                bank[f, m] = (frequency - a) / (b - a)
            elif b < frequency <= c:
                bank[f, m] = (c - frequency) / (c - b)
    return bank


def _naive_log_mel(x, sample_rate, n_fft, hop, n_mels, f_min, epsilon, framing="centred"):
    if framing == "centred":
        padded = np.pad(x, n_fft // 2, mode="reflect")
        count = 1 + len(x) // hop
    else:   # frame t ends at sample t·hop: n_fft − 1 zeros before the start
        padded = np.pad(x, (n_fft - 1, 0))
        count = 1 + (len(x) - 1) // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    power = np.zeros((n_fft // 2 + 1, count))
    for t in range(count):
        segment = padded[t * hop:t * hop + n_fft] * window
        for f in range(n_fft // 2 + 1):
            coefficient = np.sum(segment * np.exp(-2j * np.pi * f * np.arange(n_fft) / n_fft))
            power[f, t] = abs(coefficient) ** 2
    bank = _naive_filterbank(n_fft, n_mels, sample_rate, f_min, sample_rate / 2)
    return np.log(bank.T @ power + epsilon)


def test_filterbank_matches_the_triangle_definition():
    ours = mel_filterbank(64, 10, 16000, f_min=20.0).numpy()
    np.testing.assert_allclose(ours, _naive_filterbank(64, 10, 16000, 20.0, 8000.0), atol=1e-6)


def test_log_mel_matches_a_naive_dft():
    x = np.random.default_rng(0).standard_normal(300)
    ours = log_mel_spectrogram(torch.from_numpy(x), 8000, n_fft=32, hop_length=10, n_mels=6)
    expected = _naive_log_mel(x, 8000, 32, 10, 6, 20.0, 1e-6)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_causal_log_mel_frames_end_at_their_own_hop_against_a_naive_dft():
    x = np.random.default_rng(1).standard_normal(301)
    ours = LogMelSpectrogram(8000, n_fft=32, hop_length=10, n_mels=6, framing="causal")(torch.from_numpy(x))
    expected = _naive_log_mel(x, 8000, 32, 10, 6, 20.0, 1e-6, framing="causal")
    assert ours.shape == (6, 31)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-6, atol=1e-6)
    # frame t reads nothing past sample t·hop
    changed = x.copy()
    changed[101:] = 0
    again = log_mel_spectrogram(torch.from_numpy(changed), 8000, n_fft=32, hop_length=10, n_mels=6, framing="causal")
    np.testing.assert_array_equal(again[:, :11].numpy(), ours[:, :11].numpy())


def test_log_mel_module_refuses_an_unknown_framing():
    with pytest.raises(ValueError, match="LogMelSpectrogram: argument 'framing' expected one of"):
        LogMelSpectrogram(8000, framing="ahead")


def test_log_mel_is_differentiable():
    x = torch.randn(2, 60, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda w: log_mel_spectrogram(w, 4000, n_fft=16, hop_length=8, n_mels=4, epsilon=1e-2),
        (x,))


@given(length=st.integers(33, 400), hop=st.integers(1, 50), batch=st.integers(0, 3),
       framing=st.sampled_from(["centred", "causal"]))
def test_output_shape_follows_the_frame_count(length, hop, batch, framing):
    # a batch of 0 included: torch.stft (MKL) refuses one, so the frames of no signal are built empty
    out = log_mel_spectrogram(torch.randn(batch, 1, length), 16000, n_fft=64, hop_length=hop,
                              n_mels=8, framing=framing)
    assert out.shape == (batch, 1, 8, frames(length, hop, framing))


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="expected more than n_fft // 2 = 256 samples, got 100"):
        log_mel_spectrogram(torch.randn(100), 16000)
    with pytest.raises(ValueError, match="f_min < f_max"):
        mel_filterbank(64, 4, 16000, f_min=9000.0)
    with pytest.raises(TypeError, match="floating-point"):
        log_mel_spectrogram(torch.ones(1000, dtype=torch.int64), 16000)
