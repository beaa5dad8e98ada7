"""``spoken-digits``: recognise spoken digit strings ("three nine oh one") end to end — log-mel
features, a CNN front end, a BiLSTM and CTC (seed 003's first example problem, speech recognition).

Data: :class:`convrnn.data.spoken_digits.SpokenDigits`, synthesized with espeak-ng (no recorded
speech is reachable from the package registries), fixed by data seed 0. Strings of 1–7 words from
"zero" … "nine" and "oh". 12,000 training utterances by 40 voices (4 accents × 10 timbres): half
spoken whole by espeak-ng (rate 120–230 words/min, pitch 20–80), half composed from single words
(rates 130/175/220, pitches 35/65) with gaps of −40…250 ms; every utterance sped up or slowed down
by up to 10 %, 50–300 ms of silence around it, white noise at 0–40 dB SNR. Validation: 300 whole
utterances by 4 other voices. Test: 1,000 whole utterances by 6 voices of accents and timbres never
heard in training (en-029, en-gb-x-gbcwmd × m7, f5, klatt), scored clean and at 20 and 10 dB SNR.

Model: :class:`convrnn.models.SpeechRecognizer` — log-mel (32 bands, 10 ms hop, causal frames) →
per-band normalisation over the utterance → 3 × [conv 3×3 → batch norm → ReLU → max-pool] with 16,
32, 32 channels (the first two also halve time: one step per 40 ms) → BiLSTM 2 × 96 units per
direction with lengths, dropout 0.2 → CTC head over blank + 11 words. CTC loss, AdamW (weight decay
1e-4), one-cycle learning rate (max 3e-3), batch 32 (similar lengths bucketed together), gradient
norm clipped at 5, 6 epochs. Greedy (best-path) and prefix-beam (width 8) decoding.

Target: word error rate ≤ 5 % on the held-out voices at 20 dB SNR (also reported: clean, 10 dB, and
the share of strings recognised exactly).

Cost: synthesizing the speech once (12,000 + 300 + 1,000 utterances: 7,300 phrases and 2,640 single
words) took 20 min on the 2-core machine shared with other jobs. Training was sized by a measurement
under that load (a batch of 32 utterances, forward and backward, ≈ 3 s with 1 thread at a load
average of 24) and an estimate for the idle machine (≈ 0.4 s a batch: ≈ 3 min an epoch); measured
later: ≈ 70 s an epoch on the idle machine with 2 threads. Reached (seed 0, held-out voices): word
error rate 4.3 % at 20 dB (prefix beam 4.2 %), 85.1 % of strings exact; 8.1 % at 10 dB; 6.8 % clean —
worse than at 20 dB, since every training utterance carries noise and a clean one's digital silence
is never seen.
"""

from convrnn.tasks.speech import SpeechRecipe

RECIPE = SpeechRecipe(
    name="spoken-digits",
    description="recognise spoken digit strings: log-mel → CNN → BiLSTM → CTC, held-out voices",
    target="word error rate ≤ 5 % on held-out voices at 20 dB SNR",
    sizes={"train": 12_000, "validation": 300, "test": 1_000},
    model_options={"n_mels": 32, "channels": (16, 32, 32), "width_pools": 2, "hidden": 96, "layers": 2,
                   "dropout": 0.2},
    epochs=6,
    batch_size=32,
    lr=3e-3,
)
