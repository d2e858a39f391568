"""Reading a prompt's words for captions: clauses without camera talk, keywords, topics, mood."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from i2v.prompts.profanity import clean, is_profane
from i2v.prompts.vocabulary import (
    CAMERA_WORDS,
    GERUNDS,
    MOOD_WORDS,
    PROPER_NAMES,
    STOP_WORDS,
    TOPICS,
    word_set,
)

# Enough for any caption; a pasted essay is not read to its end.
_MAX_CHARS = 4000
_LONGEST_WORD = 30


_MOD = r"(?:(?:very|slow(?:ly)?|gentl[ey]|subtl[ey]|smooth(?:ly)?|fast|quick(?:ly)?|steady|dramatic(?:ally)?|cinematic)\s+)"  # noqa: E501
_ANY_VERB = (
    r"(?:zoom(?:s|ing|ed)?|push(?:es|ing|ed)?|pull(?:s|ing|ed)?|dolly(?:ing)?|truck(?:s|ing)?"
    r"|crane[sd]?|track(?:s|ing)?|pan(?:s|ning|ned)?|tilt(?:s|ing|ed)?|orbit(?:s|ing)?"
    r"|rotat(?:e|es|ing)|mov(?:e|es|ing)|drift(?:s|ing)?|glid(?:e|es|ing)|circl(?:e|es|ing))"
)
# Without "camera" in front, only these, and only with a direction, a modifier ("slow pan") or
# at the start of a clause: "leaves moving in the wind" and "a frying pan" are not camera talk.
_VERB = r"(?:push(?:es|ing)?|pull(?:s|ing)?|dolly(?:ing)?|pan(?:s|ning)?|tilt(?:s|ing)?|orbit(?:s|ing)?)"  # noqa: E501
_WAY = r"(?:\s+(?:in|out|back|left|right|up|down|upwards?|downwards?|around|away|forward|closer|slowly|gently))"  # noqa: E501
_CAMERA = re.compile(
    rf"(?:\b{_MOD}*(?:the\s+)?camera\s+{_MOD}*{_ANY_VERB}{_WAY}*"
    rf"|\b{_MOD}*{_VERB}{_WAY}+|\b{_MOD}+{_VERB}{_WAY}*|^{_VERB}{_WAY}*"
    rf"|\b{_MOD}*zoom(?:s|ing|ed)?{_WAY}*"
    r"|\b(?:an?\s+)?(?:tracking|dolly|crane|drone|aerial|establishing|wide|medium|static|handheld"
    r"|locked[- ]off|pov)\s+shots?(?:\s+of)?"
    r"|\b(?:an?\s+)?(?:extreme\s+)?close[- ]?up(?:\s+(?:shot|view))?(?:\s+of)?"
    r"|\b(?:the\s+)?camera(?:\s+(?:moves?|motion|movement))?)\b",
    re.IGNORECASE,
)
_RENDER_TALK = re.compile(
    r"\b(?:4k|8k|hd|uhd|\d+\s*fps|high[- ]quality|best quality|masterpiece|ultra[- ]?realistic"
    r"|hyper[- ]?realistic|photo[- ]?realistic|highly detailed|sharp focus|trending on \w+"
    r"|unreal engine|octane render|cinematic(?: lighting| look| style)?|seamless loop)\b",
    re.IGNORECASE,
)
_ASK = re.compile(
    r"^(?:please\s+)?(?:(?:create|generate|make|render)\s+(?:a\s+)?(?:short\s+)?(?:video|clip|animation)\s+of"
    r"|(?:a\s+)?(?:short\s+)?(?:video|clip|animation)\s+of|animate|show(?:\s+me)?|bring\s+to\s+life)\s+",
    re.IGNORECASE,
)
_LEAD_IN = re.compile(r"^(?:on|onto|into|to|toward|towards|over|across|around|along|at|from)\s+")
_MAKE = re.compile(r"^(?:please\s+)?(?:make|let|have)\s+(.+)$", re.IGNORECASE)
_CLAUSE_SPLIT = re.compile(r"[.,;:!?\n()\[\]|]+|\s+(?:then|and then|while|as)\s+", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_USER_TAG = re.compile(r"(?<![\w#])#([^\W][\w]*)")
# Links, mentions and hashtags (or what is left of a broken one, "#'B") are not descriptions.
_NOISE = re.compile(r"https?://\S+|www\.\S+|(?<!\w)@\w+|#\S*")


@dataclass(frozen=True, slots=True)
class PromptWords:
    """What captions and hashtags read from a prompt; every field is free of profanity."""

    clauses: tuple[str, ...]  # what the video shows, camera talk removed, best first
    keywords: tuple[str, ...]  # searchable single words, most telling first, case as typed
    user_tags: tuple[str, ...]  # hashtags typed into the prompt, with their '#'
    topics: tuple[str, ...]  # topic names (see hashtags.TOPICS), strongest first
    mood: str
    english: bool  # False when the prompt reads as another language: hooks keep its words
    profane: bool  # the prompt had words we left out


def normalize(text: str) -> str:
    """NFC, no control characters, one space between words, lines kept."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()


