"""Read the camera motion and its strength out of a free-text motion prompt."""

from __future__ import annotations

from dataclasses import dataclass

from i2v.domain.motion import DEFAULT_INTENSITY, DEFAULT_MOTION, Intensity, Motion
from i2v.prompts.parse import CameraKind, parse

MAX_MOVES = 4  # more than this in one clip is a blur, not a camera move


@dataclass(frozen=True, slots=True)
class MotionCue:
    motion: Motion
    intensity: Intensity
    matched: bool  # False when the prompt named no motion and the default was used
    then: tuple[Motion, ...] = ()  # later moves, in order: "zoom out then pan left"

    @property
    def moves(self) -> tuple[Motion, ...]:
        return (self.motion, *self.then)


_ZOOMS = {CameraKind.PUSH_IN: Motion.ZOOM_IN, CameraKind.PULL_BACK: Motion.ZOOM_OUT}
_SENSES = {
    CameraKind.PAN_LEFT: (-1, 0),
    CameraKind.PAN_RIGHT: (1, 0),
    CameraKind.TILT_UP: (0, -1),
    CameraKind.TILT_DOWN: (0, 1),
}
_PANS: dict[tuple[int, int], Motion] = {
    (-1, -1): Motion.PAN_UP_LEFT,
    (1, -1): Motion.PAN_UP_RIGHT,
    (-1, 1): Motion.PAN_DOWN_LEFT,
    (1, 1): Motion.PAN_DOWN_RIGHT,
    (-1, 0): Motion.PAN_LEFT,
    (1, 0): Motion.PAN_RIGHT,
    (0, -1): Motion.PAN_UP,
    (0, 1): Motion.PAN_DOWN,
}


def motion_from_prompt(prompt: str) -> MotionCue:
    """The camera moves the renderer can draw, in order; a gentle zoom in when there is none.

    Orbits, follows, handheld and pans with no direction cannot be drawn by a 2-D camera, so
    they are skipped; a move made "up and to the right" at once becomes one diagonal pan.
    A still camera is drawn only when it is the only move named.
    """
    parsed = parse(prompt)
    moves = parsed.camera
    drawn: list[Motion] = []
    for i, move in enumerate(moves):
        if move.with_previous:
            continue
        if move.kind is CameraKind.STATIC:
            drawn.append(Motion.STATIC)
        elif move.kind in _ZOOMS:
            drawn.append(_ZOOMS[move.kind])
        elif move.kind in _SENSES:
            together = [move]
            for later in moves[i + 1 :]:
                if not later.with_previous:
                    break
                together.append(later)
            senses = [_SENSES[m.kind] for m in together if m.kind in _SENSES]
            dx = next((x for x, _ in senses if x), 0)
            dy = next((y for _, y in senses if y), 0)
            drawn.append(_PANS[(dx, dy)])
    moving = [m for m in drawn if m is not Motion.STATIC]
    if moving:
        # The same move twice in a row is one longer move.
        merged = [m for j, m in enumerate(moving) if j == 0 or m is not moving[j - 1]]
        return MotionCue(merged[0], parsed.intensity, True, tuple(merged[1:MAX_MOVES]))
    if drawn:
        return MotionCue(Motion.STATIC, DEFAULT_INTENSITY, True)
    return MotionCue(DEFAULT_MOTION, DEFAULT_INTENSITY, False)
