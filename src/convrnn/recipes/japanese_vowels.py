"""``japanese-vowels``: which of nine speakers said the Japanese vowels /ae/ — a many → one
classification of variable-length multichannel sequences.

Data: sktime's UEA JapaneseVowels — 270 training / 370 test utterances, each T = 7 … 29 frames of
12 LPC cepstrum coefficients; 3 training utterances per speaker are held out for model selection.
Channels are standardised with the training statistics. Model: bidirectional LSTM (64 units per
direction) over the unpadded frames (``lengths``), masked mean of its outputs over time, linear
layer to 9 speakers; dropout 0.2, AdamW (weight decay 1e-4), one-cycle learning rate (peak 3e-3),
batch 16, 60 epochs; the epoch with the lowest validation loss is kept.

Padding never changes a prediction: the recurrent engine masks every step past an utterance's
length and the mean divides by its own length (tested).

Target: ≥ 97 % test accuracy. Measured with these defaults (seed 0, one CPU thread, 30 s):
98.4 % (364 of 370 test utterances).
"""

from convrnn.data.series import japanese_vowels
from convrnn.tasks.sequence_classification import FeatureSequenceRecipe


def load() -> dict:
    """The train and test splits as ``(series (T_i, 12), labels)``."""
    return {"train": japanese_vowels("train"), "test": japanese_vowels("test")}


RECIPE = FeatureSequenceRecipe(
    name="japanese-vowels",
    description="BiLSTM over variable-length 12-channel utterances, 9 speakers (target ≥ 97 % test accuracy)",
    load=load,
    classes=tuple(f"speaker {k}" for k in range(1, 10)),
    model_options={"hidden_size": 64, "cell": "lstm", "bidirectional": True, "pooling": "mean", "dropout": 0.2},
    epochs=60,
    batch_size=16,
    lr=3e-3,
    target="≥ 97 % test accuracy",
)