def without_symbols(text: str) -> str:
    """Emoji and other symbols out (a hook gets its own emoji), each run read as a comma."""
    # A run of emoji ends a thought, like a comma: "waves on rocks 🔥🔥 sunset vibes".
    kept = "".join(
        "," if ch == "\n" or unicodedata.category(ch) in ("So", "Sk", "Cs") else ch for ch in text
    )
    kept = kept.replace("\u200d", "").replace("\ufe0f", "")
    return " ".join(re.sub(r"\s*,[\s,]*", ", ", kept).strip(" ,").split())


_EDGE_WORDS = word_set("with and as while on in of the a an to at into onto from for then also")


def has_camera_talk(text: str) -> bool:
    """True when `text` tells the camera what to do ("slow push in", "pan left", "zoom")."""
    return any(_CAMERA.search(part.strip()) for part in _CLAUSE_SPLIT.split(text))


def _trim_edges(text: str) -> str:
    """Drop the joining words a removed phrase leaves dangling: "a portrait of a woman with"."""
    words = text.strip(" -–—'\"").split()
    while words and words[-1].lower() in _EDGE_WORDS:
        words.pop()
    while words and words[0].lower() in ("and", "then", "also", "with", "as", "while"):
        words.pop(0)
    return " ".join(words)


def _describe(clause: str) -> tuple[str, bool]:
    """The clause as a description of the video, and True when all that was left of it was the
    camera's target ("zoom in on her face": "her face")."""
    text = _ASK.sub("", _trim_edges(_RENDER_TALK.sub(" ", clause)))
    made = _MAKE.match(text)
    if made:
        words = made.group(1).split()
        text = made.group(1)
        for index, word in enumerate(words[1:4], start=1):
            gerund = GERUNDS.get(word.lower())
            if gerund:
                rest = words[index + 1 :]
                if gerund.endswith("wind") and any(w.lower() == "wind" for w in rest):
                    gerund = gerund.split()[0]
                text = " ".join([*words[:index], gerund, *rest])
                break
    stripped = text = _trim_edges(text)
    # Until nothing is left to remove: cutting "push" off "push pan" makes "pan" the start.
    while (shorter := _trim_edges(_CAMERA.sub(" ", stripped))) != stripped:
        stripped = shorter
    lead_in = _LEAD_IN.match(stripped.lower())
    if stripped != text and lead_in:
        return _trim_edges(stripped[lead_in.end() :]), True
    return stripped, False


def _content(clause: str) -> list[str]:
    return [
        w
        for w in _WORD.findall(clause.lower())
        if w not in STOP_WORDS and w not in CAMERA_WORDS and not w.isdigit()
    ]


def clauses_of(text: str) -> tuple[str, ...]:
    """The prompt's clauses that say what the video shows: camera talk, render talk and
    instructions ("make", "animate") removed, profanity dropped; camera targets ("on her face")
    last."""
    shown: list[str] = []
    targets: list[str] = []
    for part in _CLAUSE_SPLIT.split(text):
        # A "word" of 40 letters is a pasted hash or a stuck key, not a description.
        part = " ".join(w for w in part.split() if len(w) <= _LONGEST_WORD)
        # Profanity out first: what is left after it must still be read for camera talk.
        described, aimed = _describe(clean(part))
        described = _trim_edges(clean(described))
        if _content(described):
            (targets if aimed else shown).append(described)
    return tuple(dict.fromkeys([*shown, *targets]))


