"""The phrases the rules fill empty slots with, each picked by a stable hash of its inputs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from i2v.domain.motion import Intensity
from i2v.prompts import lexicon as lx
from i2v.prompts.parse import ParsedPrompt

# Added to every rules and LLM result; finding it again is what makes enhancing idempotent.
STABILITY = "Background stays consistent, smooth natural motion."
MARKER = "background stays consistent"

# (singular, plural) variants; {s} is the subject ("the woman", "the dogs").
_Variant = tuple[str, str]
_PERSON: dict[bool, tuple[_Variant, ...]] = {
    False: (
        ("{s} breathes gently and blinks naturally", "{s} breathe gently and blink naturally"),
        (
            "{s} shifts slightly, with small natural movements",
            "{s} shift slightly, with small natural movements",
        ),
        (
            "{s} blinks softly and moves with a calm, natural rhythm",
            "{s} blink softly and move with a calm, natural rhythm",
        ),
    ),
    True: (
        ("{s} moves with lively, energetic motion", "{s} move with lively, energetic motion"),
        (
            "{s} moves dynamically, with clear and expressive gestures",
            "{s} move dynamically, with clear and expressive gestures",
        ),
    ),
}
_ANIMAL: dict[bool, tuple[_Variant, ...]] = {
    False: (
        ("{s} breathes and shifts slightly, looking around", "{s} breathe and shift slightly"),
        (
            "{s} moves naturally, with small lifelike movements",
            "{s} move naturally, with small lifelike movements",
        ),
    ),
    True: (("{s} moves energetically, full of life", "{s} move energetically, full of life"),),
}
_THING: dict[bool, tuple[_Variant, ...]] = {
    False: (("{s} moves smoothly and naturally", "{s} move smoothly and naturally"),),
    True: (("{s} moves quickly and smoothly", "{s} move quickly and smoothly"),),
}
_ANYONE: dict[bool, tuple[_Variant, ...]] = {
    False: (
        ("the subject moves subtly and naturally", ""),
        ("the main subject shows gentle, natural motion", ""),
    ),
    True: (("the subject moves with dynamic, energetic motion", ""),),
}
_PLURALS = lx.words("women men children people")

# (what the note calls it, the sentence variants)
_AMBIENT: dict[str, tuple[str, tuple[str, ...]]] = {
    "person": (
        "hair and clothing in a light breeze",
        (
            "Hair and clothing stir gently in a light breeze.",
            "Loose hair and fabric move softly in a light breeze.",
        ),
    ),
    "animal": (
        "fur in a light breeze",
        ("Fur ruffles slightly in a light breeze.", "The fur stirs gently in a soft breeze."),
    ),
    "water": (
        "rippling water",
        ("The water ripples gently.", "Small ripples move softly across the water."),
    ),
    "fire": (
        "flickering flames",
        ("The flames flicker softly.", "The flames sway and flicker gently."),
    ),
    "plants": (
        "leaves in a breeze",
        (
            "Leaves sway gently in a light breeze.",
            "Grass and leaves stir softly in the breeze.",
        ),
    ),
    "sky": (
        "drifting clouds",
        ("Clouds drift slowly across the sky.", "Clouds drift gently in the distance."),
    ),
    "any": (
        "a faint breeze",
        ("Small details in the scene stir gently.", "The air stirs with a faint breeze."),
    ),
}
T = TypeVar("T")
CAMERA_LABEL = "a gentle push-in"
_CAMERA = (
    "The camera slowly pushes in.",
    "A slow, gentle push-in.",
    "A gentle, steady push-in.",
)


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str  # a whole sentence, capitalised and ending in a full stop
    label: str  # what a note calls it: "subtle motion of the woman"


def pick(options: Sequence[T], *keys: str) -> T:
    """One of `options`, the same for the same keys on every run and machine."""
    digest = hashlib.sha256("\x00".join(keys).encode()).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


def _kind(subject: str | None) -> str:
    noun = subject.split()[-1] if subject else ""
    if noun in lx.PERSON_NOUNS:
        return "person"
    if noun in lx.ANIMAL_NOUNS:
        return "animal"
    return "thing" if noun in lx.THING_NOUNS else "any"


def subject_phrase(parsed: ParsedPrompt, *keys: str) -> Phrase | None:
    """What the subject does; None for a scene with no subject (the ambient motion does)."""
    words = set(parsed.text.lower().split())
    if parsed.subject is None and words & lx.SCENE_WORDS:
        return None
    kind = _kind(parsed.subject)
    table = {"person": _PERSON, "animal": _ANIMAL, "thing": _THING}.get(kind, _ANYONE)
    strong = parsed.intensity is Intensity.STRONG
    singular, plural = pick(table[strong], "subject", *keys)
    subject = parsed.subject or "the subject"
    noun = subject.split()[-1]
    many = plural and (noun in _PLURALS or (noun.endswith("s") and noun[:-1] in lx.SUBJECT_NOUNS))
    text = (plural if many else singular).format(s=subject)
    label = "subtle" if not strong else "lively"
    return Phrase(_sentence(text), f"{label} motion of {subject}")


def ambient_phrase(parsed: ParsedPrompt, *keys: str) -> Phrase:
    kind = _kind(parsed.subject)
    if kind not in ("person", "animal"):
        words = set(parsed.text.lower().replace(",", " ").replace(".", " ").split())
        kind = next((cue for cue, nouns in lx.SCENE_CUES.items() if words & nouns), "any")
    label, options = _AMBIENT[kind]
    return Phrase(pick(options, "ambient", *keys), label)


def camera_phrase(*keys: str) -> Phrase:
    return Phrase(pick(_CAMERA, "camera", *keys), CAMERA_LABEL)


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
