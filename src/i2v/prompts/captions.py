"""Social captions for a generated video, within each platform's limits; offline or rewritten.

Each caption has a hook, one or two searchable lines, a call to action, an AI disclosure and
hashtags on its last line; a chat model, when given, may only rewrite it within the same checks.

Instagram counts a caption's length in characters (code points), TikTok in UTF-16 code units,
so an emoji counts two there. The hook is held to what shows before "more" (125 on Instagram,
100 on TikTok), counted the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from i2v.prompts.base import Caption, ChatModel, Platform
from i2v.prompts.caption_templates import (
    CALLS,
    DISCLOSURE,
    EMPTY_HOOKS,
    HOOKS,
    KEYWORD_LINES,
    PLAIN_HOOK,
    TOPIC_LINES,
)
from i2v.prompts.hashtags import NO_TAG_WORDS, phrases_in, pick_hashtags
from i2v.prompts.profanity import is_profane
from i2v.prompts.vocabulary import PROPER_NAMES, STOP_WORDS, TOPICS
from i2v.prompts.words import PromptWords, read_prompt

CAPTION_LIMIT = 2200
HOOK_LIMITS = {Platform.INSTAGRAM: 125, Platform.TIKTOK: 100}
_LINE_LIMIT = 220  # a body line longer than this is an essay, not a caption
_SUBJECT_WORDS = 14  # enough for "a red Porsche 911 drifting around a mountain corner"
_GENERIC_BODY = "A single still photo, turned into a few seconds of motion."


def caption_length(text: str, platform: Platform) -> int:
    """Length as the platform counts it: code points on Instagram, UTF-16 units on TikTok."""
    if platform is Platform.TIKTOK:
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    return len(text)


def _digest(prompt: str, seed: str, platform: Platform) -> bytes:
    return hashlib.sha256(f"{prompt}\x1f{seed}\x1f{platform.value}".encode()).digest()


def _pick(options: Sequence[str], digest: bytes, slot: int) -> str:
    return options[int.from_bytes(digest[2 * slot : 2 * slot + 2], "big") % len(options)]


def _cut(text: str, limit: int, platform: Platform) -> str:
    """`text` cut at a word boundary to `limit`, with an ellipsis where anything was cut."""
    if caption_length(text, platform) <= limit:
        return text
    words = text.split()
    while words and caption_length(" ".join(words) + "…", platform) > limit:
        words.pop()
    while len(words) > 1 and words[-1].lower().strip(",.;:") in STOP_WORDS:
        words.pop()
    return (" ".join(words).rstrip(",.;:-–— ") + "…") if words else ""


def _inside(subject: str) -> str:
    """The subject as it reads inside a sentence: "Beach sunset" -> "beach sunset"."""
    first = subject.split()[0] if subject.split() else ""
    if first.lower() in PROPER_NAMES or (len(first) > 1 and not first[1:].islower()):
        return subject
    return subject[:1].lower() + subject[1:]


def _fill(template: str, subject: str, emoji: str) -> str:
    text = template.format(S=subject[:1].upper() + subject[1:], s=_inside(subject), e=emoji)
    return " ".join(text.replace("….", "…").replace("…,", "…").split())


def _shortened(words: list[str], count: int) -> str:
    if count >= len(words):
        return " ".join(words)
    kept = words[:count]
    while len(kept) > 1 and kept[-1].lower().strip(",.;:") in STOP_WORDS:
        kept.pop()
    return " ".join(kept).rstrip(",.;:-–— ") + "…"


def _hook(words: PromptWords, platform: Platform, digest: bytes, emoji: str) -> str:
    limit = HOOK_LIMITS[platform]
    if not words.clauses:
        return _pick(EMPTY_HOOKS[platform], digest, 0)
    subject = words.clauses[0].split()
    template = _pick(HOOKS[words.mood][platform], digest, 0) if words.english else PLAIN_HOOK
    # A long subject is shortened to fit the template before the template is given up.
    for candidate in (template, PLAIN_HOOK):
        for count in range(min(len(subject), _SUBJECT_WORDS), min(3, len(subject)) - 1, -1):
            hook = _fill(candidate, _shortened(subject, count), emoji)
            if caption_length(hook, platform) <= limit:
                return hook
    return _cut(_fill(PLAIN_HOOK, " ".join(subject), emoji), limit, platform) or _pick(
        EMPTY_HOOKS[platform], digest, 0
    )


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _keyword_line(words: PromptWords, platform: Platform, digest: bytes) -> str | None:
    """The prompt's search terms in a sentence; two-word terms kept whole ("golden hour")."""
    phrases = phrases_in(words)
    used = {w for p in phrases for w in p.split()}
    items = [
        *phrases,
        *(
            w
            for w in words.keywords
            if w.lower() not in used
            and w.lower() not in NO_TAG_WORDS
            and not w.lower().endswith(("ing", "ly", "ed"))
        ),
    ][:3]
    if len(items) < 2:  # "Sunset: one photo, brought to life" says nothing the hook did not
        return None
    if not words.english:  # no English sentence around words of another language
        return " · ".join(items)
    listed = _listed(items)
    line = _pick(KEYWORD_LINES[platform], digest, 1)
    return line.format(K=listed[:1].upper() + listed[1:], k=listed)


