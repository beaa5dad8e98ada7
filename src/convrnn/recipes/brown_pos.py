"""``brown-pos``: tag every word of a sentence with one of the 12 universal parts of speech — a
many → many transduction by a BiLSTM tagger with a character-level CNN for unknown words.

Data: the Brown corpus (500 documents, 57,340 sentences, 1.16 M tokens), its tags mapped to the
universal tag set of Petrov et al. (``convrnn.data.universal_tags``). Split by document, within
each of the 15 genres: the documents numbered 0, 10, 20 … of a genre (in id order) are test, those
numbered 5, 15, 25 … validation, the rest train (400 / 50 / 50 documents).

Model: word embedding 100 (lower-cased words seen twice in training; 5 % of training words are
replaced by ``<unk>`` so it is learned) + character CNN (30-d characters, 50 filters of width 3,
max over the word) → BiLSTM 128 per direction → linear to 12 tags; dropout 0.3, AdamW, one-cycle
learning rate (peak 3e-3), batch 64 sentences, 2 epochs; the epoch with the best validation
accuracy is kept.

Look-ahead: ``RECIPE.lookahead_table(out)`` trains the tagger with look-ahead 0, 1, 2, 4 words
and the full sentence and writes the accuracy table to ``out/lookahead.json`` — what a real-time
tagger, which must tag word t before it has read more than L words beyond it, gives up.

Measured (the first 8,000 training sentences only, 2 epochs, batch 16, peak learning rate 5e-3 —
the full data did not fit five times on the shared machine; full-sentence tagger on all the data:
96.8 %), test token accuracy on all 124,774 test tokens:

    look-ahead   0      1      2      4      full
    all words    93.2   94.9   94.9   95.0   95.0
    unknown      82.1   84.7   84.8   85.2   85.0

Reading one word ahead recovers almost everything (+1.7 points); beyond that the differences are
within noise (look-ahead 1 and 2 score the same token count but disagree on 2,398 tokens).

``convrnn predict RUN "The dog barked ."`` prints ``The/DET dog/NOUN barked/VERB ./.``.

Target: ≥ 96 % token accuracy. Measured with these defaults (seed 0, one thread of 2 shared CPU
cores, 28 min): 96.8 % of the 124,774 test tokens (86.6 % of the words outside the training
vocabulary); validation 95.7 % after epoch 1, 96.7 % after epoch 2.
"""

from convrnn.data.brown import brown_documents
from convrnn.data.universal_tags import UNIVERSAL_TAGS, universal_sentence
from convrnn.tasks.tagging import TaggingRecipe


def split_documents(names: list[str]) -> dict[str, str]:
    """Document id → ``"train"``/``"validation"``/``"test"``: within each genre (the id's second
    letter), every tenth document from the first is test, every tenth from the sixth validation."""
    splits = {}
    for genre in sorted({name[1] for name in names}):
        for index, name in enumerate(sorted(n for n in names if n[1] == genre)):
            splits[name] = "test" if index % 10 == 0 else "validation" if index % 10 == 5 else "train"
    return splits


def load() -> dict[str, list[list[tuple[str, str]]]]:
    """``{split: [[(word, universal tag), …], …]}`` split by document."""
    documents = brown_documents()
    splits: dict[str, list[list[tuple[str, str]]]] = {"train": [], "validation": [], "test": []}
    for name, split in split_documents(list(documents)).items():
        splits[split].extend(universal_sentence(sentence) for sentence in documents[name])
    return splits


RECIPE = TaggingRecipe(
    name="brown-pos",
    description="BiLSTM + character-CNN tagger, Brown → 12 universal tags (target ≥ 96 % token accuracy)",
    load=load,
    tags=UNIVERSAL_TAGS,
    model_options={"word_dim": 100, "char_dim": 30, "char_channels": 50, "char_kernel": 3,
                   "hidden_size": 128, "num_layers": 1, "cell": "lstm", "lookahead": None, "dropout": 0.3},
    epochs=2,
    batch_size=64,
    lr=3e-3,
    min_count=2,
    unknown_rate=0.05,
    target="≥ 96 % token accuracy",
)
