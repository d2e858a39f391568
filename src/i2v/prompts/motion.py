"""Read the camera motion and its strength out of a free-text motion prompt."""

from __future__ import annotations

import re
from dataclasses import dataclass

from i2v.domain.motion import DEFAULT_INTENSITY, DEFAULT_MOTION, Intensity, Motion


@dataclass(frozen=True, slots=True)
class MotionCue:
    motion: Motion
    intensity: Intensity
    matched: bool  # False when the prompt named no motion and the default was used


# Order matters: diagonals and explicit zooms are tried before single directions.
_ZOOM_IN = r"\b(zoom(s|ing)?\s+in(to)?|push(es|ing)?\s+in|dolly(ing)?\s+in|close\s+in)\b"
_ZOOM_OUT = r"\b(zoom(s|ing)?\s+out|pull(s|ing)?\s+(back|out)|dolly(ing)?\s+out|reveal)\b"
_DIRECTION = (
    r"(pan(s|ning)?|tilt(s|ing)?|track(s|ing)?|mov(e|es|ing)|glid(e|es|ing)"
    r"|drift(s|ing)?|sweep(s|ing)?)"
)
_HORIZONTAL = {"left": -1, "right": 1}
_VERTICAL = {"up": -1, "upward": -1, "upwards": -1, "down": 1, "downward": 1, "downwards": 1}

_DIAGONALS: dict[tuple[int, int], Motion] = {
    (-1, -1): Motion.PAN_UP_LEFT,
    (1, -1): Motion.PAN_UP_RIGHT,
    (-1, 1): Motion.PAN_DOWN_LEFT,
    (1, 1): Motion.PAN_DOWN_RIGHT,
    (-1, 0): Motion.PAN_LEFT,
    (1, 0): Motion.PAN_RIGHT,
    (0, -1): Motion.PAN_UP,
    (0, 1): Motion.PAN_DOWN,
}

_SUBTLE = r"\b(slow(ly)?|gentle|gently|subtle|subtly|soft(ly)?|calm|slight(ly)?)\b"
_STRONG = r"\b(fast|quick(ly)?|rapid(ly)?|dramatic(ally)?|dynamic|strong|intense|epic)\b"


def _pan_direction(text: str) -> tuple[int, int] | None:
    verb = re.search(rf"\b{_DIRECTION}\b", text)
    if not verb:
        return None
    # Direction words may trail the verb: "pans slowly up and to the right".
    clause = re.split(r"[.,;:!?]", text[verb.end() :], maxsplit=1)[0]
    # "from left to right" names where the camera starts, not where it goes.
    nearby = re.sub(r"\bfrom\s+(the\s+)?\w+", "", " ".join(clause.split()[:7]))
    found = re.findall(r"\b(left|right|up|upwards?|down|downwards?)\b", nearby)
    if not found:
        return None
    dx = next((_HORIZONTAL[w] for w in found if w in _HORIZONTAL), 0)
    dy = next((_VERTICAL[w] for w in found if w in _VERTICAL), 0)
    return dx, dy


def _intensity(text: str) -> Intensity:
    if re.search(_STRONG, text):
        return Intensity.STRONG
    if re.search(_SUBTLE, text):
        return Intensity.SUBTLE
    return Intensity.NORMAL


def motion_from_prompt(prompt: str) -> MotionCue:
    """Pick the camera motion a prompt describes; a gentle zoom in when it names none."""
    text = prompt.lower()
    if re.search(
        r"\b(static|still (shot|camera|frame)|locked[- ]off|no camera (movement|motion))\b", text
    ):
        return MotionCue(Motion.STATIC, DEFAULT_INTENSITY, True)
    if re.search(_ZOOM_OUT, text):
        return MotionCue(Motion.ZOOM_OUT, _intensity(text), True)
    if re.search(_ZOOM_IN, text):
        return MotionCue(Motion.ZOOM_IN, _intensity(text), True)
    direction = _pan_direction(text)
    if direction is not None:
        return MotionCue(_DIAGONALS[direction], _intensity(text), True)
    if re.search(r"\bzoom", text):
        return MotionCue(Motion.ZOOM_IN, _intensity(text), True)
    return MotionCue(DEFAULT_MOTION, DEFAULT_INTENSITY, False)