def _body(words: PromptWords, platform: Platform, digest: bytes) -> tuple[str, ...]:
    lines: list[str] = []
    details = [c for c in words.clauses[1:] if len(c.split()) >= 3]
    if details:
        detail = _cut(details[0][:1].upper() + details[0][1:], _LINE_LIMIT - 1, platform)
        if detail:
            lines.append(detail if detail.endswith("…") else detail + ".")
    keyword_line = _keyword_line(words, platform, digest)
    if keyword_line:
        lines.append(_cut(keyword_line, _LINE_LIMIT, platform))
    if len(lines) < 2 and words.topics:
        lines.append(TOPIC_LINES[words.topics[0]])
    return tuple(lines[:2]) or (_GENERIC_BODY,)


def _text(hook: str, body: Iterable[str], cta: str, tags: Sequence[str], disclosure: str) -> str:
    lines = [hook, *body, cta, disclosure]
    if tags:
        lines.append(" ".join(tags))
    return "\n".join(line for line in lines if line)


def assemble(
    platform: Platform,
    hook: str,
    body: Sequence[str],
    call_to_action: str,
    hashtags: Sequence[str],
    *,
    disclosure: str = DISCLOSURE,
    source: Literal["template", "llm"] = "template",
    notes: Sequence[str] = (),
) -> Caption:
    """The caption, its body trimmed (last line first) until the whole fits the platform's
    limit; the hook, the call to action, the hashtags and the disclosure are never cut, and
    ValueError says they alone are over it."""
    lines = list(body)
    trimmed = f"body trimmed to fit {CAPTION_LIMIT}"
    note = list(notes)
    while caption_length(_text(hook, lines, call_to_action, hashtags, disclosure), platform) > (
        CAPTION_LIMIT
    ):
        if not lines:
            raise ValueError(f"the caption's fixed parts are over {CAPTION_LIMIT} on {platform}")
        if len(lines) > 1:
            lines.pop()
        else:
            fixed = caption_length(_text(hook, [], call_to_action, hashtags, disclosure), platform)
            lines = [line for line in [_cut(lines[0], CAPTION_LIMIT - fixed - 1, platform)] if line]
        note += [] if trimmed in note else [trimmed]
    return Caption(
        platform=platform,
        hook=hook,
        body=tuple(lines),
        call_to_action=call_to_action,
        hashtags=tuple(hashtags),
        disclosure=disclosure,
        text=_text(hook, lines, call_to_action, hashtags, disclosure),
        source=source,
        notes=tuple(note),
    )


def template_caption(
    prompt: str,
    platform: Platform,
    *,
    max_hashtags: int,
    subject_hint: str | None = None,
    seed: str = "",
) -> Caption:
    """The offline caption: the same prompt, seed and platform always give the same caption."""
    digest = _digest(prompt, seed, platform)
    words = read_prompt(prompt, subject_hint=subject_hint)
    emoji = TOPICS[words.topics[0]].emoji if words.topics else "✨"
    notes: list[str] = []
    if words.profane:
        notes.append("profane words in the prompt were left out of the caption")
    if not words.clauses:
        notes.append("the prompt names nothing to show, so the caption is generic")
    hook = _hook(words, platform, digest, emoji)
    body = _body(words, platform, digest)
    if is_profane(hook) or any(is_profane(line) for line in body):  # words that meet on a line
        hook, body = _pick(EMPTY_HOOKS[platform], digest, 0), (_GENERIC_BODY,)
    return assemble(
        platform,
        hook,
        body,
        _pick(CALLS[words.mood][platform], digest, 2),
        pick_hashtags(words, max_hashtags, seed=digest),
        notes=notes,
    )


def caption(
    prompt: str,
    platform: Platform,
    *,
    max_hashtags: int,
    subject_hint: str | None = None,
    seed: str = "",
    chat: ChatModel | None = None,
) -> Caption:
    """A caption ready to paste on `platform`, with at most `max_hashtags` hashtags (and never
    more than five). With `chat`, the model rewrites the offline caption; its answer is used
    only if it passes every check the offline one does, else the offline one is, with a note."""
    built = template_caption(
        prompt, platform, max_hashtags=max_hashtags, subject_hint=subject_hint, seed=seed
    )
    if chat is None:
        return built
    from i2v.prompts.caption_llm import rewrite

    return rewrite(built, prompt, chat, max_hashtags=max_hashtags)


def captions_for(
    prompt: str,
    platforms: Iterable[Platform],
    *,
    max_hashtags: Mapping[Platform, int] | int,
    subject_hint: str | None = None,
    seed: str = "",
    chat: ChatModel | None = None,
) -> dict[Platform, Caption]:
    """One caption per platform; `max_hashtags` per platform (the caption_max_hashtags_*
    settings) or one number for all."""
    return {
        platform: caption(
            prompt,
            platform,
            max_hashtags=max_hashtags if isinstance(max_hashtags, int) else max_hashtags[platform],
            subject_hint=subject_hint,
            seed=seed,
            chat=chat,
        )
        for platform in dict.fromkeys(platforms)
    }
