"""Tests for qasr.corpus.text: number expansion, abbreviations, normalisation, splitting."""

from __future__ import annotations

import re

import pytest

from qasr.corpus import text


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty two"),
    (100, "one hundred"), (101, "one hundred one"), (999, "nine hundred ninety nine"),
    (1000, "one thousand"), (1234, "one thousand two hundred thirty four"),
    (2000000, "two million"), (3000000005, "three billion five"),
])
def test_cardinal(n: int, words: str) -> None:
    assert text.cardinal(n) == words


@pytest.mark.parametrize("n, words", [
    (1, "first"), (2, "second"), (3, "third"), (4, "fourth"), (5, "fifth"), (8, "eighth"),
    (9, "ninth"), (12, "twelfth"), (20, "twentieth"), (21, "twenty first"), (100, "one hundredth"),
])
def test_ordinal(n: int, words: str) -> None:
    assert text.ordinal(n) == words


@pytest.mark.parametrize("n, words", [
    (1984, "nineteen eighty four"), (1900, "nineteen hundred"), (1905, "nineteen oh five"),
    (2000, "two thousand"), (2007, "two thousand seven"), (2019, "twenty nineteen"),
    (1066, "ten sixty six"),
])
def test_year(n: int, words: str) -> None:
    assert text.year(n) == words


def _t(s: str) -> str | None:
    n = text.normalise(s)
    return None if n is None else n.transcript


@pytest.mark.parametrize("raw, expected", [
    ("Dr. Smith paid $5 on the 3rd of May, 1984!",
     "doctor smith paid five dollars on the third of may nineteen eighty four"),
    ("It costs $2.50, not $1.", "it costs two dollars and fifty cents not one dollar"),
    ("They lost $3 million in 1999.", "they lost three million dollars in nineteen ninety nine"),
    ("About 50% of 1,200 people agreed.", "about fifty percent of one thousand two hundred people agreed"),
    ("We met at 10:30 and left at 11:00.", "we met at ten thirty and left at eleven o'clock"),
    ("Pi is roughly 3.14 they say.", "pi is roughly three point one four they say"),
    ("Music of the 1960s was loud.", "music of the nineteen sixties was loud"),
    ("Mr. and Mrs. Jones live on Elm St. now.", "mister and missus jones live on elm saint now"),
    ("Salt & pepper, e.g. spices, etc.", "salt and pepper for example spices et cetera"),
    ("Cats vs. dogs: the eternal war.", "cats versus dogs the eternal war"),
    ("\u201cDon\u2019t panic,\u201d he said \u2014 calmly.", "don't panic he said calmly"),
    ("A well-known 'quote' here.", "a well known quote here"),
    ("One + one = two, really.", "one plus one equals two really"),
])
def test_normalise(raw: str, expected: str) -> None:
    assert _t(raw) == expected


@pytest.mark.parametrize("raw", [
    "The FBI is here today.",          # acronym: engines may spell it
    "Call me at 5 p.m. please.",       # a.m./p.m.
    "Too short.",                      # < 3 words
    "See http://example.com/x for details.",
    "Das ist nicht gut, mein Freund, \u00fcberhaupt nicht \u2014 \u4e2d.",
    "Hmm, brr, pfft, shh everyone.",   # vowel-less tokens
    " ".join(["word"] * 30) + ".",     # too long
])
def test_normalise_rejects(raw: str) -> None:
    assert _t(raw) is None


def test_alphabet_and_tts_text() -> None:
    n = text.normalise("Is it 5:05 already, Mr. Brown?")
    assert n is not None
    assert re.fullmatch(r"[a-z' ]+", n.transcript)
    assert n.transcript == "is it five oh five already mister brown"
    assert n.tts_text == "is it five oh five already, mister brown?"
    # the TTS text is the transcript plus punctuation only
    assert re.sub(r"[,.?!]", "", n.tts_text) == n.transcript


def test_split_sentences() -> None:
    raw = text.expand_abbreviations("Mr. Smith went home. He was tired! Was he? Yes, at 3.5 km.")
    assert text.split_sentences(raw) == ["mister Smith went home.", "He was tired!", "Was he?", "Yes, at 3.5 km."]


def test_dedup_keeps_first() -> None:
    items = [text.Normalised("a b c", "a b c."), text.Normalised("a b c", "a, b c?"), text.Normalised("d e f", "d e f.")]
    assert [n.tts_text for n in text.dedup(items)] == ["a b c.", "d e f."]
