"""Text sources and normalisation for the synthetic speech corpus.

The target alphabet is lowercase ``a-z``, apostrophe and space.  Each raw
sentence is turned into two strings:

* the *transcript* (alphabet only), which becomes the training label, and
* the *TTS text*, which is the transcript plus commas and a terminal
  ``.``/``?``/``!`` so the engines produce natural pauses and question
  intonation.  Because every engine reads exactly the already-expanded words,
  audio and label cannot disagree on how a number or abbreviation was read.

Sentences that still contain characters outside the alphabet after expansion
(URLs, code, foreign words, likely acronyms) are dropped.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

FORTUNE_DIR = Path("/usr/share/games/fortunes")
# Fortune files that are not running English prose.
FORTUNE_SKIP = {"art", "ascii-art", "translate-me", "perl"}

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve "
         "thirteen fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                      "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def cardinal(n: int) -> str:
    """Spell a non-negative integer in English words (``1234`` -> one thousand two hundred thirty four)."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + cardinal(rest))
    for value, name in _SCALES:
        if n >= value:
            high, rest = divmod(n, value)
            return cardinal(high) + " " + name + ("" if rest == 0 else " " + cardinal(rest))
    raise AssertionError("unreachable")


def ordinal(n: int) -> str:
    """Spell an ordinal (``21`` -> twenty first)."""
    words = cardinal(n).split()
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last = last + "th"
    return " ".join(words[:-1] + [last])


def year(n: int) -> str:
    """Spell a year the way it is spoken (``1984`` -> nineteen eighty four, ``2005`` -> two thousand five)."""
    if 2000 <= n < 2010 or n < 1000 or n >= 10000:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(high) + " hundred"
    if low < 10:
        return cardinal(high) + " oh " + _ONES[low]
    return cardinal(high) + " " + cardinal(low)


def digits(s: str) -> str:
    """Read a digit string one digit at a time (``14`` -> one four)."""
    return " ".join(_ONES[int(c)] for c in s)


