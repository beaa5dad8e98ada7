"""``shakespeare``: a character-level LSTM language model on the works of Shakespeare.

Data: the 42 works of the ``shakespeare`` package (modern spelling, ≈ 5 M characters). Whole
plays are held out: *Julius Caesar* for validation (model selection), *Macbeth* and *Twelfth
Night* (a tragedy and a comedy, 218k characters) for test; the other 39 works (4.72 M
characters) train. Each work is followed by ``<eos>``, so an empty prompt samples the start of
a new work.
Model: embedding 64 → 2-layer LSTM 384 → linear over the 85 characters (+ 4 special tokens).
Training: truncated BPTT over 64 parallel rows, windows of 50 characters, Adam 2e-3 with a
cosine decay to 0 over 3 passes (validated 4 times per pass), gradient norm ≤ 5, and a
30-minute time limit as a guard.

Why these settings: on 2 cores (taskset, idle machine) a training step runs at 6 700 characters/s
for LSTM 512, 11 000 for 384 and 25 000 for 256, so the budget buys 2 passes of the 512 model or
3 of the 384 one (≈ 22 minutes). Measured with the same code on a GPU (seed 0, test = the two
held-out plays, validation = *Julius Caesar*):

    ====================================  ==============  ==============
    model, passes, window                 validation      test
    ====================================  ==============  ==============
    LSTM 512, 2 passes, 100 characters    1.447           1.555
    LSTM 384, 3 passes, 100 characters    1.457           1.558
    LSTM 384, 4 passes, 100 characters    1.396           1.510
    LSTM 512, 2 passes, 50 characters     1.387           1.511
    LSTM 384, 3 passes, 50 characters     1.363           **1.477**
    LSTM 512, 3 passes, 100 characters    1.361           1.476  (≈ 35 min on 2 cores)
    ====================================  ==============  ==============

The model is limited by the number of optimizer steps, not by its size: halving the window
doubles the updates for the same characters and is worth more than a wider LSTM.

Target: ≤ 1.50 nats/char (≤ 2.16 bits/char) on the held-out plays, trained within 30 minutes on
2 CPU cores. Reached with these defaults on 2 CPU cores (seed 0, torch 2.13.0, 20 min 1 s, the
first 5 minutes shared with other work; 13 400–13 900 characters/s once idle): **1.477 nats/char
(2.13 bits/char)** on the test plays, 1.360 on the validation play. The same code on a GPU: 1.477
and 1.481 on the test plays (66–106 s).
"""

from convrnn.data import shakespeare_works
from convrnn.functional._checks import check_choice
from convrnn.training.lm_recipe import LanguageModelRecipe

VALIDATION_WORKS = ("julius_caesar",)
TEST_WORKS = ("macbeth", "twelfth_night")


def shakespeare_corpus(split: str) -> list[str]:
    """The works of ``split``: every work but the held-out plays for ``"train"``."""
    check_choice("split", split, ("train", "validation", "test"), where="shakespeare")
    works = shakespeare_works()
    if split == "train":
        return [text for name, text in works.items() if name not in VALIDATION_WORKS + TEST_WORKS]
    return [works[name] for name in (VALIDATION_WORKS if split == "validation" else TEST_WORKS)]


RECIPE = LanguageModelRecipe(
    name="shakespeare",
    description="character LSTM language model on Shakespeare (target ≤ 1.50 nats/char on held-out plays)",
    corpus=shakespeare_corpus,
    tokenizer="chars",
    unknown="error",
    embedding_size=64,
    hidden_size=384,
    num_layers=2,
    epochs=3,
    batch_size=64,
    steps=50,
    lr=2e-3,
    optimizer="adam",
    schedule="cosine",
    clip_grad_norm=5.0,
    evaluations_per_pass=4,
    time_limit=30.0,
    target="≤ 1.50 nats/char on held-out plays in 30 minutes on 2 cores",
)
