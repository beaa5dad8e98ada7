"""Grapheme-to-phoneme data: CMUdict words → (letters, phonemes) pairs, a deterministic split by
word, vocabularies and padded, length-bucketed batches for an encoder–decoder.

    lexicon = g2p_lexicon()                          # {"cat": [("K", "AE", "T")], …}
    splits = split_by_word(lexicon)                  # {"train": [...], "validation": [...], "test": [...]}
    graphemes, phonemes = build_vocabularies(splits["train"])
    loader = g2p_loader(encode_pairs(splits["train"], graphemes, phonemes), batch_size=256)
    # batch: {"inputs": (N, S), "lengths": (N,), "decoder_inputs": (N, T), "targets": (N, T)}

Letters: N batch, S the longest word (letters) in the batch, T the longest pronunciation + 1.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from torch import Tensor
from torch.utils.data import DataLoader

from convrnn.data.batching import IGNORE_INDEX, LengthBucketSampler, pad_sequences
from convrnn.data.lexicons import cmudict
from convrnn.data.text import Vocabulary
from convrnn.functional._checks import check_int

Pronunciation = tuple[str, ...]
Entry = tuple[str, list[Pronunciation]]  # a word and every pronunciation of it
_STRESS = re.compile(r"\d$")
SPLITS = ("train", "validation", "test")


def strip_stress(phonemes: Iterable[str]) -> Pronunciation:
    """ARPAbet without stress digits: ``("K", "AE1", "T") → ("K", "AE", "T")`` (39 phonemes)."""
    return tuple(_STRESS.sub("", phoneme) for phoneme in phonemes)


def g2p_lexicon(lexicon: Mapping[str, Sequence[Sequence[str]]] | None = None, *, stress: bool = False,
                cache: str | os.PathLike[str] | None = None) -> dict[str, list[Pronunciation]]:
    """``{word: [pronunciation, …]}`` from CMUdict (or the given ``{word: [[phoneme, …], …]}``),
    words lower-cased, stress digits removed unless ``stress``, and pronunciations that become
    equal merged (first occurrence order kept)."""
    lexicon = cmudict(cache=cache) if lexicon is None else lexicon
    if not isinstance(lexicon, Mapping):
        raise TypeError(f"g2p_lexicon: argument 'lexicon' expected a mapping word → pronunciations, "
                        f"got {type(lexicon).__name__}")
    result: dict[str, list[Pronunciation]] = {}
    for word, variants in lexicon.items():
        kept = result.setdefault(word.lower(), [])
        for phonemes in variants:
            pronunciation = tuple(phonemes) if stress else strip_stress(phonemes)
            if not pronunciation:
                raise ValueError(f"g2p_lexicon: word {word!r} has an empty pronunciation")
            if pronunciation not in kept:
                kept.append(pronunciation)
    return result


def word_bucket(word: str) -> float:
    """A number in [0, 1) fixed by the word alone (the first 8 bytes of its SHA-256), so a word's
    split never depends on the dictionary's order, size or version, nor on a random seed."""
    return int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "big") / 2.0**64