def _taggable(word: str) -> bool:
    lower = word.lower()
    return (
        3 <= len(lower) <= _LONGEST_WORD
        and lower not in STOP_WORDS
        and lower not in CAMERA_WORDS
        and not any(ch.isdigit() for ch in lower)
    )


def _names(text: str) -> set[str]:
    """Words written with a capital inside a sentence (lowered), and the few we know are names:
    "golden hour in Santorini", "Tokyo street at night"."""
    names = {
        m.group(1).lower()
        for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([^\W\d_][^\W\d_]*)", text)
        if m.group(1)[:1].isupper() and m.group(1)[1:].islower()
    }
    return names | PROPER_NAMES


def keywords_of(text: str, triggers: frozenset[str]) -> tuple[str, ...]:
    """Searchable words, topic words first, then by count and first appearance; '-ing' and
    '-ly' words after nouns, since they make weak search terms on their own."""
    words = [w.lower() for w in _WORD.findall(text) if _taggable(w)]
    counts = Counter(words)
    order = {w: i for i, w in enumerate(dict.fromkeys(words))}
    names = _names(text)

    def rank(word: str) -> tuple[int, int, int]:
        weak = word.endswith(("ing", "ly", "ed"))
        return (0 if word in triggers else 1 + weak, -counts[word], order[word])

    kept = [w for w in sorted(order, key=rank) if not is_profane(w)]
    return tuple(w.title() if w in names else w for w in kept)


def user_tags_of(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"#{tag}" for tag in _USER_TAG.findall(text)))


def _topics(lowered: str, tokens: set[str]) -> tuple[str, ...]:
    scores = {
        name: sum(lowered.count(w) if " " in w else w in tokens for w in topic.words)
        for name, topic in TOPICS.items()
    }
    # sorted() is stable, so TOPICS' order (specific first) breaks ties.
    return tuple(t for t in sorted(scores, key=lambda t: -scores[t]) if scores[t] > 0)


def _mood(tokens: set[str], topics: tuple[str, ...]) -> str:
    score = Counter({mood: 2 * len(tokens & words) for mood, words in MOOD_WORDS.items()})
    for rank, topic in enumerate(topics[:2]):
        score[TOPICS[topic].mood] += 3 if rank == 0 else 1
    ranked = sorted(MOOD_WORDS, key=lambda m: -score[m])
    return ranked[0] if score[ranked[0]] > 0 else "wonder"


def read_prompt(prompt: str, *, subject_hint: str | None = None) -> PromptWords:
    """Everything a caption needs from the prompt, and from a subject found elsewhere."""
    text = normalize(prompt)[:_MAX_CHARS]
    plain = without_symbols(_NOISE.sub(" ", text))
    hint = without_symbols(_NOISE.sub(" ", normalize(subject_hint or "")[:_MAX_CHARS]))
    clauses = clauses_of(hint) + clauses_of(plain) if hint else clauses_of(plain)
    # Read from the clauses, not the prompt: they are what the video shows.
    shown = " . ".join(clauses)
    lowered = " ".join(_WORD.findall(shown.lower()))
    tokens = set(lowered.split())
    topics = _topics(lowered, tokens)
    triggers = frozenset(w for t in topics for w in TOPICS[t].words)
    return PromptWords(
        clauses=tuple(dict.fromkeys(clauses)),
        keywords=keywords_of(shown, triggers),
        user_tags=user_tags_of(text),
        topics=topics,
        mood=_mood(tokens, topics),
        english=len(tokens & _ENGLISH) >= len(tokens & _SPANISH),
        profane=is_profane(f"{hint} {plain}"),
    )


_ENGLISH = word_set("the a an and of in on at with is her his their over into from")
_SPANISH = word_set("el la los las un una de del en y con por para al sobre su")
