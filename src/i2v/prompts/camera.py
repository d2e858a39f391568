"""Camera moves: the fixed set of kinds, the verbs that name them, their directions and targets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class CameraKind(StrEnum):
    """The fixed set of camera moves (Hunyuan's terms); prompt wording is mapped onto these."""

    PUSH_IN = "push_in"
    PULL_BACK = "pull_back"
    PAN_LEFT = "pan_left"
    PAN_RIGHT = "pan_right"
    TILT_UP = "tilt_up"  # also "move up", "crane up", "the camera rises"
    TILT_DOWN = "tilt_down"
    PAN = "pan"  # a pan, tilt or move whose direction the prompt does not say
    ORBIT_LEFT = "orbit_left"
    ORBIT_RIGHT = "orbit_right"
    ORBIT = "orbit"  # direction not said
    FOLLOW = "follow"
    STATIC = "static"
    HANDHELD = "handheld"


@dataclass(frozen=True, slots=True)
class CameraMove:
    kind: CameraKind
    target: str | None = None  # "on her face", lower-cased as written
    words: str = ""  # the words that named the move
    with_previous: bool = False  # at once with the move before: "pans up and to the right"


@dataclass(frozen=True, slots=True)
class Verb:
    pattern: re.Pattern[str]
    kind: CameraKind | None  # None: the direction words after it decide
    generic: bool = False  # a subject's verb too: needs "camera" before it, or no other subject
    needs_camera: bool = False
    vertical: int = 0  # "the camera rises": up unless the words say otherwise


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pattern})\b")


_K = CameraKind
# "in" only where it ends the move: "moving in the wind" is no push-in.
_IN = r"in(?=\s*(?:$|[.,;:!?]|on\b|closer\b|towards?\b|slowly\b|gently\b|and\b|then\b))"
_BACK = r"backwards?|back|away|out"
_CAM = r"(?:shot|cam(?:era)?)"
_MOVE = r"mov(?:e|es|ed|ing)|drift(?:s|ed|ing)?|glid(?:e|es|ed|ing)|travel(?:s|led|ling|ed|ing)?"
VERBS = (
    Verb(_re(r"static(?=\s+(?:shot|camera|frame|view|angle)\b|\s*(?:[.,;:!?]|$))"), _K.STATIC),
    Verb(
        _re(
            r"(?:still|fixed|locked[- ]?(?:off|down)|tripod)\s+(?:shot|camera|frame)"
            r"|locked[- ]?(?:off|down)|no\s+camera\s+(?:movement|motion|moves?)"
            r"|camera\s+(?:is|stays|remains|holds)\s+(?:still|static|steady|fixed|locked)"
        ),
        _K.STATIC,
    ),
    Verb(_re(r"hand[- ]?held|shaky[- ]?cam(?:era)?"), _K.HANDHELD),
    Verb(
        _re(
            r"(?:zoom(?:s|ed|ing)?|push(?:es|ed|ing)?|dolly(?:ing|ies|ied)?|clos(?:e|es|ed|ing))"
            r"(?:[- ]in(?!to)|(?=\s+into))"
        ),
        _K.PUSH_IN,
    ),
    Verb(_re(r"zoom(?:s|ed|ing)?"), _K.PUSH_IN),
    Verb(_re(rf"(?:{_MOVE}|creep(?:s|ing)?)\s+(?:{_IN}|closer|forward)"), _K.PUSH_IN, True),
    Verb(
        _re(
            r"(?:zoom(?:s|ed|ing)?|dolly(?:ing|ies|ied)?)[- ](?:out|back)"
            r"|pull(?:s|ed|ing)?[- ](?:back|out|away)(?!\s+(?:her|his|their|its|a|the)\b)"
        ),
        _K.PULL_BACK,
    ),
    Verb(_re(rf"(?:{_MOVE}|back(?:s|ed|ing)?)\s+(?:{_BACK})"), _K.PULL_BACK, generic=True),
    Verb(_re(r"reveal"), _K.PULL_BACK, generic=True),
    Verb(_re(r"reveal(?:s|ed|ing)"), _K.PULL_BACK, needs_camera=True),
    Verb(_re(r"pan(?:s|ned|ning)?"), None),
    Verb(
        _re(
            rf"tilt(?:s|ed|ing)?|{_MOVE}|sweep(?:s|ing)?|swept|track(?:s|ed|ing)?"
            r"|slid(?:e|es|ing)|crane(?:s|d)?|craning"
        ),
        None,
        generic=True,
    ),
    Verb(_re(r"ris(?:e|es|ing)|ascend(?:s|ed|ing)?"), None, generic=True, vertical=-1),
    Verb(_re(r"descend(?:s|ed|ing)?"), None, generic=True, vertical=1),
    Verb(_re(r"orbit(?:s|ed|ing)?|arc(?:s|ed|ing)?(?=\s+(?:shot|around|left|right)\b)"), _K.ORBIT),
    Verb(
        _re(r"(?:circl(?:e|es|ed|ing)|rotat(?:e|es|ed|ing)|spin(?:s|ning)?)\s+around"),
        _K.ORBIT,
        generic=True,
    ),
    Verb(_re(rf"(?:tracking|follow(?:ing)?|chase)\s+{_CAM}|follow[- ]cam"), _K.FOLLOW),
    Verb(_re(r"follow(?:s|ed|ing)?"), _K.FOLLOW, generic=True),
)

