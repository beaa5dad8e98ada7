"""The log-mel front end streams frame by frame (centred with its look-ahead, causal with none), the
running normalisation with its statistics carried; the clip normalisation is not causal and says so."""

import pytest
import torch

import convrnn
from convrnn.data.audio import LogMelSpectrogram
from convrnn.layers import ClipNorm, RunningNorm
from convrnn.stream import NotCausalError

from .conftest import run_stream


@pytest.mark.parametrize("framing", ["centred", "causal"])
@pytest.mark.parametrize("sizes", [[1, 50, 7], [160], [333], [2000]])
def test_log_mel_streams_equal_to_offline(framing, sizes):
    mel = LogMelSpectrogram(8000, n_fft=256, hop_length=80, n_mels=16, framing=framing)
    wave = torch.randn(2, 1700, dtype=torch.float64)
    stream, y = run_stream(mel, wave, sizes, -1)
    torch.testing.assert_close(y, mel(wave), rtol=0, atol=1e-10)
    assert stream.latency == (256 - 1 - 128 if framing == "centred" else 0)
    assert stream.output_step == 80


def test_causal_frame_ends_at_its_own_hop():
    mel = LogMelSpectrogram(8000, n_fft=64, hop_length=16, n_mels=8, framing="causal")
    wave = torch.randn(1, 400, dtype=torch.float64)
    stream = convrnn.stream(mel)
    counts = [stream.push(wave[:, i:i + 16]).shape[-1] for i in range(0, 400, 16)]
    assert counts == [1] * 25    # one frame per hop, at once


@pytest.mark.parametrize("tau", [None, 4.0])
def test_running_norm_streams_equal_to_offline(tau):
    norm = RunningNorm(tau)
    x = torch.randn(2, 5, 30, dtype=torch.float64)
    torch.testing.assert_close(run_stream(norm, x, [1, 4], -1)[1], norm(x), rtol=0, atol=1e-10)


def test_clip_norm_is_refused_as_not_causal_naming_its_variant():
    with pytest.raises(NotCausalError, match=r"ClipNorm.*not causal.*RunningNorm"):
        convrnn.stream(ClipNorm())


def test_clip_norm_approximated_on_request_is_reported():
    stream = convrnn.stream(ClipNorm(), approximate=True)
    assert stream.approximations == ["ClipNorm: ClipNorm approximated by running statistics (not equal to offline)"]
    x = torch.randn(1, 2, 10, dtype=torch.float64)
    torch.testing.assert_close(stream.push(x), RunningNorm()(x))
