"""Text rules: prompt text rated PG to X, and what in it is always refused, named by rule id."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from i2v.policy import phrases
from i2v.policy.base import Category, Rating, TextVerdict
from i2v.policy.lexicon import LEXICONS
from i2v.policy.normalise import Word, normalise, words
from i2v.policy.people import NAMES, RELATIONS

# "Near" means within NEAR_WORDS words, in either order, anywhere in the texts rated together.
# Sentence breaks do not separate: tag lists ("15yo, nude") and abbreviations ("15 y.o.") defeat
# sentence splitting, and one prompt describes one clip, so a child in one sentence and nudity
# in the next are still in one video. Long enhanced prompts keep distant clauses apart.
NEAR_WORDS = 20
_ART_WORDS = 6  # "a classical marble statue, nude" is art, in either order
_ANIMAL_WORDS = 4  # "a pair of tits perched on a branch"; a young "~" word must touch its animal

# What each rating rule gives. Rules that only refuse and name sex themselves give X too.
RATINGS: dict[str, Rating] = {
    "sexual.explicit": Rating.X,
    "nudity.full": Rating.X,
    "nudity.art": Rating.R,
    "nudity.partial": Rating.R,
    "sexual.suggestive": Rating.R,
    "violence.graphic": Rating.R,
    "gore": Rating.R,
    "clothing.underwear": Rating.PG13,
    "clothing.revealing": Rating.PG13,
    "clothing.swimwear": Rating.PG13,
    "nudity.nonsexual": Rating.PG13,
    "romance": Rating.PG13,
    "violence.mild": Rating.PG13,
    "minor.sexual_term": Rating.X,
    "nonconsent.sexual": Rating.X,
    "nonconsent.voyeur": Rating.R,
    "undress.photo": Rating.X,
}
# What each refusing rule refuses, for every account.
PROHIBITED: dict[str, Category] = {
    "minor.sexual_term": Category.MINORS,  # a word that means sexualised minors
    "age.stated_minor": Category.MINORS,  # an age under 18 near sexual or nudity words
    "minor.near_sexual": Category.MINORS,  # a child, teen or childlike word near them
    "nonconsent.sexual": Category.NON_CONSENT,  # a word that means non-consensual sex
    "nonconsent.coerced": Category.NON_CONSENT,  # force, drugs, sleep... near sexual words
    "nonconsent.voyeur": Category.NON_CONSENT,  # filming someone unaware, near sex or privacy
    "real_person.sexual": Category.REAL_PERSON,  # a named or known person near sexual words
    "undress.photo": Category.REAL_PERSON,  # undressing the person in the picture
}
RULE_IDS: tuple[str, ...] = (*RATINGS, *(r for r in PROHIBITED if r not in RATINGS))

_SEXUAL = frozenset(
    {"sexual.explicit", "nudity.full", "nudity.art", "nudity.partial", "sexual.suggestive"}
    | {"clothing.underwear", "undress.photo", "nonconsent.sexual"}
)
# A child in "skimpy" clothes or changing clothes is refused; a real person changing, too.
_MINOR_CONTEXT = _SEXUAL | {"clothing.revealing", "clothing.changing"}
_PERSON_CONTEXT = _SEXUAL | {"clothing.changing"}
_PERSON = frozenset({"person.name", "person.marker", "person.photo"})


@dataclass(frozen=True, slots=True)
class _Hit:
    lexicon: str
    start: int  # word index
    end: int  # exclusive
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class _Index:
    phrases: dict[str, tuple[tuple[str, bool], ...]]  # folded words -> (lexicon, ambiguous)
    prefixes: frozenset[str]  # the starts of longer phrases, to stop looking early
    longest: int
    spelled: tuple[tuple[str, str], ...]  # (word, lexicon) found inside a run like "n.u.d.e.s"


def _entries(text: str) -> Iterable[str]:
    return (entry.strip() for entry in text.replace("\n", ",").split(",") if entry.strip())


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "o", "u", ""):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


@cache
def _index() -> _Index:
    table: dict[str, list[tuple[str, bool]]] = defaultdict(list)

    def add(lexicon: str, raw: str) -> None:
        flags = raw[: len(raw) - len(raw.lstrip("=~"))]
        key = normalise(raw[len(flags) :])
        head, _, last = key.rpartition(" ")
        keys = [key] if "=" in flags else [key, f"{head} {_plural(last)}".strip()]
        for spelling in keys:
            table[spelling].append((lexicon, "~" in flags))

    for lexicon, text in LEXICONS.items():
        for raw in _entries(text):
            add(lexicon, raw)
    for raw in _entries(NAMES):
        add("person.name", "=" + raw)
        add("person.name", "=" + raw.replace(" ", ""))  # a handle or hashtag: "taylorswift"
    for raw in _entries(RELATIONS):
        add("person.marker", "=my " + raw)
        add("person.marker", "=our " + raw)
    frozen = {key: tuple(dict.fromkeys(found)) for key, found in table.items()}
    prefixes = {" ".join(key.split()[:n]) for key in frozen for n in range(1, len(key.split()))}
    telling = set(RATINGS) | set(PROHIBITED) | {"young", "coercion"}
    spelled = tuple(
        (key, lexicon)
        for key, found in frozen.items()
        for lexicon, _ in found
        if " " not in key and len(key) >= 3 and lexicon in telling
    )
    longest = max(len(key.split()) for key in frozen)
    return _Index(frozen, frozenset(prefixes), longest, spelled)


def _scan(ws: Sequence[Word], index: _Index) -> set[_Hit]:
    hits: set[_Hit] = set()
    for i, word in enumerate(ws):
        for form in word.forms:
            key, end = form, i + 1
            while True:
                for lexicon, ambiguous in index.phrases.get(key, ()):
                    hits.add(_Hit(lexicon, i, end, ambiguous))
                if end >= len(ws) or end - i >= index.longest or key not in index.prefixes:
                    break
                key, end = f"{key} {ws[end].forms[0]}", end + 1
        if word.spelled:  # "n.u.d.e.p.i.c" joined into one word: look inside it
            for term, lexicon in index.spelled:
                if any(term in form for form in word.forms):
                    hits.add(_Hit(lexicon, i, i + 1))
    return hits


def _gap(a: _Hit, b: _Hit) -> int:
    """Words strictly between two spans; negative when they overlap."""
    return max(a.start, b.start) - min(a.end, b.end)


def _near(hits: Iterable[_Hit], others: Sequence[_Hit], limit: int = NEAR_WORDS) -> bool:
    """Whether any hit is within `limit` words of any other; sorted, so long texts stay linear."""
    if not others:
        return False
    ordered = sorted(others, key=lambda b: b.start)
    starts = [b.start for b in ordered]
    widest = max(b.end - b.start for b in ordered)
    for a in hits:
        for b in ordered[bisect_left(starts, a.start - limit - widest) :]:
            if b.start - a.end >= limit:
                break
            if _gap(a, b) < limit:
                return True
    return False


def _kept(hits: set[_Hit]) -> list[_Hit]:
    """Hits less those inside a longer innocent phrase or beside an animal, art made R."""
    safe = [h for h in hits if h.lexicon == "safe"]
    animals = [h for h in hits if h.lexicon == "animal"]
    art = [h for h in hits if h.lexicon == "art"]
    kept = []
    for hit in hits:
        width = hit.end - hit.start
        if any(s.start <= hit.start and hit.end <= s.end and width < s.end - s.start for s in safe):
            continue
        reach = 1 if hit.lexicon == "young" else _ANIMAL_WORDS
        if hit.ambiguous and _near([hit], animals, reach):
            continue
        if hit.lexicon == "nudity.full" and _near([hit], art, _ART_WORDS):
            hit = _Hit("nudity.art", hit.start, hit.end)
        kept.append(hit)
    return kept


def rate_text(*texts: str) -> TextVerdict:
    """Rate prompt texts together as one clip: the highest rating and every refusal found.

    Pass only what describes the content (prompt, enhanced prompt), never a negative prompt.
    The verdict names rule ids, never the words that matched.
    """
    ws = words("\n".join(texts))
    joined = " ".join(word.forms[0] for word in ws)
    hits = _kept(_scan(ws, _index()))
    hits += [_Hit("undress.photo", a, b) for a, b in phrases.undressing(joined)]
    hits += [_Hit("person.photo", a, b) for a, b in phrases.the_person(joined)]
    hits += [_Hit("age.minor", a, b) for a, b in phrases.minor_ages(ws)]
    found: dict[str, list[_Hit]] = defaultdict(list)
    for hit in hits:
        found[hit.lexicon].append(hit)

    def among(lexicons: Iterable[str]) -> list[_Hit]:
        return [hit for lexicon in lexicons for hit in found.get(lexicon, ())]

    sexual, minor_context = among(_SEXUAL), among(_MINOR_CONTEXT)
    fired = {rule for rule in RATINGS if found.get(rule)}
    if _near(found.get("age.minor", ()), minor_context):
        fired.add("age.stated_minor")
    if _near(found.get("young", ()), minor_context):
        fired.add("minor.near_sexual")
    if _near(found.get("coercion", ()), sexual):
        fired.add("nonconsent.coerced")
    if _near(found.get("voyeur", ()), sexual + found.get("private.place", [])):
        fired.add("nonconsent.voyeur")
    if _near(among(_PERSON), among(_PERSON_CONTEXT)):
        fired.add("real_person.sexual")
    rules = tuple(rule for rule in RULE_IDS if rule in fired)
    refused = {PROHIBITED[rule] for rule in rules if rule in PROHIBITED}
    return TextVerdict(
        rating=Rating.highest(*(RATINGS[rule] for rule in rules if rule in RATINGS)),
        prohibited=tuple(category for category in Category if category in refused),
        rules=rules,
    )
