"""Brown corpus tags → the 12 universal part-of-speech tags of Petrov, Das & McDonald (2012).

The universal tag set: NOUN VERB ADJ ADV PRON DET ADP NUM CONJ PRT ``.`` (punctuation) X (other:
foreign words, interjections, unclassifiable). A raw Brown tag is a base tag decorated in four
ways, undone in this order by :func:`universal_tag`:

1. Suffixes ``-HL`` (headline), ``-TL`` (title), ``-NC`` (cited word), in any combination, and
   their truncated spellings ``-T``/``-N`` that occur a few times in the corpus — dropped;
   ``NN-TL-HL`` is a NOUN.
2. The prefix ``FW-`` marks a foreign word (``FW-NN``, ``FW-IN+AT``) — always X, whatever
   follows, as in Petrov et al.'s own Brown mapping.
3. ``+`` joins the tags of a contraction (``PPS+BEZ`` "it's", ``MD*+HV`` …); a token gets one
   tag, and we give it that of its first part, the word the contraction is built on
   (``PPS+BEZ`` → PRON, ``VBG+TO`` "gonna" → VERB).
4. ``*`` marks negation: alone it is the word "not"/"n't" (→ ADV, as Penn's RB ``not``);
   attached (``BEZ*`` "isn't", ``MD*`` "can't") it is dropped and the verb stays a VERB. A
   trailing ``$`` marks a possessive (``NN$``, ``NP$``) and is dropped when the tag with it has
   no entry of its own (``PP$`` and ``WP$`` do).

The base tags' mapping follows Petrov et al.'s Penn Treebank mapping where Brown and Penn
correspond (pre-quantifiers ``ABN``/``ABX`` like Penn's PDT → DET, subordinating ``CS`` like
Penn's IN → ADP, ordinals ``OD`` → ADJ, ``EX`` → DET, ``UH`` → X).
"""

from __future__ import annotations

import re

UNIVERSAL_TAGS = ("NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".", "X")

_GROUPS = {
    "NOUN": "NN NNS NP NPS NR NRS",
    "VERB": "VB VBD VBG VBN VBZ BE BED BEDZ BEG BEM BEN BER BEZ DO DOD DOZ HV HVD HVG HVN HVZ MD",
    "ADJ": "JJ JJR JJS JJT AP OD",
    "ADV": "RB RBR RBT RN QL QLP WQL WRB ABL *",
    "PRON": "PN PP$ PP$$ PPL PPLS PPO PPS PPSS WP$ WPO WPS",
    "DET": "AT ABN ABX DT DTI DTS DTX WDT EX",
    "ADP": "IN CS",
    "NUM": "CD",
    "CONJ": "CC",
    "PRT": "RP TO",
    ".": ". , : ; ( ) -- ' '' ` `` !",
    "X": "UH NIL",
}

BROWN_BASE_TAGS: dict[str, str] = {tag: universal for universal, tags in _GROUPS.items()
                                   for tag in tags.split()}

_DECORATION = re.compile(r"(?:-(?:HL|TL|NC|T|N))+$")


def universal_tag(tag: str) -> str:
    """The universal tag of a raw Brown tag (either case), e.g. ``"nn-tl"`` → ``"NOUN"``.

    Raises ``ValueError`` naming the tag when its base tag is not a Brown tag.
    """
    if not isinstance(tag, str):
        raise TypeError(f"universal_tag: argument 'tag' expected a str, got {type(tag).__name__}")
    raw = tag
    tag = tag.upper()
    # "---HL" is the dash "--" in a headline: strip decorations but never the whole tag.
    stripped = _DECORATION.sub("", tag)
    tag = stripped or tag
    if tag.startswith("FW-"):
        return "X"
    parts = tag.split("+")
    first = parts[0] if all(parts) else ""
    if first != "*":
        first = first.rstrip("*") or first
    for candidate in (first, first.rstrip("$")):
        if candidate in BROWN_BASE_TAGS:
            return BROWN_BASE_TAGS[candidate]
    raise ValueError(f"universal_tag: argument 'tag' expected a Brown tag (base tags "
                     f"{sorted(BROWN_BASE_TAGS)}), got {raw!r}")


def universal_sentence(sentence: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``[(word, brown_tag), …]`` → ``[(word, universal_tag), …]``."""
    return [(word, universal_tag(tag)) for word, tag in sentence]


__all__ = ["BROWN_BASE_TAGS", "UNIVERSAL_TAGS", "universal_sentence", "universal_tag"]
