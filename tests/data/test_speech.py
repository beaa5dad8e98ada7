"""espeak-ng synthesis, WAV reading and the cached word bank, with a fake espeak-ng."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from convrnn.data.speech import SAMPLE_RATE, PhraseBank, Voice, WordBank, read_wav, synthesize, trim_silence


def test_read_wav_returns_scaled_samples_and_averages_channels(tmp_path):
    path = tmp_path / "stereo.wav"
    pcm = np.array([[1000, 3000], [-32768, 32767]], dtype="<i2")
    with wave.open(str(path), "wb") as file:
        file.setnchannels(2)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(pcm.tobytes())
    samples, rate = read_wav(path)
    assert rate == 8000 and samples.dtype == np.float32
    np.testing.assert_allclose(samples, pcm.mean(axis=1) / 32768)


def test_trim_silence_keeps_the_loud_middle():
    samples = np.array([0, 1e-4, 0.5, 0, -0.2, 1e-5], dtype=np.float32)
    np.testing.assert_array_equal(trim_silence(samples), samples[2:5])
    assert trim_silence(np.zeros(4, np.float32)).size == 0


def test_synthesize_runs_espeak_with_voice_rate_and_pitch(fake_espeak):
    audio = synthesize("welcome", Voice("en-gb", "f2"), rate=150, pitch=30)
    assert audio.dtype == np.float32 and len(audio) in range(441 * 7 - 30, 441 * 7 + 1)
    assert 0.3 < np.abs(audio).max() < 0.4
    call = fake_espeak.read_text().split()
    assert call[call.index("-v") + 1] == "en-gb+f2" and call[call.index("-s") + 1] == "150"
    assert call[call.index("-p") + 1] == "30" and call[-1] == "welcome"


def test_missing_espeak_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="apt-get install espeak-ng"):
        synthesize("hello", Voice("en-us", "m1"))


def test_word_bank_synthesizes_every_combination_once_and_then_reads_the_cache(tmp_path,
                                                                                fake_espeak):
    voices = [Voice("en-us", "m1"), Voice("en-gb", "f1")]
    bank = WordBank(["well", "welcome"], voices, rates=(150,), pitches=(40, 60),
                    cache=tmp_path, progress=False)
    assert len(bank) == 8 and len(fake_espeak.read_text().splitlines()) == 8
    again = WordBank(["well", "welcome"], voices, rates=(150,), pitches=(40, 60),
                     cache=tmp_path, progress=False)
    assert len(fake_espeak.read_text().splitlines()) == 8  # nothing synthesized again
    for k in range(len(bank)):
        np.testing.assert_array_equal(again.audio(k), bank.audio(k))
    welcome = bank.select("welcome", [voices[1]])
    assert len(welcome) == 2 and all(bank.utterances[k].voice == voices[1] for k in welcome)
    assert np.abs(bank.audio(welcome[0])).max() > 0.3
    assert bank.utterances[welcome[0]].length in range(441 * 7 - 30, 441 * 7 + 1)
    assert SAMPLE_RATE == 22050


def test_phrase_bank_speaks_each_job_once_with_its_voice_rate_and_pitch_then_reads_the_cache(tmp_path, fake_espeak):
    jobs = [("three nine oh", Voice("en-us", "m1"), 150, 40), ("one", Voice("en-gb", "f1"), 200, 70)]
    bank = PhraseBank(jobs, cache=tmp_path, progress=False)
    calls = [line.split() for line in fake_espeak.read_text().splitlines()]
    assert len(bank) == 2 and len(calls) == 2
    for (text, voice, rate, pitch), utterance in zip(jobs, bank.utterances, strict=True):
        call = next(c for c in calls if c[c.index("--") + 1:] == text.split())
        assert call[call.index("-v") + 1] == voice.espeak_name and call[call.index("-s") + 1] == str(rate)
        assert call[call.index("-p") + 1] == str(pitch) and utterance.word == text and utterance.voice == voice
        assert utterance.length in range(441 * len(text) - 30, 441 * len(text) + 1)
    again = PhraseBank(jobs, cache=tmp_path, progress=False)
    assert len(fake_espeak.read_text().splitlines()) == 2   # nothing synthesized again
    np.testing.assert_array_equal(again.audio(0), bank.audio(0))
    assert PhraseBank(jobs[:1], cache=tmp_path, progress=False).directory != bank.directory
