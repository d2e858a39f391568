"""Camera paths: where the output window sits on the canvas at each instant, in exact floats."""

from __future__ import annotations

import math
from dataclasses import dataclass

from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size

# How far each intensity moves the camera over one clip.
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


@dataclass(frozen=True, slots=True)
class CameraPath:
    """Zoom and centre as smooth functions of t in [0, 1] over a `canvas_w` x `canvas_h` canvas."""

    canvas_w: float
    canvas_h: float
    output: Size
    zoom_start: float
    zoom_end: float
    travel_x: float  # signed canvas px the centre moves over the clip
    travel_y: float

    @property
    def base_scale(self) -> float:
        """Output px per canvas px at zoom 1: the canvas just covers the frame."""
        return max(self.output.width / self.canvas_w, self.output.height / self.canvas_h)

    def zoom(self, t: float) -> float:
        # Geometric interpolation: equal eased steps look like equal zoom speed.
        return float(self.zoom_start * (self.zoom_end / self.zoom_start) ** ease_in_out(t))

    def scale(self, t: float) -> float:
        return self.base_scale * self.zoom(t)

    def window(self, t: float) -> Window:
        k = self.scale(t)
        e = ease_in_out(t) - 0.5
        return Window(
            cx=self.canvas_w / 2 + self.travel_x * e,
            cy=self.canvas_h / 2 + self.travel_y * e,
            width=self.output.width / k,
            height=self.output.height / k,
        )

    @property
    def max_scale(self) -> float:
        return self.base_scale * max(self.zoom_start, self.zoom_end)


def plan_path(
    motion: Motion, intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> CameraPath:
    """The path for `motion`, centred on the canvas and never showing anything outside it."""
    base = max(output.width / canvas_w, output.height / canvas_h)
    if motion is Motion.ZOOM_IN or motion is Motion.ZOOM_OUT:
        factor = ZOOM_FACTOR[intensity]
        start, end = (1.0, factor) if motion is Motion.ZOOM_IN else (factor, 1.0)
        return CameraPath(canvas_w, canvas_h, output, start, end, 0.0, 0.0)
    if motion is Motion.STATIC:
        return CameraPath(canvas_w, canvas_h, output, 1.0, 1.0, 0.0, 0.0)
    dx, dy = PAN_DIRECTION[motion]
    fraction = PAN_FRACTION[intensity]
    # Zoom in just enough that the window plus its travel fits inside the canvas on each
    # moving axis: (1 + fraction) * window <= canvas.
    zoom = 1.0
    if dx:
        zoom = max(zoom, (1 + fraction) * output.width / (base * canvas_w))
    if dy:
        zoom = max(zoom, (1 + fraction) * output.height / (base * canvas_h))
    window_w = output.width / (base * zoom)
    window_h = output.height / (base * zoom)
    return CameraPath(
        canvas_w,
        canvas_h,
        output,
        zoom,
        zoom,
        dx * fraction * window_w,
        dy * fraction * window_h,
    )


def max_zoom() -> float:
    """The deepest zoom any path asks for, relative to a canvas of the output's aspect."""
    return max(*ZOOM_FACTOR.values(), *(1 + f for f in PAN_FRACTION.values()))
