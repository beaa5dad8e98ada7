"""word2vec: vocabulary and sampling, the Huffman tree of hierarchical softmax, the model and its
training loop (compiled or PyTorch), queries (nearest words, analogies), evaluation (analogies,
word similarity), word2vec file formats, and the transfer of trained vectors into an
``nn.Embedding``."""

from convrnn.models.word2vec.evaluation import (
    AnalogyResult,
    SimilarityResult,
    evaluate_analogies,
    evaluate_benchmarks,
    evaluate_word_pairs,
)
from convrnn.models.word2vec.formats import load_word2vec_format, save_word2vec_format
from convrnn.models.word2vec.huffman import HuffmanTree
from convrnn.models.word2vec.queries import WordVectors
from convrnn.models.word2vec.training import ARCHITECTURES, TrainingReport, Word2Vec, Word2VecSettings, train_word2vec
from convrnn.models.word2vec.transfer import embedding_from_vectors
from convrnn.models.word2vec.vocabulary import WordVocabulary

__all__ = [
    "ARCHITECTURES",
    "AnalogyResult",
    "HuffmanTree",
    "SimilarityResult",
    "TrainingReport",
    "Word2Vec",
    "Word2VecSettings",
    "WordVectors",
    "WordVocabulary",
    "embedding_from_vectors",
    "evaluate_analogies",
    "evaluate_benchmarks",
    "evaluate_word_pairs",
    "load_word2vec_format",
    "save_word2vec_format",
    "train_word2vec",
]
