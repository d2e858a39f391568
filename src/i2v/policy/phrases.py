"""Rules word lists cannot say: undressing someone, the person in the photo, stated ages."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import cache

from i2v.policy.normalise import Word

# Patterns run on normalise()'s output: lower case words, one space apart, possessive 's gone.
_GARMENT = (
    r"(?:clothes|clothing|outfit|garments?|attire|shirt|t ?shirt|tee|top|tank top|blouse|bra|"
    r"dress|gown|nightgown|nightie|skirt|pants|trousers|jeans|shorts|leggings|underwear|"
    r"panties|knickers|lingerie|thong|bikini(?: top| bottoms?)?|swimsuit|bathing suit|"
    r"towel|robe|bathrobe|boxers|briefs|jumpsuit|bodysuit|corset|sari|kimono)"
)
# A man's shirt coming off is shirtless (PG-13), not an undressing to refuse.
_UPPER = r"(?:shirt|t ?shirt|tee|top|tank top)"
_WHOSE = r"(?:her|his|their|your|my|its|all (?:of )?(?:her|his|their))"
# With "the", only garments that cannot be a lid or a layer ("removes the top of the jar").
_CLEAR_GARMENT = (
    r"(?:clothes|clothing|garments|bra|underwear|panties|knickers|lingerie|thong|"
    r"bikini(?: top| bottoms?)?|swimsuit|bathing suit|dress|skirt|shirt|blouse)"
)
# A garment word that starts a compound is not being taken off: "opens her dress shop".
_NOT_WORN = r"(?! (?:shop|store|boutique|code|rehearsal|size|pattern|brand|lip|rack|hanger))"
_REMOVE = (
    r"(?:take|takes|taking|took|taken|remove|removes|removing|removed|strip|strips|stripping|"
    r"stripped|pull|pulls|pulling|pulled|rip|rips|ripping|ripped|tear|tearing|tore|torn|"
    r"peel|peels|peeling|peeled|drop|drops|dropping|dropped|slip|slips|slipping|slipped|lift|"
    r"lifts|lifting|lifted|shed|sheds|shedding|unbutton|unbuttons|unbuttoning|unbuttoned|"
    r"unzip|unzips|unzipping|unzipped|unhook|unhooks|unhooking|unhooked|cut|cuts|cutting|open|opens|opening|opened|raise|raises|raising|raised|yank|"
    r"yanks|yanking|yanked|erase|erases|erasing|erased|delete|deletes|deleting|deleted)"
)
_BARE = r"(?:naked|nude|nudes|topless|bottomless|undressed|unclothed|nekkid|nsfw)"
_OBJECT = (
    r"(?:her|him|them|me|us|everyone|everybody|it|the \w+|this \w+|that \w+|these \w+|"
    r"those \w+|my \w+|our \w+|his \w+|her \w+)"
)
_SHOW = (
    r"(?:make|makes|making|made|turn|turns|turning|turned|render|renders|rendering|show|"
    r"shows|showing|showed|get|gets|getting|got|leave|leaves|leaving|left|imagine|see|"
    r"reveal|reveals|revealing|change|changes|convert|converts|edit|edits|transform|"
    r"transforms|want|wants|picture)"
)
_UNDRESS = "|".join(
    (
        r"\b(?:undress|undresses|undressed|undressing|disrobe|disrobes|disrobed|disrobing|"
        r"unclothe|unclothes|unclothing|nudify|nudifies|nudified|nudifying|nudifier|"
        r"nudification|deepnude|deep nude|undress ai|striptease|stripteases|clothes off|"
        r"clothing off|clothes removed|clothes remover|clothing remover)\b",
        r"\b(?:naked|nude|topless|undressed) (?:version|edit|filter|mode|variant)\b",
        rf"\b(?:without|with no) (?:her|his|their|your|my|any) {_GARMENT}\b",
        r"\bstrip(?:s|ping)? (?:naked|nude|down|off|bare|to (?:her|his|their) \w+)\b",
        r"\bstrip(?:s|ping|ped)? (?:her|him|them|me)\b(?! of)",
        r"\b(?:her|him|them) (?:with no|without|without any) (?:clothes|clothing|garments)\b",
        r"\b(?:her|him|them) with nothing on\b",
        # not "stripped down", the acoustic version
        r"\bstripped (?:naked|nude|bare|off|of (?:her|his|their) \w+|to (?:her|his|their) \w+)\b",
        # "takes off her shirt", "pulls down his shorts", "unbuttons her wet blouse"
        rf"\b{_REMOVE}(?: (?:off|away|down|open|apart))? {_WHOSE}(?: \w+){{0,2}}? "
        rf"{_GARMENT}\b{_NOT_WORN}",
        # "remove all clothes", "takes off the dress"
        rf"\b{_REMOVE}(?: off)? (?:all (?:of )?(?:the )?|the (?:\w+ )?)?{_CLEAR_GARMENT}\b"
        rf"{_NOT_WORN}",
        # "her dress falls off", "their clothes disappear"
        rf"\b{_WHOSE}(?: \w+){{0,2}}? {_GARMENT} (?:off|removed|comes off|come off|falls off|"
        r"fall off|fell off|falling off|slips off|slip off|slipped off|slides off|drops|dropped|"
        r"disappears?|disappearing|vanish|vanishes|vanishing|gone|rips off|torn off|ripped off|"
        r"melts away|melt away|dissolves?)\b",
        # "make her naked", "show the woman nude", "her naked"
        rf"\b{_SHOW} {_OBJECT}(?: \w+){{0,2}}? {_BARE}\b",
        rf"\b(?:her|him|them) (?:fully |completely |totally |all )?{_BARE}\b",
        # x-ray and see-through "vision"
        rf"\bsee(?:s|ing)? through {_WHOSE}(?: \w+){{0,2}}? {_GARMENT}\b",
        rf"\bx ?ray(?: \w+){{0,4}}? {_GARMENT}\b",
        rf"\b{_GARMENT}(?: \w+){{0,3}}? x ?ray\b",
    )
)
_HIS_UPPER = re.compile(rf"\bhis(?: \w+){{0,2}}? {_UPPER}\b")
_NOT_HIS = re.compile(r"\b(?:her|their|your|my|all)\b")

_PERSON_NOUN = (
    r"(?:woman|women|girl|girls|guy|guys|man|men|person|people|lady|ladies|boy|boys|dude|"
    r"chick|individual|model|couple|actress|actor|teacher|student|female|male|gentleman)"
)
_PICTURE = (
    r"(?:photo|photos|picture|pictures|image|images|pic|pics|selfie|selfies|photograph|"
    r"photographs|snapshot|snapshots|portrait|upload)"
)
_PERSON = (
    rf"\b(?:this|that|these|those) {_PERSON_NOUN}\b"
    r"|\b(?:the uploaded|the attached|the input|the original|the|this|that|my|your|our) "
    rf"{_PICTURE}\b(?! (?:studio|booth|shoot|session|frame|album|book|editor|filter))"
)


@cache
def _compiled() -> tuple[re.Pattern[str], re.Pattern[str]]:
    return re.compile(_UNDRESS), re.compile(_PERSON)


def _spans(pattern: re.Pattern[str], joined: str) -> Iterator[tuple[int, int, str]]:
    for match in pattern.finditer(joined):
        start = joined.count(" ", 0, match.start())
        yield start, start + match.group(0).count(" ") + 1, match.group(0)


def undressing(joined: str) -> list[tuple[int, int]]:
    """Word spans asking for someone's clothes off (in i2v, the person in the picture)."""
    pattern = _compiled()[0]
    found = []
    for start, end, text in _spans(pattern, joined):
        if _HIS_UPPER.search(text) and not _NOT_HIS.search(text):
            continue
        found.append((start, end))
    return found


