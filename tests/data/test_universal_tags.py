"""The Brown → universal tag mapping on known tags, decorated tags, contractions and negations."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convrnn.data.universal_tags import BROWN_BASE_TAGS, UNIVERSAL_TAGS, universal_sentence, universal_tag

KNOWN = {
    # plain base tags of every universal class
    "NN": "NOUN", "NNS": "NOUN", "NP": "NOUN", "NPS": "NOUN", "NR": "NOUN",
    "VB": "VERB", "VBD": "VERB", "VBG": "VERB", "VBN": "VERB", "VBZ": "VERB", "BEDZ": "VERB",
    "HVD": "VERB", "DOZ": "VERB", "MD": "VERB",
    "JJ": "ADJ", "JJR": "ADJ", "JJT": "ADJ", "AP": "ADJ", "OD": "ADJ",
    "RB": "ADV", "RBR": "ADV", "QL": "ADV", "WRB": "ADV", "RN": "ADV",
    "PPS": "PRON", "PPSS": "PRON", "PPO": "PRON", "PP$": "PRON", "PP$$": "PRON", "WPS": "PRON",
    "WP$": "PRON", "PN": "PRON",
    "AT": "DET", "DT": "DET", "DTI": "DET", "ABN": "DET", "ABX": "DET", "WDT": "DET", "EX": "DET",
    "IN": "ADP", "CS": "ADP",
    "CD": "NUM",
    "CC": "CONJ",
    "RP": "PRT", "TO": "PRT",
    ".": ".", ",": ".", "``": ".", "''": ".", "--": ".", "(": ".", ")": ".", ":": ".",
    "UH": "X", "NIL": "X",
}

DECORATED = {
    "NN-TL": "NOUN", "NN-TL-HL": "NOUN", "VBD-HL": "VERB", "JJ-NC": "ADJ", "---HL": ".",
    ".-HL": ".", "FW-IN+AT-T": "X", "PPSS+BER-N": "PRON",
    # possessives
    "NN$": "NOUN", "NP$-TL": "NOUN", "NNS$-HL": "NOUN", "AP$": "ADJ", "PN$": "PRON",
    # contractions take the tag of their first part
    "PPS+BEZ": "PRON", "PPSS+MD": "PRON", "EX+BEZ": "DET", "VBG+TO": "VERB", "MD+HV": "VERB",
    "WDT+BER+PP": "DET", "NN+BEZ-TL": "NOUN", "RB+BEZ": "ADV",
    # negation: "not" alone is an adverb, a negated verb stays a verb
    "*": "ADV", "*-HL": "ADV", "BEZ*": "VERB", "DOD*": "VERB", "MD*-HL": "VERB", "DOD*-TL": "VERB",
    # foreign words are X whatever their tag
    "FW-NN": "X", "FW-AT-TL": "X", "FW-*": "X", "FW-IN+NN-TL": "X", "FW-JJ": "X",
}


@pytest.mark.parametrize("tag, expected", sorted({**KNOWN, **DECORATED}.items()))
def test_known_brown_tags_map_to_their_universal_tag(tag, expected):
    assert universal_tag(tag) == expected
    assert universal_tag(tag.lower()) == expected  # the corpus files spell tags in lower case


def test_every_base_tag_maps_into_the_twelve_tags():
    assert set(BROWN_BASE_TAGS.values()) == set(UNIVERSAL_TAGS)
    assert len(UNIVERSAL_TAGS) == 12


@given(st.sampled_from(sorted(BROWN_BASE_TAGS)), st.lists(st.sampled_from(["-HL", "-TL", "-NC"]), max_size=3))
def test_decorations_never_change_the_tag(base, suffixes):
    assert universal_tag(base + "".join(suffixes)) == BROWN_BASE_TAGS[base]


@given(st.sampled_from(sorted(BROWN_BASE_TAGS)), st.sampled_from(sorted(BROWN_BASE_TAGS)))
def test_a_contraction_takes_the_tag_of_its_first_part(first, second):
    assert universal_tag(f"{first}+{second}") == BROWN_BASE_TAGS[first]


@pytest.mark.parametrize("bad", ["XYZ", "", "NN+", "-HL"])
def test_unknown_tags_raise_a_value_error_naming_the_tag(bad):
    with pytest.raises(ValueError, match="argument 'tag'"):
        universal_tag(bad)


def test_non_string_tags_raise_a_type_error():
    with pytest.raises(TypeError, match="argument 'tag' expected a str, got int"):
        universal_tag(3)


def test_sentences_keep_their_words():
    sentence = [("The", "at"), ("jury", "nn"), ("said", "vbd"), ("it's", "pps+bez"), ("n't", "*"), (".", ".")]
    assert universal_sentence(sentence) == [("The", "DET"), ("jury", "NOUN"), ("said", "VERB"),
                                            ("it's", "PRON"), ("n't", "ADV"), (".", ".")]
