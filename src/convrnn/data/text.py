"""Text → tokens → integer ids and back: character and word tokenizers, and a vocabulary with
special tokens that is saved (as JSON) with the model, so a checkpoint is self-contained.

    tokenizer = WordTokenizer(lowercase=True)
    vocabulary = Vocabulary.build(tokenizer.tokenize(text) for text in corpus, min_count=2)
    ids = vocabulary.encode(tokenizer.tokenize("The cat sat."), add_eos=True)
    tokenizer.detokenize(vocabulary.decode(ids))        # "the cat sat ."
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from convrnn.functional._checks import check_choice

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
"""The special tokens, with ids 0, 1, 2, 3 in every :class:`Vocabulary`: padding (never a target),
unknown (a token outside the vocabulary), beginning and end of a sequence/document."""

# A word is a run of letters/digits, possibly joined by inner apostrophes or hyphens ("don't",
# "well-known"); every other non-space character is a token of its own (punctuation).
_WORD = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
WORD_SPLITS = ("words", "whitespace")


class CharTokenizer:
    """One token per Unicode character (code point); ``detokenize`` is ``"".join``, so
    ``detokenize(tokenize(text)) == text`` for every string."""

    kind = "chars"

    def tokenize(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.tokenize: argument 'text' expected a str, got {type(text).__name__}")
        return list(text)

    def detokenize(self, tokens: Iterable[str]) -> str:
        return "".join(tokens)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def __repr__(self) -> str:
        return "CharTokenizer()"


class WordTokenizer:
    """Words and punctuation marks, after a documented normalisation.

    Normalisation: Unicode NFKC (compatibility forms such as ligatures and full-width letters
    become their plain letters), then lower case if ``lowercase``. Splitting:

    - ``split="words"``: a token is a run of letters/digits/underscores that may contain inner
      apostrophes or hyphens (``don't``, ``well-known``), or any single other non-space
      character (``.``, ``,``, ``"``…). Whitespace only separates tokens.
    - ``split="whitespace"``: tokens are the whitespace-separated pieces, for text that is
      already tokenized (the Penn Treebank, whose rare words are the literal ``<unk>``).

    ``detokenize`` joins with single spaces, so the round trip
    ``tokenize(detokenize(tokenize(text))) == tokenize(text)`` holds (spacing is not kept).
    """

    kind = "words"

    def __init__(self, lowercase: bool = False, split: str = "words") -> None:
        self.lowercase = bool(lowercase)
        self.split = check_choice("split", split, WORD_SPLITS, where="WordTokenizer")

    def normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        return text.lower() if self.lowercase else text

    def tokenize(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"WordTokenizer.tokenize: argument 'text' expected a str, got {type(text).__name__}")
        text = self.normalize(text)
        return text.split() if self.split == "whitespace" else _WORD.findall(text)

    def detokenize(self, tokens: Iterable[str]) -> str:
        return " ".join(tokens)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "lowercase": self.lowercase, "split": self.split}

    def __repr__(self) -> str:
        return f"WordTokenizer(lowercase={self.lowercase}, split={self.split!r})"


Tokenizer = CharTokenizer | WordTokenizer


def tokenizer_from_json(document: dict[str, Any]) -> Tokenizer:
    """Rebuild the tokenizer that ``tokenizer.to_json()`` described."""
    kind = check_choice("kind", document.get("kind"), ("chars", "words"), where="tokenizer_from_json")
    if kind == "chars":
        return CharTokenizer()
    return WordTokenizer(lowercase=document.get("lowercase", False), split=document.get("split", "words"))


class Vocabulary:
    """A bijection between tokens and ids 0 … V−1; ids 0–3 are ``<pad>``, ``<unk>``, ``<bos>``,
    ``<eos>`` (:data:`SPECIALS`), the corpus tokens follow.

    Build one with :meth:`build`; save it with :meth:`to_json` (a plain dict, e.g. inside a
    model's config) and restore it with :meth:`from_json`. A corpus token spelled like a special
    token (the Penn Treebank's literal ``<unk>``) *is* that special token.
    """

    pad_index, unk_index, bos_index, eos_index = 0, 1, 2, 3

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"Vocabulary: argument 'tokens' expected to start with {list(SPECIALS)}, "
                             f"got {tokens[: len(SPECIALS)]}")
        if not all(isinstance(token, str) for token in tokens):
            raise TypeError("Vocabulary: argument 'tokens' expected strings only")
        self._tokens = tokens
        self._index = {token: i for i, token in enumerate(tokens)}
        if len(self._index) != len(tokens):
            repeated = sorted(token for token, count in Counter(tokens).items() if count > 1)
            raise ValueError(f"Vocabulary: argument 'tokens' expected distinct tokens, got repeats {repeated[:5]}")

    @classmethod
    def build(cls, corpus: Iterable[Iterable[str]], *, min_count: int = 1,
              max_size: int | None = None) -> Vocabulary:
        """The vocabulary of a tokenized corpus (an iterable of token sequences).

        Keeps tokens seen at least ``min_count`` times, the most frequent first (ties in order of
        first appearance), at most ``max_size`` ids in all (specials included); every other token
        will encode as ``<unk>``.
        """
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"Vocabulary.build: argument 'min_count' expected an int ≥ 1, got {min_count!r}")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                     or max_size < len(SPECIALS)):
            raise ValueError(f"Vocabulary.build: argument 'max_size' expected None or an int ≥ "
                             f"{len(SPECIALS)} (the special tokens), got {max_size!r}")
        if isinstance(corpus, str):
            raise TypeError("Vocabulary.build: argument 'corpus' expected an iterable of token sequences, "
                            "got a str (tokenize it first, e.g. [tokenizer.tokenize(text)])")
        counts: Counter[str] = Counter()
        for tokens in corpus:
            counts.update(tokens)
        # Counter.most_common is stable: equal counts keep their order of first appearance
        kept = [token for token, count in counts.most_common() if count >= min_count and token not in SPECIALS]
        if max_size is not None:
            kept = kept[: max_size - len(SPECIALS)]
        return cls([*SPECIALS, *kept])

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._tokens == other._tokens

    def __hash__(self) -> int:
        return hash(tuple(self._tokens))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens: {self._tokens[len(SPECIALS):len(SPECIALS) + 8]}…)"

    @property
    def tokens(self) -> list[str]:
        """Every token, in id order."""
        return list(self._tokens)

    def index(self, token: str) -> int:
        """The id of ``token``, ``<unk>``'s id if it is not in the vocabulary."""
        return self._index.get(token, self.unk_index)

    def encode(self, tokens: Iterable[str], *, add_bos: bool = False, add_eos: bool = False,
               unknown: str = "map") -> list[int]:
        """Ids of ``tokens``, optionally framed by ``<bos>`` … ``<eos>``.

        ``unknown="map"`` turns an out-of-vocabulary token into ``<unk>``; ``unknown="error"``
        raises ``ValueError`` naming the unknown tokens instead.
        """
        check_choice("unknown", unknown, ("map", "error"), where="Vocabulary.encode")
        tokens = list(tokens)
        if unknown == "error":
            missing = sorted({token for token in tokens if token not in self._index})
            if missing:
                raise ValueError(f"Vocabulary.encode: {len(missing)} token(s) outside the vocabulary of "
                                 f"{len(self)}: {', '.join(repr(token) for token in missing[:10])}")
        ids = [self._index.get(token, self.unk_index) for token in tokens]
        return [self.bos_index] * add_bos + ids + [self.eos_index] * add_eos

    def decode(self, ids: Iterable[int], *, skip_special: bool = False) -> list[str]:
        """Tokens of ``ids`` (ints or a 1-d integer tensor); ``skip_special`` drops ``<pad>``,
        ``<bos>`` and ``<eos>`` (``<unk>`` stays: it stands for a real token)."""
        tokens = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self._tokens):
                raise ValueError(f"Vocabulary.decode: expected ids in [0, {len(self) - 1}], got {i}")
            if skip_special and i in (self.pad_index, self.bos_index, self.eos_index):
                continue
            tokens.append(self._tokens[i])
        return tokens

    def to_json(self) -> dict[str, Any]:
        """``{"tokens": [...]}``: JSON-serialisable, restored by :meth:`from_json`."""
        return {"tokens": list(self._tokens)}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Vocabulary:
        if not isinstance(document, dict) or not isinstance(document.get("tokens"), list):
            raise ValueError(f"Vocabulary.from_json: expected a dict {{'tokens': [...]}}, got {type(document).__name__}"
                             + (f" with keys {sorted(document)}" if isinstance(document, dict) else ""))
        return cls(document["tokens"])


__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "SPECIALS",
    "UNK",
    "CharTokenizer",
    "Tokenizer",
    "Vocabulary",
    "WordTokenizer",
    "tokenizer_from_json",
]
