"""SpeechRecognizer: steps per frame, an utterance recognised the same alone and in a padded batch,
and bad input refused in one line."""

import pytest
import torch

from convrnn.models import SpeechRecognizer, build_model

OPTIONS = {"sample_rate": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 16, "channels": (4, 8), "hidden": 8,
           "layers": 1}


def test_one_step_per_four_causal_frames():
    model = SpeechRecognizer(**OPTIONS).eval()
    for samples in (241, 320, 321, 4000):
        log_probs, steps = model(torch.randn(2, 1, samples))
        frames = 1 + (samples - 1) // 80
        assert log_probs.shape == (2, frames // 4, 12) and steps.tolist() == [frames // 4] * 2
        torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, frames // 4))
    assert model.least_samples == 241


def test_an_utterance_alone_equals_itself_zero_padded_in_a_batch():
    torch.manual_seed(0)
    model = SpeechRecognizer(**OPTIONS).eval()
    lengths = [2000, 931, 1500]
    batch = torch.zeros(3, 1, 2000)
    for n, length in enumerate(lengths):
        batch[n, 0, :length] = torch.randn(length)
    with torch.no_grad():
        together, steps = model(batch, torch.tensor(lengths))
        for n, length in enumerate(lengths):
            alone, alone_steps = model(batch[n:n + 1, :, :length])
            assert steps[n] == alone_steps[0]
            torch.testing.assert_close(together[n, :steps[n]], alone[0], rtol=1e-5, atol=1e-5)


def test_registered_and_bad_input_refused_in_one_line():
    model, shape = build_model("speech-recognizer")
    assert isinstance(model, SpeechRecognizer) and shape == (1, 22_050)
    small = SpeechRecognizer(**OPTIONS)
    with pytest.raises(ValueError, match=r"SpeechRecognizer: argument 'waveform' expected \(N, 1, T\), got shape"):
        small(torch.zeros(1, 2, 400))
    with pytest.raises(ValueError, match="expected at least 241 samples \\(30 ms\\), got 100"):
        small(torch.zeros(1, 1, 100))
    with pytest.raises(ValueError, match=r"argument 'lengths' expected 2 sample counts in \[241, 400\], got \[400, 9\]"):
        small(torch.zeros(2, 1, 400), torch.tensor([400, 9]))
    with pytest.raises(ValueError, match="CRNN: argument 'height' expected a multiple of 2\\^2"):
        SpeechRecognizer(**{**OPTIONS, "n_mels": 18})
