"""Where the local renderer frames a picture: the subject found (or the user's focus), on the
canvas, the platform's safe zones, and whether the prompt asks to aim at a face."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from i2v.backends.base import Framing
from i2v.domain.size import Size
from i2v.framing.base import SafeZones, Subject
from i2v.framing.find import shared_finder, user_subject
from i2v.framing.zones import zones_for
from i2v.media.canvas import Canvas
from i2v.prompts.parse import parse

# A camera move aimed at one of these ("zoom in on her face") aims at the face, not the body.
_FACE_WORDS = re.compile(r"\b(?:face|faces|eyes?|head|smile|lips|mouth|portrait)\b")


@dataclass(frozen=True, slots=True)
class Framed:
    subject: Subject  # in fractions of the canvas, as the camera planner takes it
    zones: SafeZones
    aim_at_face: bool
    record: Framing  # in fractions of the picture, for the job


def aims_at_face(prompt: str) -> bool:
    """Whether a camera move of `prompt` is aimed at a face ("dramatic zoom in on her face")."""
    return any(
        move.target is not None and _FACE_WORDS.search(move.target) is not None
        for move in parse(prompt).camera
    )


def frame(
    rgb: NDArray[np.uint8],
    canvas: Canvas,
    output: Size,
    prompt: str,
    focus: tuple[float, float] | None,
) -> Framed:
    """The subject of the picture `rgb` (or around `focus`), placed on `canvas`."""
    subject = user_subject(focus) if focus is not None else shared_finder().find(rgb)
    face = subject.face
    on_canvas = Subject(
        box=canvas.to_canvas(subject.box),
        focus=canvas.point_to_canvas(*subject.focus),
        source=subject.source,
        face=canvas.to_canvas(face) if face is not None else None,
    )
    return Framed(
        subject=on_canvas,
        zones=zones_for(output),
        aim_at_face=face is not None and aims_at_face(prompt),
        record=Framing(focus=subject.focus, source=subject.source.value),
    )
