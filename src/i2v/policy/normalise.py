"""Prompt text folded for matching: accents, case, look-alike letters, leet, spelled-out words."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Deleted outright: they split a word on screen without showing anything ("n\u200bude").
_INVISIBLE = "\u00ad\u034f\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"

# Cyrillic, Greek and other letters drawn like Latin ones, after casefold (so lower case only);
# NFKD already folds fullwidth, circled and mathematical letters.
_LOOKALIKES = {
    "а": "a", "в": "b", "е": "e", "ѕ": "s", "і": "i", "ј": "j", "к": "k", "м": "m", "н": "h",
    "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ԁ": "d", "ɡ": "g", "һ": "h",
    "ӏ": "l", "ԛ": "q", "ԝ": "w", "ү": "y", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i",
    "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ø": "o",
    "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "ı": "i", "ɑ": "a", "æ": "ae", "œ": "oe",
    "þ": "th", "\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "´": "'",
}  # fmt: skip
_FOLD = str.maketrans({**dict.fromkeys(_INVISIBLE, ""), **_LOOKALIKES})
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_POSSESSIVE = re.compile(r"'s\b")

# Three or more single characters with one separator between each: "s.e.x", "n u d e", "s-3-x".
# The separator must repeat, so "15 y/o" and "a b/c test" are left alone.
_SPELLED = re.compile(
    r"(?<![a-z0-9@$])[a-z0-9@$](?P<sep>[ .\-_*~+,/]{1,2})[a-z0-9@$]"
    r"(?:(?P=sep)[a-z0-9@$](?![a-z0-9@$]))+(?![a-z0-9@$])"
)
# "!" and "|" stand for i and l inside a word; at its edges "!" is punctuation.
_TOKEN = re.compile(r"[a-z0-9@$|!]+(?:\.[0-9]+)?")
_RUN = re.compile(r"(.)\1{2,}")
# A plural written with z ("boobz"); "zz" words ("jazz", "pizzazz") keep theirs.
_Z_PLURAL = re.compile(r"[a-y]{3}z$")

# Leet, one character for one so positions stay put; 1 and | are ambiguous (i or l).
_LEET_I = str.maketrans("013457@$!|89", "oieastasiibg")
_LEET_L = str.maketrans("013457@$!|89", "oleastasllbg")
# A number glued to a unit is a measure, not leet: "15yo", "60fps", "1080p", "4k".
_MEASURE = re.compile(r"\d+(?:\.\d+)?([a-z]*)")
_UNITS = frozenset(
    {
        "yo", "yos", "yr", "yrs", "yrsold", "yrold", "yearold", "yearsold", "y", "fps", "p", "i",
        "k", "d", "s", "th", "st", "nd", "rd", "mm", "cm", "m", "km", "kg", "g", "lb", "lbs", "x",
        "hz", "khz", "mhz", "ghz", "gb", "mb", "tb", "kb", "ms", "min", "mins", "sec", "secs", "h",
        "hr", "hrs", "am", "pm", "px", "bit", "mp", "f", "c"
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Word:
    plain: str  # folded but not de-leeted: digits kept, for stated ages
    forms: tuple[str, ...]  # spellings to look up, the likeliest first
    spelled: bool = False  # joined from single letters ("s.e.x"), so may hide several words


def fold(text: str) -> str:
    """Accents, case, invisible characters and look-alike letters folded; punctuation kept."""
    if text.isascii():
        return _POSSESSIVE.sub("", text.casefold().replace("`", "'"))
    text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    # Casefold before the look-alike table, which is lower case; NFKD again for what casefold
    # expanded ("ǰ") and what the table mapped.
    text = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    return _POSSESSIVE.sub("", _MARKS.sub("", text))


def deleet(token: str, one: str = "i") -> str:
    """Digits and symbols read as the letters they stand for, when the token is a word."""
    measure = _MEASURE.fullmatch(token)
    if measure and (not measure.group(1) or measure.group(1) in _UNITS):
        return token
    # One letter among digits is a code ("a55", "h264", "b4"), not a disguised word.
    if sum(c.isalpha() for c in token) < 2:
        return token
    return token.translate(_LEET_L if one == "l" else _LEET_I)


def squeeze(token: str, keep: int = 2) -> str:
    """Runs of three or more of one character cut to `keep` ("sexxxy" -> "sexxy" or "sexy")."""
    if set(token) == {"x"}:
        return token  # "xxx" is a word of its own
    return _RUN.sub(r"\1" * keep, token)


def _forms(token: str) -> tuple[str, ...]:
    elongated = _RUN.search(token) is not None
    if token.isalpha() and not elongated:
        return (token, token[:-1] + "s") if _Z_PLURAL.search(token) else (token,)  # most words
    found: list[str] = []
    for stem in (squeeze(token), squeeze(token, 1)) if elongated else (token,):
        for one in ("i", "l"):
            form = deleet(stem, one)
            if form not in found:
                found.append(form)
    if _Z_PLURAL.search(found[0]):
        found.append(found[0][:-1] + "s")
    return tuple(found)


def words(text: str) -> tuple[Word, ...]:
    """The text as words to match, each with its plain spelling and its likely readings."""
    folded = fold(text)
    spans: list[tuple[int, int]] = []
    parts: list[str] = []
    last = 0
    for match in _SPELLED.finditer(folded):
        run = match.group(0)
        sep = match.group("sep")
        start = match.start()
        # "a n u d e" is most likely the article and a spelled word, not one word "anude".
        if sep.strip() == "" and run[0] in "ai" and len(run.split()) > 3:
            run = run[2:]
            start += 2
        parts.append(folded[last:start])
        joined = "".join(c for c in run if c.isalnum() or c in "@$")
        spans.append((len("".join(parts)), len("".join(parts)) + len(joined)))
        parts.append(joined)
        last = match.end()
    parts.append(folded[last:])
    flat = "".join(parts)
    found: list[Word] = []
    for match in _TOKEN.finditer(flat):
        token = match.group(0).strip("!")
        if token:
            spelled = bool(spans) and any(a <= match.start() < b for a, b in spans)
            found.append(_word(token, spelled))
    return tuple(found)


# Prompts reuse a small vocabulary, so most words are read once per process; bounded.
@lru_cache(maxsize=32768)
def _word(token: str, spelled: bool) -> Word:
    return Word(token, _forms(token), spelled)


def normalise(text: str) -> str:
    """The text as matched: each word's likeliest reading, separated by single spaces."""
    return " ".join(word.forms[0] for word in words(text))
