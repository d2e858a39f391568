"""The enhancer's language-model path: one question per prompt, the answer checked by the rules."""

from __future__ import annotations

import re
from dataclasses import replace

from i2v.errors import LlmError
from i2v.prompts import presets
from i2v.prompts.base import ChatMessage, ChatModel, Enhanced, EnhanceRequest
from i2v.prompts.families import FamilyStyle
from i2v.prompts.parse import CameraKind, CameraMove, ParsedPrompt, parse

# Room for a reasoning model's <think> block before its answer.
MAX_TOKENS = 768

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^\s*```")
_LABEL = re.compile(
    r"^(?:#+\s*|[-*]\s+)?(?:(?:enhanced|rewritten|final|new)\s+)?prompt\s*:\s*", re.IGNORECASE
)
_QUOTES = {'"': '"', "“": "”", "'": "'", "‘": "’", "`": "`"}
_REFUSAL = re.compile(
    r"^(?:i'?m sorry|sorry\b|i can(?:'|no)t|i cannot|i won'?t|i am unable|i'm unable|as an ai)",
    re.IGNORECASE,
)
_TRANSITION = re.compile(
    r"\b(?:cuts?\s+to|transitions?|scene\s+changes?|switch(?:es)?\s+to|fades?\s+(?:in|out|to))\b",
    re.IGNORECASE,
)
_PANS = frozenset(
    {CameraKind.PAN_LEFT, CameraKind.PAN_RIGHT, CameraKind.TILT_UP, CameraKind.TILT_DOWN}
)
_ORBITS = frozenset({CameraKind.ORBIT_LEFT, CameraKind.ORBIT_RIGHT})
_STABILITY_WORDS = len(presets.STABILITY.split())


def rewrite(
    chat: ChatModel,
    request: EnhanceRequest,
    style: FamilyStyle,
    parsed: ParsedPrompt,
    rules: Enhanced,
) -> Enhanced:
    """The model's rewrite when it passes every check; else `rules`, with a note saying why."""
    messages = (
        ChatMessage("system", style.instructions),
        ChatMessage("user", context(parsed, style), image_jpeg=request.image_jpeg),
    )
    try:
        answer = chat.complete(messages, max_tokens=MAX_TOKENS)
    except LlmError as exc:
        return _fallback(rules, _failure(exc))
    prompt = clean(answer)
    problem = check(prompt, parsed, style)
    if problem is not None:
        return _fallback(rules, f"the language model's answer {problem}")
    if presets.MARKER not in prompt.lower():
        ended = prompt if prompt.endswith((".", "!", "?")) else prompt + "."
        prompt = f"{ended} {presets.STABILITY}"
    return Enhanced(request.prompt, prompt, style.negative_prompt, request.family, "llm")


def context(parsed: ParsedPrompt, style: FamilyStyle) -> str:
    """The user message: the prompt, and what the rules understood of it."""
    lines = [f"Prompt: {parsed.text or '(empty: invent gentle motion that fits the picture)'}"]
    if parsed.camera:
        moves = ", then ".join(_describe(m) for m in parsed.camera)
        lines.append(f"Camera moves named, in order: {moves}. Keep them.")
    elif parsed.camera_mentioned:
        lines.append("The user mentions the camera: keep their camera wording.")
    else:
        lines.append("No camera move named: add none.")
    found = (
        ("Subject", (parsed.subject,) if parsed.subject else ()),
        ("Subject motion", parsed.subject_motion),
        ("Scene motion", parsed.scene_motion),
        ("Speed", parsed.speed_words),
        ("Style words to keep", parsed.style),
    )
    lines.extend(f"{name}: {'; '.join(values)}." for name, values in found if values)
    if parsed.quoted:
        quoted = ", ".join(f'"{q}"' for q in parsed.quoted)
        lines.append(f"Quoted text, to keep exactly: {quoted}.")
    if style.answer_words is not None:
        lines.append(f"Word limit: {style.answer_words} words.")
    return "\n".join(lines)


def clean(answer: str) -> str:
    """The prompt inside an answer: no reasoning, fences, headings, labels or wrapping quotes."""
    text = _THINK.sub(" ", answer)
    low = text.lower()
    if "</think>" in low:  # the server ate the opening tag: what follows is the answer
        text = text[low.rindex("</think>") + len("</think>") :]
    elif "<think>" in low:  # cut off while reasoning: there is no answer
        text = text[: low.index("<think>")]
    lines = [line.strip() for line in text.splitlines() if not _FENCE.match(line)]
    lines = [line for line in lines if line]
    if len(lines) > 1 and lines[0].endswith(":"):  # "Here is the rewritten prompt:"
        lines = lines[1:]
    text = _LABEL.sub("", " ".join(lines)).replace("**", "").replace("__", "")
    text = " ".join(text.split())
    for _ in range(2):
        close = _QUOTES.get(text[:1])
        if close is None or len(text) < 2 or not text.endswith(close) or close in text[1:-1]:
            break
        text = text[1:-1].strip()
    return text


def check(prompt: str, parsed: ParsedPrompt, style: FamilyStyle) -> str | None:
    """Why an answer cannot be used ("was empty", "added a camera move"), or None."""
    if not prompt:
        return "was empty"
    if _REFUSAL.match(prompt):
        return "was a refusal"
    words = len(prompt.split()) + (0 if presets.MARKER in prompt.lower() else _STABILITY_WORDS)
    if style.max_words is not None and words > style.max_words:
        return f"was over the {style.max_words}-word limit"
    if any(quoted not in prompt for quoted in parsed.quoted):
        return "lost the quoted text"
    if not style.transitions and _TRANSITION.search(prompt) and not _TRANSITION.search(parsed.text):
        return "added a cut or a transition"
    return _camera_problem(parsed, parse(prompt))


def _camera_problem(user: ParsedPrompt, answer: ParsedPrompt) -> str | None:
    if not user.camera_named:
        return "added a camera move" if answer.camera else None
    if not answer.camera_named:
        return "dropped the camera move"
    asked = {m.kind for m in user.camera}
    got = {m.kind for m in answer.camera}
    if any(not any(_same(a, g) for g in got) for a in asked):
        return "changed the camera move"
    if asked and any(not any(_same(a, g) for a in asked) for g in got):
        return "added a camera move"
    return None


def _same(a: CameraKind, b: CameraKind) -> bool:
    """The same move, or one said with and without its direction ("pan" and "pan left")."""
    pair = {a, b}
    return (
        a is b
        or (CameraKind.PAN in pair and bool(pair & _PANS))
        or (CameraKind.ORBIT in pair and bool(pair & _ORBITS))
    )


def _describe(move: CameraMove) -> str:
    text = move.kind.value.replace("_", " ")
    if move.target:
        text += f" {move.target}"
    return text + (" (at the same time)" if move.with_previous else "")


def _failure(exc: LlmError) -> str:
    """What went wrong, in words fit for the user: a status, never the server's text."""
    status = exc.status
    if status is None:
        if exc.retryable:
            return "the language model could not be reached or timed out"
        return "the language model gave no usable answer"
    if status == 429:
        return "the language model was busy (HTTP 429)"
    if status >= 500:
        return f"the language model failed (HTTP {status})"
    if status in (401, 403):
        return f"the language model refused our credentials (HTTP {status})"
    if 200 <= status < 300:
        return "the language model gave no usable answer"
    return f"the language model refused the request (HTTP {status})"


def _fallback(rules: Enhanced, reason: str) -> Enhanced:
    return replace(rules, notes=(*rules.notes, f"{reason}; used the rules"))