def plural(words: str) -> str:
    """Pluralise the last word of a spelled number (``nineteen sixty`` -> nineteen sixties)."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return (head + " " + last).strip()


def _number(s: str) -> str:
    """Spell an integer or decimal string (commas allowed)."""
    s = s.replace(",", "")
    if "." in s:
        whole, frac = s.split(".", 1)
        return cardinal(int(whole or "0")) + " point " + digits(frac)
    return cardinal(int(s))


# Abbreviations expanded on the raw text (before sentence splitting, so their
# periods do not end sentences).  Matched case-insensitively as whole words.
_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (r"e\.\s?g\.", "for example"), (r"i\.\s?e\.", "that is"), (r"etc\.?", "et cetera"),
    (r"mrs\.?", "missus"), (r"mr\.?", "mister"), (r"ms\.", "miz"), (r"dr\.", "doctor"),
    (r"st\.", "saint"), (r"jr\.?", "junior"), (r"sr\.", "senior"), (r"prof\.", "professor"),
    (r"mt\.", "mount"), (r"vs\.?", "versus"), (r"capt\.", "captain"), (r"sgt\.", "sergeant"),
    (r"lt\.", "lieutenant"), (r"col\.", "colonel"), (r"gov\.", "governor"), (r"rev\.", "reverend"),
    (r"gen\.", "general"), (r"approx\.", "approximately"), (r"dept\.", "department"),
    (r"inc\.", "incorporated"), (r"ltd\.", "limited"), (r"ave\.", "avenue"), (r"no\.(?=\s*\d)", "number"),
)
_ABBREV_RE = [(re.compile(r"(?<![\w.])" + pat + r"(?!\w)", re.IGNORECASE), rep) for pat, rep in _ABBREVIATIONS]

_UNICODE_MAP = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": " -- ",
                "\u2013": "-", "\u2026": "...", "\u00a0": " ", "`": "'"}

_SCALE_WORD = r"(?:\s+(million|billion|trillion|thousand|hundred))?"
_MONEY_RE = re.compile(r"([$\u00a3])(\d[\d,]*)(?:\.(\d{2}))?" + _SCALE_WORD + r"(?![\d.]\d)")
_PERCENT_RE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s?%")
_TIME_RE = re.compile(r"\b(\d{1,2}):(\d{2})\b(?!:)")
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_DECADE_RE = re.compile(r"\b(1\d|20)(\d0)'?s\b")
_COMMA_NUM_RE = re.compile(r"\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b")
_DECIMAL_RE = re.compile(r"(?<![\d.])\d*\.\d+\b")
_INT_RE = re.compile(r"\b\d+\b")
_ACRONYM_RE = re.compile(r"\b[A-Z]{2,3}s?\b")
_AMPM_RE = re.compile(r"\b[ap]\.?m\.?(?!\w)", re.IGNORECASE)


def _money(m: re.Match[str]) -> str:
    sym, whole, cents, scale = m.group(1), m.group(2).replace(",", ""), m.group(3), m.group(4)
    unit, unit_pl, sub, sub_pl = (("dollar", "dollars", "cent", "cents") if sym == "$"
                                  else ("pound", "pounds", "penny", "pence"))
    n = int(whole)
    if scale:
        return f" {cardinal(n)} {scale} {unit_pl} "
    out = cardinal(n) + " " + (unit if n == 1 else unit_pl)
    if cents and int(cents):
        c = int(cents)
        out += " and " + cardinal(c) + " " + (sub if c == 1 else sub_pl)
    return " " + out + " "


def _time(m: re.Match[str]) -> str:
    h, mi = int(m.group(1)), int(m.group(2))
    if h > 24 or mi > 59:
        return m.group(0)
    if mi == 0:
        return f" {cardinal(h)} o'clock "
    if mi < 10:
        return f" {cardinal(h)} oh {cardinal(mi)} "
    return f" {cardinal(h)} {cardinal(mi)} "


def _integer(m: re.Match[str]) -> str:
    s = m.group(0)
    n = int(s)
    if len(s) == 4 and 1100 <= n <= 2099:
        return " " + year(n) + " "
    if len(s) > 1 and s.startswith("0"):
        return " " + digits(s) + " "
    return " " + cardinal(n) + " "


def expand_abbreviations(text: str) -> str:
    """Expand common abbreviations (mr, dr, st, etc, e.g. ...) in raw text."""
    for rx, rep in _ABBREV_RE:
        text = rx.sub(rep, text)
    return text


def clean_unicode(text: str) -> str:
    """Map typographic quotes/dashes to ASCII; strip accents.  Non-Latin text stays non-ASCII (and is dropped later)."""
    for a, b in _UNICODE_MAP.items():
        text = text.replace(a, b)
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def expand_numbers(text: str) -> str:
    """Expand money, percentages, times, ordinals, decades, years and plain numbers into words."""
    text = _MONEY_RE.sub(_money, text)
    text = _PERCENT_RE.sub(lambda m: " " + _number(m.group(1)) + " percent ", text)
    text = _TIME_RE.sub(_time, text)
    text = _ORDINAL_RE.sub(lambda m: " " + ordinal(int(m.group(1))) + " ", text)
    text = _DECADE_RE.sub(lambda m: " " + plural(year(int(m.group(1) + m.group(2)))) + " ", text)
    text = _COMMA_NUM_RE.sub(lambda m: " " + _number(m.group(0)) + " ", text)
    text = _DECIMAL_RE.sub(lambda m: " " + _number(m.group(0)) + " ", text)
    text = _INT_RE.sub(_integer, text)
    return text


_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "%": " percent "}
_DROP_CHARS = re.compile(r"[\"()\[\]{}*_~<>]")
_VOWEL_RE = re.compile(r"[aeiouy]")


@dataclass(frozen=True)
class Normalised:
    """A normalised sentence: the label and the text handed to the TTS engine."""

    transcript: str
    tts_text: str


def normalise(sentence: str, min_words: int = 3, max_words: int = 22, max_chars: int = 120) -> Normalised | None:
    """Normalise one raw sentence; return ``None`` if it cannot be mapped to the alphabet.

    >>> normalise("Dr. Smith paid $5 on the 3rd of May, 1984!").transcript
    'doctor smith paid five dollars on the third of may nineteen eighty four'
    """
    text = expand_abbreviations(clean_unicode(sentence))
    if _AMPM_RE.search(text) or _ACRONYM_RE.search(text):
        return None  # spoken letter-by-letter by some engines: label would be ambiguous
    text = expand_numbers(text)
    for sym, word in _SYMBOLS.items():
        text = text.replace(sym, word)
    text = text.lower()
    text = _DROP_CHARS.sub(" ", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # hyphenated words
    text = re.sub(r"\s*(--+|[;:])\s*", ", ", text)
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)  # quotes, not contractions
    text = re.sub(r"\.{2,}", ",", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.?!])", r"\1", text)
    text = re.sub(r"([,.?!])[,.?!]+", r"\1", text)
    text = text.strip(" ,")
    if not text:
        return None
    terminal = text[-1] if text[-1] in ".?!" else "."
    body = text.rstrip(".?!").strip(" ,")
    if not re.fullmatch(r"[a-z' ,.?!]+", body):
        return None
    transcript = re.sub(r"\s+", " ", re.sub(r"[,.?!]", " ", body)).strip()
    words = transcript.split()
    if not (min_words <= len(words) <= max_words) or len(transcript) > max_chars:
        return None
    for w in words:
        letters = w.replace("'", "")
        if not letters or (len(letters) > 1 and not _VOWEL_RE.search(letters)):
            return None  # "hmm", "xyzzy"-like tokens: engines would spell them
    tts = re.sub(r"\s+", " ", re.sub(r"([.?!])", ",", body)).strip(" ,") + terminal
    return Normalised(transcript, tts)


_SPLIT_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9$])")


def split_sentences(text: str) -> list[str]:
    """Split running text (abbreviations already expanded) into sentences."""
    text = re.sub(r"\s+", " ", text).strip()
    return [s.strip() for s in _SPLIT_RE.split(text) if s.strip()]


def fortune_texts(directory: Path = FORTUNE_DIR) -> Iterator[str]:
    """Yield each fortune (attribution lines removed) from the fortune files."""
    for path in sorted(directory.iterdir()):
        if path.suffix or path.name in FORTUNE_SKIP or not path.is_file():
            continue
        raw = path.read_bytes().decode("utf-8", errors="replace")
        for entry in raw.split("\n%\n"):
            lines = [ln for ln in entry.splitlines() if not re.match(r"^\s*(--|- )", ln)]
            if lines:
                yield "\n".join(lines)


def bible_texts(bible_bin: str = "/usr/bin/bible") -> Iterator[str]:
    """Yield KJV verses (bible-kjv-text data, decoded by the ``bible`` tool of package bible-kjv)."""
    out = subprocess.run([bible_bin, "-l100000", "gen1:1-rev22:21"], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        m = re.match(r"^\s+\d+\s+(.*)$", line)
        if m:
            yield m.group(1)


def sentences_from(texts: Iterable[str], **kw: int) -> Iterator[Normalised]:
    """Split texts into sentences and normalise them, dropping those that fail."""
    for t in texts:
        for s in split_sentences(expand_abbreviations(clean_unicode(t))):
            n = normalise(s, **kw)
            if n is not None:
                yield n


def dedup(items: Iterable[Normalised]) -> list[Normalised]:
    """Remove duplicates by transcript, keeping first occurrence order."""
    seen: set[str] = set()
    out: list[Normalised] = []
    for n in items:
        if n.transcript not in seen:
            seen.add(n.transcript)
            out.append(n)
    return out