def the_person(joined: str) -> list[tuple[int, int]]:
    """Word spans pointing at the real person in the uploaded picture."""
    return [(start, end) for start, end, _ in _spans(_compiled()[1], joined)]


# Ages spelled as words, misspellings included; 18 and up need no entry.
_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "elevn": 11, "twelv": 12,
    "twelf": 12, "thirten": 13, "thirdteen": 13, "threeteen": 13, "thirtheen": 13,
    "fourten": 14, "forteen": 14, "fourtteen": 14, "fiveteen": 15, "fivteen": 15,
    "fithteen": 15, "fifeteen": 15, "fiften": 15, "fifthteen": 15, "sixten": 16,
    "sixtteen": 16, "seventen": 17, "sevnteen": 17, "sevteen": 17,
    "seveteen": 17, "seventeeen": 17,
}  # fmt: skip
# "twenty one year old" is 21, not 1.
_TENS = frozenset(
    {
        "twenty",
        "thirty",
        "forty",
        "fourty",
        "fifty",
        "sixty",
        "seventy",
        "eighty",
        "ninety",
        "hundred",
    }
)
_GLUED = re.compile(r"(\d{1,2}(?:\.\d+)?)(yo|yos|yr|yrs|yrsold|yrold|yearold|yearsold|yro)")
_AGE_BEFORE = frozenset({"age", "aged", "ages"})
# A bare number after these is an age too ("she is 15", "turned 14", "a girl, 15, ...");
# after a person word only from 10, so "girl 2 of 3" is not one.
_IS = frozenset(
    {"is", "was", "turned", "turns", "turning", "im", "m", "looks", "looking", "appears"}
)
# ...and with one hedge between: "canonically 14", "is only 15", "looks about 12".
_HEDGES = frozenset(
    {"canonically", "officially", "only", "just", "barely", "actually", "really", "about",
     "around", "like", "supposedly", "maybe", "probably", "approximately", "roughly"}
)  # fmt: skip
_WHO = frozenset({"she", "he", "girl", "boy", "kid", "child", "daughter", "son", "sister"})
# ...unless a measure follows: "she is 15 minutes late".
_MEASURES = frozenset(
    {"minute", "minutes", "min", "mins", "second", "seconds", "sec", "secs", "hour", "hours",
     "day", "days", "week", "weeks", "feet", "foot", "ft", "inch", "inches", "meter", "meters",
     "metre", "metres", "m", "cm", "km", "kg", "pounds", "lbs", "lb", "percent", "times",
     "miles", "mph", "kmh", "degrees", "points", "goals", "laps", "floors", "kilos", "stone",
     "by", "x"}
)  # fmt: skip
# What may follow a number to make it an age; "years" alone does not ("15 years of war").
_AGE_AFTER: tuple[tuple[str, ...], ...] = (
    ("yo",), ("yos",), ("y", "o"), ("yr",), ("yrs",), ("yro",), ("yrsold",), ("yrold",),
    ("yearold",), ("yearsold",), ("year", "old"), ("years", "old"), ("y", "old"),
    ("years", "of", "age"), ("month", "old"), ("months", "old"), ("mo", "old"),
    ("week", "old"), ("weeks", "old"),
)  # fmt: skip


