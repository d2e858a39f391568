"""Hashtags from a prompt: its own tags, keywords, topic tags; valid, specific, few.

The AI tag (#aivideo) is one of the hashtags and counts toward the platform's limit, since
Instagram counts every tag in a caption. It is not the disclosure: captions always carry a
plain "Made with AI" line as well, which survives a limit of 0 or 1 (with room for one tag
only, a tag about the video is worth more than the AI tag).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from itertools import zip_longest

from i2v.prompts.profanity import is_profane
from i2v.prompts.vocabulary import PHRASES, TOPICS, word_set
from i2v.prompts.words import PromptWords, read_prompt

MAX_TAGS = 5  # specific beats many: 3 to 5, whatever higher limit a platform allows
MIN_TAGS = 3
MAX_TAG_CHARS = 30  # after the '#'; longer ones read as spam and nobody searches them
AI_TAG = "#aivideo"
AI_TAGS = frozenset({"aivideo", "aiart", "aigenerated", "madewithai"})
# Safe to say about any moving photo, for prompts with too few words to tag.
FALLBACK_TAGS = ("#photoanimation", "#imagetovideo", "#motionart")

# Generic tags Instagram says hurt reach, and the usual filler; compared casefolded, no '_'.
DENIED = word_set(
    """reels reel reelsinstagram reelitfeelit instareels igreels reelsvideo trendingreels
    explore explorepage fyp fy fypシ foryou foryoupage foryourpage viral viralvideo viralreels
    trending trend instagood instagram insta instadaily instalike tiktok tiktokviral tiktoker
    photooftheday picoftheday love like likes like4like likeforlike likeforlikes follow
    followme follow4follow followforfollow f4f l4l tbt video videos capcut duet stitch ai art
    new daily happy beautiful cute amazing goodvibes"""
)
# Never tags: tags that collect pictures of children draw the wrong audience, and the others
# are too vague to search.
NO_TAG_WORDS = word_set(
    """girl girls boy boys kid kids child children baby babies toddler teen teens teenager
    woman women man men person people lady guy face hair eyes first"""
)
# Inside a tag, words run together ("#fuckthis") and word-boundary checks miss them.
_STEMS = ("fuck", "fck", "fuk", "shit", "nigg", "bitch", "whore", "slut", "porn")


def tag_budget(limit: int) -> int:
    """How many tags a caption gets under a platform limit: never more than five."""
    return max(0, min(limit, MAX_TAGS))


def _tag_key(tag: str) -> str:
    return tag.lstrip("#").casefold().replace("_", "")


def _parts(body: str) -> list[str]:
    """'GoldenHour_2024' -> ['Golden', 'Hour', '2024']."""
    parts: list[str] = []
    for chunk in re.split(r"_+", body):
        word = ""
        for ch in chunk:
            if word and (
                ch.isdigit() != word[-1].isdigit() or (word[-1].islower() and ch.isupper())
            ):
                parts.append(word)
                word = ""
            word += ch
        if word:
            parts.append(word)
    return parts


def tag_problem(tag: str) -> str | None:
    """Why `tag` may not go in a caption, or None: the syntax (letters, digits and _, not all
    digits), its length, the deny-list, profanity."""
    body = tag[1:] if tag.startswith("#") else ""
    if not body:
        return "not a hashtag"
    if unicodedata.normalize("NFC", body) != body:
        return "not in normal form"
    for index, ch in enumerate(body):
        kind = unicodedata.category(ch)
        # Combining marks belong to scripts that need them, never at the start of a tag.
        if not (ch == "_" or kind[0] == "L" or kind == "Nd" or (kind[0] == "M" and index)):
            return "has a character other than a letter, a digit or _"
    if not any(ch.isalpha() for ch in body):
        return "has no letter"
    if not 2 <= len(body) <= MAX_TAG_CHARS:
        return f"is not 2 to {MAX_TAG_CHARS} characters long"
    if _tag_key(body) in DENIED:
        return "is a generic tag"
    lowered = body.casefold()
    if is_profane(body) or is_profane(" ".join(_parts(body))) or any(s in lowered for s in _STEMS):
        return "is profane"
    return None


def is_valid_tag(tag: str) -> bool:
    return tag_problem(tag) is None


def _camel(phrase: str) -> str:
    return "#" + "".join(word[:1].upper() + word[1:] for word in phrase.split())


def _pick(options: tuple[str, ...], seed: bytes, index: int) -> str:
    return options[seed[index % len(seed)] % len(options)]


def phrases_in(words: PromptWords) -> list[str]:
    """The two-word search terms (PHRASES) the prompt's clauses hold."""
    text = " ".join(words.clauses).lower()
    return [p for p in PHRASES if re.search(rf"\b{re.escape(p)}\b", text)]


def _unique(tags: Iterable[str], budget: int) -> tuple[str, ...]:
    chosen: dict[str, str] = {}
    for tag in tags:
        if len(chosen) == budget:
            break
        key = _tag_key(tag)
        if key not in chosen and is_valid_tag(tag):
            chosen[key] = tag
    return tuple(chosen.values())


def pick_hashtags(words: PromptWords, limit: int, *, seed: bytes) -> tuple[str, ...]:
    """At most `tag_budget(limit)` tags: the prompt's own tags, a two-word phrase, keywords and
    topic tags in turn, safe fillers to reach three, and the AI tag last."""
    budget = tag_budget(limit)
    own = [t for t in words.user_tags if is_valid_tag(t)]
    ai = 0 if budget < 2 or any(_tag_key(t) in AI_TAGS for t in own) else 1
    # Two from the main topic, one from the next: a car on a mountain road is about the car.
    topic_tags = []
    if words.topics:
        main = TOPICS[words.topics[0]].tags
        second = [TOPICS[name].tags[0] for name in words.topics[1:2]]
        topic_tags = [_pick(main, seed, 0), *second, *main]
    taggable = [w.lower() for w in words.keywords if w.lower() not in NO_TAG_WORDS]
    # "#blowing" or "#slowly" says little: such words only fill what is left.
    weak = [f"#{w}" for w in taggable if w.endswith(("ing", "ly", "ed"))]
    keyword_tags = [f"#{w}" for w in taggable if f"#{w}" not in weak][:6]
    mixed = [t for pair in zip_longest(keyword_tags, topic_tags) for t in pair if t]
    extra = [t for name in words.topics for t in TOPICS[name].tags]
    chosen = _unique(
        [*own, *[_camel(p) for p in phrases_in(words)][:1], *mixed, *extra, *weak], budget - ai
    )
    enough = min(MIN_TAGS, budget) - ai
    if len(chosen) < enough:
        chosen = _unique([*chosen, *FALLBACK_TAGS], enough)
    return (*chosen, AI_TAG) if ai else chosen


def hashtags(prompt: str, limit: int, *, seed: str = "") -> tuple[str, ...]:
    """Hashtags for a video made from `prompt`, at most `limit` (and at most five)."""
    digest = hashlib.sha256(f"{prompt}\x1f{seed}".encode()).digest()
    return pick_hashtags(read_prompt(prompt), limit, seed=digest)
