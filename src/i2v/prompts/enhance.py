"""Enhance a motion prompt for a model family: offline rules, or a chat model checked by them.

The rules only fill slots the user left empty (subject motion, one ambient motion, a camera
move when none was named) and always add a stability clause; the user's words stay verbatim
and first. Allowing or refusing content is the policy layer's job, never the enhancer's.
"""

from __future__ import annotations

from i2v.prompts import presets
from i2v.prompts.base import ChatModel, Enhanced, EnhanceRequest, EnhanceSource, Family
from i2v.prompts.families import FamilyStyle, Slot, style_of
from i2v.prompts.motion import motion_from_prompt
from i2v.prompts.parse import ParsedPrompt, parse
from i2v.prompts.rewrite import rewrite

# When the prompt is over the family's limit, what we added goes first, least useful first.
_DROP_FIRST = (Slot.AMBIENT, Slot.SUBJECT, Slot.CAMERA)


def enhance(request: EnhanceRequest, *, chat: ChatModel | None = None) -> Enhanced:
    """The prompt to send to the model; the same request always gives the same answer.

    With `chat`, a language model rewrites the prompt and the rules check its answer; any
    failure or unusable answer falls back to the rules' result, with a note saying so.
    """
    style = style_of(request.family)
    text = " ".join(request.prompt.split())
    if not style.rewrite:
        return _result(request, style, text, "rules", _local_notes(text))
    if is_enhanced(text):
        return _result(request, style, text, "as_typed")
    words = len(text.split())
    if style.enhance_below_words is not None and words >= style.enhance_below_words:
        note = (
            f"the prompt has {words} words; {request.family.value} prompts of "
            f"{style.enhance_below_words} words or more are used as typed"
        )
        return _result(request, style, text, "as_typed", (note,))
    parsed = parse(text)
    rules = _rules(request, style, parsed)
    if chat is None or rules.source != "rules":
        return rules
    return rewrite(chat, request, style, parsed, rules)


def enhance_off(prompt: str, family: Family) -> Enhanced:
    """The job option enhance=false: the prompt exactly as typed, with the family's negative.
    The local renderer still says when it found no camera move it can draw."""
    notes = _local_notes(prompt) if family is Family.LOCAL else ()
    return Enhanced(prompt, prompt, style_of(family).negative_prompt, family, "as_typed", notes)


def is_enhanced(prompt: str) -> bool:
    """Whether the enhancer has already been over this prompt (it adds the stability clause)."""
    return presets.MARKER in " ".join(prompt.split()).lower()


def _rules(request: EnhanceRequest, style: FamilyStyle, parsed: ParsedPrompt) -> Enhanced:
    keys = (parsed.text, request.image_sha256, request.family.value)
    parts: dict[Slot, presets.Phrase] = {}
    if parsed.text:
        parts[Slot.USER] = presets.Phrase(_sentence(parsed.text), "")
    if not parsed.subject_motion and (subject := presets.subject_phrase(parsed, *keys)):
        parts[Slot.SUBJECT] = subject
    if not parsed.scene_motion:
        parts[Slot.AMBIENT] = presets.ambient_phrase(parsed, *keys)
    if not parsed.camera_named:  # never a second camera move, nor one the user did not want
        parts[Slot.CAMERA] = presets.camera_phrase(*keys)
    parts[Slot.STABILITY] = presets.Phrase(presets.STABILITY, "")
    parts = {slot: phrase for slot, phrase in parts.items() if slot in style.order}
    limit = style.max_words
    for slot in _DROP_FIRST:  # truncation at sentence boundaries, never inside the user's text
        if limit is None or _words(parts) <= limit:
            break
        parts.pop(slot, None)
    if limit is not None and _words(parts) > limit:
        note = (
            f"the prompt has {_word_count(parsed.text)} words, about as many as "
            f"{request.family.value} models read ({limit}); used as typed"
        )
        return _result(request, style, parsed.text, "as_typed", (note,))
    prompt = " ".join(parts[slot].text for slot in style.order if slot in parts)
    return _result(request, style, prompt, "rules", _notes(parsed, parts, style))


def _word_count(text: str) -> int:
    return len(text.split())


def _words(parts: dict[Slot, presets.Phrase]) -> int:
    return sum(_word_count(phrase.text) for phrase in parts.values())


def _notes(
    parsed: ParsedPrompt, parts: dict[Slot, presets.Phrase], style: FamilyStyle
) -> tuple[str, ...]:
    added = [parts[s].label for s in (Slot.SUBJECT, Slot.AMBIENT, Slot.CAMERA) if s in parts]
    if not (parsed.camera_named or parsed.subject_motion or parsed.scene_motion):
        if Slot.CAMERA not in style.order:
            added.append(f"no camera move ({style.family.value} chooses its own)")
        return (f"no motion found in the prompt; using {_listed(added)}",)
    if Slot.CAMERA in parts:
        return (f"no camera move named; using {presets.CAMERA_LABEL}",)
    return ()


def _local_notes(text: str) -> tuple[str, ...]:
    if motion_from_prompt(text).matched:
        return ()
    return ("no camera move the local renderer can draw was found; using a gentle zoom in",)


def _listed(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _result(
    request: EnhanceRequest,
    style: FamilyStyle,
    prompt: str,
    source: EnhanceSource,
    notes: tuple[str, ...] = (),
) -> Enhanced:
    return Enhanced(request.prompt, prompt, style.negative_prompt, request.family, source, notes)
