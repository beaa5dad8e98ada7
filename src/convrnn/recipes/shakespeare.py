"""``shakespeare``: a character-level LSTM language model on the works of Shakespeare.

Data: the 42 works of the ``shakespeare`` package (modern spelling, ≈ 5 M characters). Whole
plays are held out: *Julius Caesar* for validation (model selection, learning-rate halving),
*Macbeth* and *Twelfth Night* (a tragedy and a comedy) for test; the other 39 works train.
Each work is followed by ``<eos>``, so an empty prompt samples the start of a new work.
Model: embedding 64 → 2-layer LSTM 512 → linear over the ≈ 85 characters (+ 4 special tokens).
Training: truncated BPTT over 64 parallel rows, windows of 100 characters, Adam 2e-3 halved
whenever the validation loss stops falling (checked 8 times per pass), gradient norm ≤ 5,
stopped by a 30-minute time limit (or after 3 passes).

Target: ≤ 1.50 nats/char (≤ 2.16 bits/char) on the held-out plays, trained within 30 minutes on
2 CPU cores. Reached: see the README table and ``scores.json`` of a run.
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
    hidden_size=512,
    num_layers=2,
    epochs=3,
    batch_size=64,
    steps=100,
    lr=2e-3,
    optimizer="adam",
    schedule="plateau",
    clip_grad_norm=5.0,
    evaluations_per_pass=8,
    time_limit=30.0,
    target="≤ 1.50 nats/char on held-out plays in 30 minutes on 2 cores",
)