def _number(word: Word) -> float | None:
    if word.plain.replace(".", "", 1).isdigit():
        return float(word.plain)
    return next((float(_NUMBERS[f]) for f in word.forms if f in _NUMBERS), None)


def minor_ages(words: Sequence[Word]) -> list[tuple[int, int]]:
    """Word spans stating an age under 18: "15yo", "aged 15", "a fiveteen-year-old"."""
    found = []
    for i, word in enumerate(words):
        glued = _GLUED.fullmatch(word.plain)
        if glued:
            if float(glued.group(1)) < 18:
                found.append((i, i + 1))
            continue
        age = _number(word)
        if age is None or age >= 18 or (i and words[i - 1].forms[0] in _TENS):
            continue
        before = words[i - 1].forms[0] if i else ""
        if before in _AGE_BEFORE:
            found.append((i - 1, i + 1))
            continue
        if before == "of" and i > 1 and words[i - 2].forms[0] in _AGE_BEFORE:
            found.append((i - 2, i + 1))
            continue
        after = tuple(w.forms[0] for w in words[i + 1 : i + 4])
        hedged = before in _HEDGES and i > 1 and words[i - 2].forms[0] in _IS
        bare = before in _IS or hedged or (before in _WHO and age >= 10)
        if bare and (not after or after[0] not in _MEASURES):
            found.append((i - 1, i + 1))
            continue
        for unit in _AGE_AFTER:
            if after[: len(unit)] == unit:
                found.append((i, i + 1 + len(unit)))
                break
    return found
