"""Camera paths: where the output window sits on the canvas at each instant, in exact floats.

A path is a chain of keyframes (centre and window width on the canvas), one segment per
camera move. path.py plans the keyframes; this module evaluates them. Orbit-like parallax is
deliberately absent: a still picture has no depth model, so the camera can only zoom and pan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size

# How far each intensity moves the camera over one move.
ZOOM_FACTOR: dict[Intensity, float] = {
    Intensity.SUBTLE: 1.12,
    Intensity.NORMAL: 1.22,
    Intensity.STRONG: 1.40,
}
PAN_FRACTION: dict[Intensity, float] = {  # travel as a fraction of the window's extent
    Intensity.SUBTLE: 0.10,
    Intensity.NORMAL: 0.20,
    Intensity.STRONG: 0.35,
}
# (dx, dy) of the camera's travel; the content moves the other way.
PAN_DIRECTION: dict[Motion, tuple[int, int]] = {
    Motion.PAN_LEFT: (-1, 0),
    Motion.PAN_RIGHT: (1, 0),
    Motion.PAN_UP: (0, -1),
    Motion.PAN_DOWN: (0, 1),
    Motion.PAN_UP_LEFT: (-1, -1),
    Motion.PAN_UP_RIGHT: (1, -1),
    Motion.PAN_DOWN_LEFT: (-1, 1),
    Motion.PAN_DOWN_RIGHT: (1, 1),
}
# Share of a segment's time spent overlapping each neighbour. At 0.5 the next move starts
# halfway through the previous one: the camera never stops at a join (one segment is always
# in the middle of its ease), and no three segments ever run at once.
OVERLAP = 0.5


def ease_in_out(t: float) -> float:
    """Cosine ease: zero velocity at both ends, smooth (C-infinity) in between."""
    t = min(1.0, max(0.0, t))
    return 0.5 - 0.5 * math.cos(math.pi * t)


@dataclass(frozen=True, slots=True)
class Window:
    """A rectangle on the canvas, in continuous pixel coordinates (pixel i spans [i, i+1))."""

    cx: float
    cy: float
    width: float
    height: float

    @property
    def left(self) -> float:
        return self.cx - self.width / 2

    @property
    def top(self) -> float:
        return self.cy - self.height / 2

    @property
    def right(self) -> float:
        return self.cx + self.width / 2

    @property
    def bottom(self) -> float:
        return self.cy + self.height / 2


def _inside(centre: float, extent: float, side: float) -> float:
    """`centre` moved just enough that [centre -+ extent/2] lies in [0, side]."""
    lo, hi = extent / 2, side - extent / 2
    if lo > hi:  # the window fills the side, to rounding
        return side / 2
    return min(max(centre, lo), hi)


@dataclass(frozen=True, slots=True)
class Key:
    """One keyframe: the window's centre and width on the canvas (its height follows)."""

    cx: float
    cy: float
    width: float


@dataclass(frozen=True, slots=True)
class CameraPath:
    """Zoom and centre as smooth functions of t in [0, 1] over a `canvas_w` x `canvas_h` canvas.

    Segment k runs keys[k] -> keys[k+1]. Along it the state (cx, cy, width) stays on the
    straight line between the two keys, so any linear constraint both keys meet (inside the
    canvas, subject inside the safe area) holds all along; the width moves geometrically
    (equal eased steps look like equal zoom speed) and the centre in proportion to it.
    Segments overlap by OVERLAP, each with its own cosine ease, so compound moves blend
    at the joins with no stop.
    """

    canvas_w: float
    canvas_h: float
    output: Size
    keys: tuple[Key, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a camera path needs at least one keyframe")

    @property
    def base_scale(self) -> float:
        """Output px per canvas px at zoom 1: the canvas just covers the frame."""
        return max(self.output.width / self.canvas_w, self.output.height / self.canvas_h)

    @property
    def base_width(self) -> float:
        """The window's width at zoom 1."""
        return self.output.width / self.base_scale

    @property
    def segments(self) -> int:
        return len(self.keys) - 1

    def _timing(self) -> tuple[float, float]:
        """(duration, stride) of each segment: starts are k * stride, all end by t = 1."""
        n = self.segments
        duration = 1.0 / (1.0 + (n - 1) * (1.0 - OVERLAP))
        return duration, duration * (1.0 - OVERLAP)

    def progress(self, k: int, t: float) -> float:
        """Segment k's share of its straight line covered at time t (0 before, 1 after)."""
        duration, stride = self._timing()
        e = ease_in_out((t - k * stride) / duration) if self.segments > 1 else ease_in_out(t)
        a, b = self.keys[k].width, self.keys[k + 1].width
        log_ratio = math.log(b / a)
        if abs(log_ratio) < 1e-12:
            return e
        # Width a * (b/a)^e is the point (b^e a^(1-e) - a) / (b - a) of the way from a to b.
        return math.expm1(e * log_ratio) / math.expm1(log_ratio)

    def _state(self, t: float) -> Key:
        first = self.keys[0]
        cx, cy, width = first.cx, first.cy, first.width
        for k in range(self.segments):
            a, b = self.keys[k], self.keys[k + 1]
            p = self.progress(k, t)
            if p == 0.0:
                continue
            cx += p * (b.cx - a.cx)
            cy += p * (b.cy - a.cy)
            width += p * (b.width - a.width)
        return Key(cx, cy, width)

    def window(self, t: float) -> Window:
        s = self._state(t)
        aspect = self.output.height / self.output.width
        # A safety net only: planned keys keep every window inside the canvas exactly.
        width = min(s.width, self.base_width)
        height = width * aspect
        return Window(
            _inside(s.cx, width, self.canvas_w), _inside(s.cy, height, self.canvas_h), width, height
        )

    def scale(self, t: float) -> float:
        return self.output.width / self.window(t).width

    def zoom(self, t: float) -> float:
        """Scale relative to base_scale: 1 when the canvas just covers the frame."""
        return self.base_width / self.window(t).width

    @property
    def zoom_start(self) -> float:
        return self.base_width / self.keys[0].width

    @property
    def zoom_end(self) -> float:
        return self.base_width / self.keys[-1].width

    @property
    def max_scale(self) -> float:
        """The deepest scale of the path (exact for one move; a bound for compound moves,
        which round off their inner keyframes)."""
        return self.output.width / min(k.width for k in self.keys)

    @property
    def min_scale(self) -> float:
        """The widest scale of the path, likewise exact for one move and a bound otherwise;
        a compound move (zoom out, then in) may be widest between its ends."""
        return self.output.width / max(k.width for k in self.keys)


def max_zoom() -> float:
    """The deepest zoom any path asks for, relative to a canvas of the output's aspect.

    path.py never plans a keyframe deeper than this, whatever the moves and the subject:
    compound moves share this range rather than multiply their factors.
    """
    return max(*ZOOM_FACTOR.values(), *(1 + f for f in PAN_FRACTION.values()))
