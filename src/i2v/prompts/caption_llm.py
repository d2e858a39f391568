"""A chat model's rewrite of the offline caption, used only when it passes every check."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from i2v.errors import LlmError
from i2v.prompts.base import Caption, ChatMessage, ChatModel, Platform
from i2v.prompts.captions import CAPTION_LIMIT, HOOK_LIMITS, assemble, caption_length
from i2v.prompts.hashtags import tag_budget, tag_problem
from i2v.prompts.profanity import clean, is_profane
from i2v.prompts.words import has_camera_talk

_MAX_TOKENS = 700
_PROMPT_CHARS = 1000  # the model needs the gist, not a pasted essay
_THOUGHT = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCED = re.compile(r"```[^\n]*\n(.*?)(?:```|$)", re.DOTALL)
_PREAMBLE = re.compile(r"^(?:here(?:'s| is)|sure|okay|ok|certainly|rewritten)\b.*:$", re.IGNORECASE)
_LABEL = re.compile(
    r"^(?:\d\.\s*)?(?:hook|body|line \d|searchable|cta|call to action|hashtags|disclosure)\s*:\s*",
    re.IGNORECASE,
)


class _Refused(Exception):
    """The answer broke a rule; its message says which, for the caption's notes."""


def system_prompt(platform: Platform, *, max_hashtags: int) -> str:
    name = "Instagram" if platform is Platform.INSTAGRAM else "TikTok"
    budget = tag_budget(max_hashtags)
    units = ", counting each emoji as two" if platform is Platform.TIKTOK else ""
    tags = (
        f"{min(3, budget)} to {budget} hashtags on one line, specific to this video: letters, "
        "digits and _ only, none repeated, nothing generic such as #fyp, #foryou, #viral, "
        "#explore, #trending or #reels."
        if budget
        else "no hashtags at all."
    )
    return (
        "You edit captions for short videos that were made with AI from a single photo. Rewrite "
        f"the {name} caption you are given so it reads as if a real creator wrote it: warm, "
        "specific, no cliches. Keep to what the caption and the video prompt say; invent no "
        "places, names or events.\n"
        "Answer with the caption alone, one part per line, in this order:\n"
        f"1. A hook of at most {HOOK_LIMITS[platform]} characters about what the viewer sees. "
        "Never mention the camera or its moves (zoom, pan, push in, tracking).\n"
        "2. One or two short lines with the words people would search for.\n"
        '3. One call to action: a question, "save this" or "follow for more".\n'
        "4. Exactly this line: Made with AI\n"
        f"5. {tags}\n"
        f"The whole caption stays under {CAPTION_LIMIT} characters{units}. Nothing explicit, "
        "hateful or profane. No markdown, quotes, labels or notes."
    )


def _messages(template: Caption, prompt: str, max_hashtags: int) -> list[ChatMessage]:
    shown = clean(" ".join(prompt.split()))[:_PROMPT_CHARS] or "(none)"
    return [
        ChatMessage("system", system_prompt(template.platform, max_hashtags=max_hashtags)),
        ChatMessage("user", f"Video prompt: {shown}\n\nCaption:\n{template.text}"),
    ]


def answer_lines(answer: str) -> list[str]:
    """The caption's lines from a chat answer: thinking, code fences, a preamble ("Here's your
    caption:"), bold markers and line labels ("Hook:") removed."""
    text = _THOUGHT.sub("", answer)
    if "</think>" in text.lower():  # the opening tag was eaten by the server's template
        text = text[text.lower().rindex("</think>") + len("</think>") :]
    if "<think>" in text.lower():
        raise _Refused("the answer is unfinished thinking")
    fenced = _FENCED.search(text)
    if fenced:
        text = fenced.group(1)
    lines = [_LABEL.sub("", line.replace("**", "").strip()) for line in text.splitlines()]
    lines = [line.strip().strip('"“”') for line in lines if line.strip()]
    if lines and _PREAMBLE.match(lines[0]):
        lines = lines[1:]
    return lines


def _is_disclosure(line: str, disclosure: str) -> bool:
    letters = "".join(
        ch for ch in line.casefold() if ch.isspace() or unicodedata.category(ch)[0] in "LN"
    )
    return " ".join(letters.split()) == disclosure.casefold()


def _checked(lines: list[str], template: Caption, max_hashtags: int) -> Caption:
    platform = template.platform
    tags: list[str] = []
    if lines and all(word.startswith("#") for word in lines[-1].split()):
        tags = lines.pop().split()
    if any(word.startswith("#") for line in lines for word in line.split()):
        raise _Refused("hashtags outside the last line")
    kept = [line for line in lines if not _is_disclosure(line, template.disclosure)]
    if len(kept) == len(lines):
        raise _Refused(f'no "{template.disclosure}" line')
    if not 3 <= len(kept) <= 4:
        raise _Refused(f"{len(kept)} lines besides the disclosure and hashtags, not 3 or 4")
    hook, *body, call = kept
    if caption_length(hook, platform) > HOOK_LIMITS[platform]:
        raise _Refused(f"a hook over {HOOK_LIMITS[platform]} characters")
    if has_camera_talk(hook):
        raise _Refused("a hook about the camera")
    if len(tags) > tag_budget(max_hashtags):
        raise _Refused(f"{len(tags)} hashtags, over {tag_budget(max_hashtags)}")
    for tag in tags:
        problem = tag_problem(tag)
        if problem:
            raise _Refused(f"hashtag {tag} {problem}")
    if len({tag.casefold().replace("_", "") for tag in tags}) < len(tags):
        raise _Refused("a repeated hashtag")
    if any(is_profane(line) for line in kept):
        raise _Refused("profanity")
    whole = "\n".join([hook, *body, call, template.disclosure, " ".join(tags)]).strip()
    if caption_length(whole, platform) > CAPTION_LIMIT:
        raise _Refused(f"over {CAPTION_LIMIT} characters")
    return assemble(platform, hook, body, call, tags, disclosure=template.disclosure, source="llm")


def rewrite(template: Caption, prompt: str, chat: ChatModel, *, max_hashtags: int) -> Caption:
    """The chat model's version of `template`, or `template` with a note saying why not."""
    try:
        answer = chat.complete(_messages(template, prompt, max_hashtags), max_tokens=_MAX_TOKENS)
        return _checked(answer_lines(answer), template, max_hashtags)
    except LlmError as error:
        reason = f"the chat model failed ({error.message})"
    except _Refused as refused:
        reason = f"the chat model's caption was refused: {refused}"
    return replace(template, notes=(*template.notes, f"{reason}; the offline caption was used"))