def split_by_word(lexicon: Mapping[str, Sequence[Pronunciation]], *, test_fraction: float = 0.1,
                  validation_fraction: float = 0.03) -> dict[str, list[Entry]]:
    """Split words (never pronunciations of one word) into train / validation / test.

    A word is test if :func:`word_bucket` < ``test_fraction``, validation if it is below
    ``test_fraction + validation_fraction``, train otherwise; all of a word's pronunciations go
    with it. Each split is sorted by word.
    """
    for name, value in (("test_fraction", test_fraction), ("validation_fraction", validation_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
            raise ValueError(f"split_by_word: argument '{name}' expected a fraction in [0, 1), got {value!r}")
    if test_fraction + validation_fraction >= 1.0:
        raise ValueError(f"split_by_word: arguments 'test_fraction' + 'validation_fraction' expected < 1, "
                         f"got {test_fraction} + {validation_fraction}")
    splits: dict[str, list[Entry]] = {name: [] for name in SPLITS}
    for word in sorted(lexicon):
        bucket = word_bucket(word)
        name = "test" if bucket < test_fraction else \
            "validation" if bucket < test_fraction + validation_fraction else "train"
        splits[name].append((word, [tuple(p) for p in lexicon[word]]))
    return splits


def build_vocabularies(entries: Sequence[Entry]) -> tuple[Vocabulary, Vocabulary]:
    """(graphemes, phonemes): the letters and the phonemes of ``entries``, after the special
    tokens ``<pad>``, ``<unk>``, ``<bos>``, ``<eos>`` (ids 0–3)."""
    if not entries:
        raise ValueError("build_vocabularies: argument 'entries' expected at least one (word, pronunciations)")
    graphemes = Vocabulary.build(list(word) for word, _ in entries)
    phonemes = Vocabulary.build(p for _, variants in entries for p in variants)
    return graphemes, phonemes


def encode_word(word: str, graphemes: Vocabulary) -> list[int]:
    """Letter ids of a (lower-cased) word; a letter outside the vocabulary raises ValueError."""
    if not isinstance(word, str) or not word:
        raise ValueError(f"encode_word: argument 'word' expected a non-empty str, got {word!r}")
    try:
        return graphemes.encode(list(word.lower()), unknown="error")
    except ValueError as error:
        raise ValueError(f"encode_word: argument 'word' {word!r} holds letters the model never saw: "
                         f"{error}") from None


def encode_pairs(entries: Sequence[Entry], graphemes: Vocabulary,
                 phonemes: Vocabulary) -> list[tuple[list[int], list[int]]]:
    """One (letter ids, phoneme ids) example per pronunciation: a word with two pronunciations
    is two training examples."""
    return [(encode_word(word, graphemes), phonemes.encode(variant))
            for word, variants in entries for variant in variants]


class G2PCollate:
    """``collate_fn`` for (letter ids, phoneme ids) examples → an encoder–decoder batch:

    ``inputs`` (N, S) letters padded with 0 and ``lengths`` (N,); ``decoder_inputs`` (N, T) =
    ``<bos>`` y_1 … y_n (padded with 0); ``targets`` (N, T) = y_1 … y_n ``<eos>`` padded with
    ``IGNORE_INDEX`` (−100), which the cross-entropy skips.
    """

    def __init__(self, bos_index: int = Vocabulary.bos_index, eos_index: int = Vocabulary.eos_index) -> None:
        check_int("bos_index", bos_index, minimum=0, where="G2PCollate")
        check_int("eos_index", eos_index, minimum=0, where="G2PCollate")
        self.bos_index, self.eos_index = bos_index, eos_index

    def __call__(self, examples: Sequence[tuple[Sequence[int], Sequence[int]]]) -> dict[str, Tensor]:
        if not examples or not all(isinstance(e, tuple | list) and len(e) == 2 for e in examples):
            raise ValueError("G2PCollate: expected a non-empty batch of (letter ids, phoneme ids) pairs")
        sources, targets = zip(*examples, strict=True)
        inputs, lengths = pad_sequences(list(sources))
        decoder_inputs, _ = pad_sequences([[self.bos_index, *t] for t in targets])
        shifted, _ = pad_sequences([[*t, self.eos_index] for t in targets], padding_value=IGNORE_INDEX)
        return {"inputs": inputs, "lengths": lengths, "decoder_inputs": decoder_inputs, "targets": shifted}


def g2p_loader(examples: Sequence[tuple[Sequence[int], Sequence[int]]], batch_size: int, *,
               shuffle: bool = True, seed: int = 0, **loader_options: Any) -> DataLoader[Any]:
    """Batches of words of similar length (:class:`LengthBucketSampler`), collated by
    :class:`G2PCollate`; ``shuffle=False`` sorts by length (deterministic evaluation)."""
    lengths = [len(source) for source, _ in examples]
    sampler = LengthBucketSampler(lengths, batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(list(examples), batch_sampler=sampler, collate_fn=G2PCollate(), **loader_options)


def word_batches(words: Sequence[str], graphemes: Vocabulary, batch_size: int) -> Iterable[tuple[list[int], Tensor,
                                                                                                 Tensor]]:
    """For decoding: (positions in ``words``, inputs (N, S), lengths (N,)) batches of words of
    similar length, in order of length."""
    encoded = [encode_word(word, graphemes) for word in words]
    order = sorted(range(len(words)), key=lambda i: len(encoded[i]))
    for start in range(0, len(order), batch_size):
        chosen = order[start:start + batch_size]
        inputs, lengths = pad_sequences([encoded[i] for i in chosen])
        yield chosen, inputs, lengths


__all__ = [
    "SPLITS",
    "Entry",
    "G2PCollate",
    "Pronunciation",
    "build_vocabularies",
    "encode_pairs",
    "encode_word",
    "g2p_lexicon",
    "g2p_loader",
    "split_by_word",
    "strip_stress",
    "word_batches",
    "word_bucket",
]