AT_CAMERA = re.compile(r"\b(?:at|into|towards?|to)\s+(?:the\s+)?(?:camera|lens|viewer)\b")
CAMERA_MENTION = _re(
    r"camera|cam|drone|aerial|fpv|dolly|crane\s+shot|tracking|pov|point\s+of\s+view"
    r"|fly-?(?:over|through)|bird'?s[- ]eye"
)
_FROM_TO = _re(
    r"from\s+(?:the\s+)?(left|right|top|bottom)"
    r"(?:\s+(?:side\s+)?(?:to|towards?|into)\s+(?:the\s+)?(left|right|top|bottom))?"
)
_X_TO_Y = _re(r"(?:left|right|top|bottom|up|down)\s+to\s+(?:the\s+)?(left|right|top|bottom)")
_PARTS = r"eyes?|hands?|arms?|shoulders?|side|legs?|foot|feet|ears?|cheek|wing|corner|edge|half"
_DIR_WORD = re.compile(rf"\b(left|right|up|down|skyward)(?:wards?|s)?\b(?!\s+(?:{_PARTS})\b)")
_SENSE = {
    "left": (-1, 0),
    "right": (1, 0),
    "up": (0, -1),
    "top": (0, -1),
    "skyward": (0, -1),
    "down": (0, 1),
    "bottom": (0, 1),
}
_OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
_PREP = (
    r"in\s+on|on|onto|into|toward|towards|around|across|over|past|along|through|behind|above"
    r"|below|beneath|under|at|up\s+to|down\s+to|round|to(?!\s+(?:the\s+)?(?:left|right|top|bottom)\b)"
)
_ADVERBS = r"(?:(?:[a-z]+ly|slow|fast|quick|a\s+bit|a\s+little)\s+)*"
_TARGET = re.compile(rf"^\s*{_ADVERBS}((?:{_PREP})\s+\S.*)$")
OBJECT = re.compile(rf"^\s*{_ADVERBS}((?:her|him|them|it|the|a|an|his|their|its)\b.*)$")
_TARGET_STOP = re.compile(r"\b(?:and|with|where|who|which|revealing)\b|\bto\s+reveal\b")
_WORD = re.compile(r"[a-z0-9']+")
_COOKS = frozenset({"frying", "sauce", "saute", "cooking", "baking", "roasting", "dust"})


def noun_pan(low: str, start: int, end: int) -> bool:
    """A cooking pan, not a camera pan: "a frying pan", "a pan of water"."""
    before = _WORD.findall(low[max(0, start - 12) : start])
    return bool(before and before[-1] in _COOKS) or bool(re.match(r"\s+of\b", low[end:]))


def pan_kind(sense: tuple[int, int]) -> CameraKind:
    dx, dy = sense
    if dx:
        return _K.PAN_LEFT if dx < 0 else _K.PAN_RIGHT
    return _K.TILT_UP if dy < 0 else _K.TILT_DOWN


def orbit_kind(dx: int) -> CameraKind:
    if not dx:
        return _K.ORBIT
    return _K.ORBIT_LEFT if dx < 0 else _K.ORBIT_RIGHT


def direction(window: str) -> tuple[list[tuple[int, int]], int]:
    """Where a move goes, one sense per axis in word order, and where its words end."""
    words = list(re.finditer(r"\S+", window))
    head = window[: words[6].end()] if len(words) > 7 else window
    # "from left to right" names where the move starts; it goes to the second side.
    if m := _FROM_TO.search(head):
        return [_SENSE[m.group(2) or _OPPOSITE[m.group(1)]]], m.end()
    if m := _X_TO_Y.search(head):
        return [_SENSE[m.group(1)]], m.end()
    senses: list[tuple[int, int]] = []
    end = 0
    for m in _DIR_WORD.finditer(head):
        sense = _SENSE[m.group(1)]
        if all((s[0] == 0) != (sense[0] == 0) for s in senses):  # one per axis
            senses.append(sense)
            end = m.end()
    return senses, end


def target_of(window: str, *, follow: bool) -> tuple[str | None, int]:
    """What a move aims at ("on her face"), and where that phrase ends in the window."""
    stop = _TARGET_STOP.search(window)
    window = window[: stop.start()] if stop else window
    m = _TARGET.match(window) or (OBJECT.match(window) if follow else None)
    if m is None:
        return None, 0
    words = list(re.finditer(r"\S+", window[m.start(1) :]))[:6]
    if not words:
        return None, 0
    end = m.start(1) + words[-1].end()
    return window[m.start(1) : end], end
