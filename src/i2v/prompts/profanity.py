"""Profanity checks for captions and hashtags, offline, on better-profanity's word list."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from typing import Any

# Words the list flags that are innocent in a picture's description ("god rays", "rice paddy",
# "a mountain slope", "brush stroke", "the Vegas strip"), and identity words a caption must be
# able to say. Anything here can still be refused by the content policy, which is not this.
_ALLOWED = (
    "god",
    "gay",
    "gays",
    "queer",
    "queers",
    "lesbian",
    "virgin",
    "organ",
    "slope",
    "paddy",
    "stroke",
    "strip",
    "maxi",
    "steamy",
    "pot",
    "rum",
    "hemp",
    "seaman",
    "seamen",
    "woody",
    "hump",
    "loin",
    "loins",
    "fat",
    "revue",
    "pawn",
    "flange",
    "screw",
    "thrust",
    "dummy",
)

# Never in our input, and not a letter to better-profanity, so its runs mark what it censored.
_MARK = "\x00"
_MARKED = re.compile(rf"[ \t]*{_MARK}+")
_KNOWN_MAX = 50_000  # words remembered as listed or not


class _WordIndex:
    """The censor words by (length, first letter); better-profanity scans a plain list of 900
    words with `in` for every word of the text, which costs a third of a second per 2,000
    characters. Its substitutions are one character each, so a word's length is fixed."""

    def __init__(self, words: list[Any], char_map: dict[str, tuple[str, ...]]) -> None:
        self._words = words
        self._buckets: defaultdict[tuple[int, str], list[Any]] = defaultdict(list)
        for word in words:
            text = str(word)
            self._buckets[(len(text), text[:1])].append(word)
        # "@pple" may be "apple": a leading stand-in character may be any letter it stands for.
        self._firsts: defaultdict[str, set[str]] = defaultdict(set)
        for letter, stand_ins in char_map.items():
            for stand_in in stand_ins:
                self._firsts[stand_in].add(letter)
        # Whether a word is listed never changes, and captions say the same words again and
        # again (templates, keywords, tags): comparing look-alike spellings was 80% of a
        # caption's time. Bounded, so hostile text cannot grow it without limit.
        self._known: dict[str, bool] = {}

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str) or not text:
            return False
        found = self._known.get(text)
        if found is None:
            found = self._lookup(text)
            if len(self._known) >= _KNOWN_MAX:
                self._known.clear()
            self._known[text] = found
        return found

    def _lookup(self, text: str) -> bool:
        for first in {text[0], *self._firsts.get(text[0], ())}:
            if any(word == text for word in self._buckets.get((len(text), first), ())):
                return True
        return False

    def __iter__(self) -> Iterator[Any]:
        return iter(self._words)

    def __len__(self) -> int:
        return len(self._words)


@cache
def _filter() -> Any:
    """Our own instance, built once on first use: the package's global `profanity` is shared
    with whatever else imports it, and may be reloaded or extended under our feet."""
    from better_profanity import Profanity  # type: ignore[import-untyped]

    instance = Profanity()
    instance.load_censor_words(whitelist_words=list(_ALLOWED))
    instance.CENSOR_WORDSET = _WordIndex(instance.CENSOR_WORDSET, instance.CHARS_MAPPING)
    return instance


def _censored(text: str) -> str:
    return str(_filter().censor(text.replace(_MARK, ""), _MARK))


def is_profane(text: str) -> bool:
    """True when `text` holds a listed word, as a whole word ("Scunthorpe" and "assassin" pass),
    in any case, in common look-alike spellings ("sh1t"), or across two words ("f u")."""
    return _MARK in _censored(text)


def clean(text: str) -> str:
    """`text` without its profane words, spaces tidied; unchanged where nothing is profane."""
    censored = _censored(text)
    if _MARK not in censored:
        return text
    # A word dropped mid-sentence leaves one space, and none at the start of a line.
    lines = (
        re.sub(r"[ \t]{2,}", " ", line).strip() for line in _MARKED.sub("", censored).split("\n")
    )
    return re.sub(r" +([,.!?;:])", r"\1", "\n".join(lines)).strip()
