"""Plan camera paths: keyframes for a chain of moves that keep the subject in the safe area.

The problem per keyframe, per axis, in canvas px: a window of extent W centred at c must lie
inside the canvas, and the subject box [lo, hi] inside the window's safe area (the window
less its zone bands). Every constraint is linear in (c, W), so the feasible keyframes form a
convex set and the straight segments CameraPath draws between feasible keys stay feasible.

1. Widths: the window widths where the subject fits its safe area, per axis in closed form
   (`_extent_bounds`), give a zoom range. The moves' zoom steps (log factors) and the zoom
   each pan needs for its travel are fitted into that range, all scaled down together when
   they do not fit, and the path starts as wide as the range allows (zoom in: from the
   widest framing; zoom out: to it).
2. Centres: pans first, each centred on the aim and shortened to the room its interval
   leaves; then every other key at the aim, clamped into its interval. The aim puts the
   focus (or the face, for "zoom in on her face") at the centre of the safe area, so a zoom
   in ends on it and a zoom out starts from it.

When the subject cannot fit the safe area on an axis at any allowed zoom, that axis drops its
subject constraint: the moves run as without a subject, at the widest framing they allow,
with the subject's box centred in the safe area as far as the canvas lets the window go.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from i2v.backends.local.camera import (
    PAN_DIRECTION,
    PAN_FRACTION,
    ZOOM_FACTOR,
    CameraPath,
    Key,
    max_zoom,
)
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.framing.base import Box, SafeZones, Subject
from i2v.framing.zones import NO_ZONES

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class _Axis:
    """One axis of the framing problem, in canvas px."""

    length: float  # the canvas side
    ratio: float  # the window's extent on this axis per px of window width
    near: float  # zone band at the low side (left, top), a fraction of the window's extent
    far: float  # zone band at the high side (right, bottom)
    box: tuple[float, float] | None  # the subject's extent; None: nothing to keep in view
    aim: float  # the point to put at the centre of the safe area

    def canvas_interval(self, extent: float) -> tuple[float, float]:
        return extent / 2, self.length - extent / 2

    def interval(self, extent: float) -> tuple[float, float]:
        """Centres that keep the window in the canvas and the box in the safe area.

        Where none does (the box does not fit, or only to rounding), the one centre that
        puts the box in the middle of the safe area, as far as the canvas allows.
        """
        lo, hi = self.canvas_interval(extent)
        if self.box is None:
            return lo, hi
        first = self.box[1] - extent * (0.5 - self.far)
        last = self.box[0] + extent * (0.5 - self.near)
        if first > last:
            middle = _clamp((first + last) / 2, lo, hi)
            return middle, middle
        lo, hi = max(lo, first), min(hi, last)
        if lo > hi:  # the box fits the safe area, but not where the canvas lets it go
            return (lo, lo) if lo > last else (hi, hi)
        return lo, hi

    def target(self, extent: float) -> float:
        """The centre that puts `aim` at the middle of the safe area."""
        return self.aim - extent * (self.near - self.far) / 2


def _extent_bounds(axis: _Axis) -> tuple[float, float]:
    """Window extents (on this axis) at which some centre meets every constraint."""
    assert axis.box is not None
    lo, hi = axis.box
    smallest = (hi - lo) / max(_EPS, 1.0 - axis.near - axis.far)
    largest = axis.length
    # A band at the canvas edge: the window cannot move further out, so it must be small
    # enough that the band ends before the box does.
    if axis.near > 0:
        largest = min(largest, lo / axis.near)
    if axis.far > 0:
        largest = min(largest, (axis.length - hi) / axis.far)
    return smallest, largest


def _moves(a: Key, b: Key) -> bool:
    """Whether a segment from a to b moves visibly (a thousandth of a px on 1000 px)."""
    scale = min(a.width, b.width)
    return max(abs(a.cx - b.cx), abs(a.cy - b.cy), abs(a.width - b.width)) > 1e-6 * scale


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi) if lo <= hi else (lo + hi) / 2


def _axes(
    canvas_w: int,
    canvas_h: int,
    output: Size,
    subject: Subject | None,
    zones: SafeZones,
    aim_at_face: bool,
) -> tuple[_Axis, _Axis]:
    ratio_y = output.height / output.width
    if subject is None:
        # Nothing to protect: zones are moot and the camera centres on the canvas.
        return (
            _Axis(canvas_w, 1.0, 0.0, 0.0, None, canvas_w / 2),
            _Axis(canvas_h, ratio_y, 0.0, 0.0, None, canvas_h / 2),
        )
    box: Box = subject.box
    focus = subject.focus
    if aim_at_face and subject.face is not None:
        # "Zoom in on her face": the face is what must stay in view, and where zooms aim.
        box, focus = subject.face, subject.face.centre
    return (
        _Axis(
            canvas_w,
            1.0,
            zones.left,
            zones.right,
            (box.left * canvas_w, box.right * canvas_w),
            focus[0] * canvas_w,
        ),
        _Axis(
            canvas_h,
            ratio_y,
            zones.top,
            zones.bottom,
            (box.top * canvas_h, box.bottom * canvas_h),
            focus[1] * canvas_h,
        ),
    )


def _unconstrained(axis: _Axis) -> _Axis:
    """The axis without its subject: aim the box's centre at the middle of the safe area."""
    assert axis.box is not None
    centre = (axis.box[0] + axis.box[1]) / 2
    return _Axis(axis.length, axis.ratio, axis.near, axis.far, None, centre)


def _width_range(
    axes: tuple[_Axis, _Axis], narrowest: float, widest: float
) -> tuple[tuple[_Axis, _Axis], float, float]:
    """Axes (infeasible ones unconstrained) and the window widths that keep the subject."""
    lo, hi = narrowest, widest
    kept: list[_Axis] = []
    for axis in axes:
        if axis.box is None:
            kept.append(axis)
            continue
        small, large = _extent_bounds(axis)
        a, b = max(lo, small / axis.ratio), min(hi, large / axis.ratio)
        if a <= b * (1 + _EPS):
            lo, hi = a, max(a, b)
            kept.append(axis)
        else:
            kept.append(_unconstrained(axis))
    return (kept[0], kept[1]), lo, hi


def _pan_widths(axis: _Axis, share: float) -> tuple[float, float]:
    """Window widths at which a pan along `axis` can travel `share` of its extent."""
    # Centres span [lo, hi] (see _Axis.interval); travel needs hi - lo >= share * extent,
    # for each of the four pairs of bounds: a lower and three upper limits on the extent.
    smallest, largest = 0.0, axis.length / (1 + share)
    if axis.box is not None:
        lo, hi = axis.box
        room = 1.0 - axis.near - axis.far - share
        smallest = (hi - lo) / room if room > 0 else math.inf
        if axis.far + share > 0:
            largest = min(largest, (axis.length - hi) / (axis.far + share))
        if axis.near + share > 0:
            largest = min(largest, lo / (axis.near + share))
    return smallest / axis.ratio, largest / axis.ratio


def _zoom_levels(
    moves: Sequence[Motion],
    intensity: Intensity,
    axes: tuple[_Axis, _Axis],
    base_w: float,
    bounds: tuple[float, float],
) -> tuple[list[float], float]:
    """Log-zoom of every key, and the share of each move's strength that fits `bounds` and
    leaves each pan room to travel with the subject in the safe area."""
    low, high = bounds
    factor, fraction = math.log(ZOOM_FACTOR[intensity]), PAN_FRACTION[intensity]
    steps = [
        factor if m is Motion.ZOOM_IN else -factor if m is Motion.ZOOM_OUT else 0.0 for m in moves
    ]

    def plan(share: float) -> list[float] | None:
        prefix = [0.0]
        for step in steps:
            prefix.append(prefix[-1] + share * step)
        first, last = low - min(prefix), high - max(prefix)  # the range of the first key
        for i, move in enumerate(moves):
            for axis, d in zip(axes, PAN_DIRECTION.get(move, (0, 0)), strict=True):
                if d:
                    smallest, largest = _pan_widths(axis, share * fraction)
                    if smallest > largest:
                        return None
                    first = max(first, math.log(base_w / largest) - prefix[i])
                    if smallest > 0:  # no subject on this axis: no lower limit
                        last = min(last, math.log(base_w / smallest) - prefix[i])
        if first > last + 1e-12:
            return None
        # As wide as allowed: a zoom in starts from the widest framing, a zoom out ends there.
        return [first + p for p in prefix]

    full = plan(1.0)
    if full is not None:
        return full, 1.0
    # Compound moves share the zoom range: shrink every move alike until they fit.
    a, b = 0.0, 1.0
    for _ in range(48):
        mid = (a + b) / 2
        a, b = (mid, b) if plan(mid) is not None else (a, mid)
    levels = plan(a)
    if levels is None:  # only when even a motionless path cannot keep the subject
        levels = [low] * (len(moves) + 1)
    return levels, a


# Around a found subject: its box is an estimate (hair and chin are guessed from the face's
# box), so room is kept around it: up to this share of the box's width and height on each
# side, and at most half the room the frame has, so the moves keep the other half.
MARGIN = 0.15


_Framing = tuple[tuple[_Axis, _Axis], float, float]  # the axes, the narrowest and widest windows


def _framings(
    canvas_w: int,
    canvas_h: int,
    output: Size,
    subject: Subject | None,
    zones: SafeZones,
    aim_at_face: bool,
    base_w: float,
) -> list[_Framing]:
    """The axes and window widths that keep the subject in view, with a margin around it:
    the widest margin first, then narrower ones down to none.

    Bands the subject cannot clear are dropped in this order: the top bar (it covers least),
    the left margin (no UI sits there), then the bottom band. A subject wider than the safe
    area even so is centred in it: it spills evenly into the side margin and the button
    column rather than wholly under the buttons.
    """
    narrowest = base_w / max_zoom()

    def framing(who: Subject | None, bands: SafeZones) -> tuple[_Framing, tuple[bool, bool]]:
        axes = _axes(canvas_w, canvas_h, output, who, bands, aim_at_face)
        found = _width_range(axes, narrowest, base_w)
        kept = tuple(
            k.box is not None or a.box is None for k, a in zip(found[0], axes, strict=True)
        )
        return found, (kept[0], kept[1])

    variants = [
        zones,
        replace(zones, top=0.0),
        replace(zones, top=0.0, left=0.0),
        replace(zones, top=0.0, left=0.0, bottom=0.0),
    ]
    # Both axes kept with the most bands that allow it; else the subject centred across.
    chosen = [(b, framing(subject, b)[1]) for b in variants]
    ranked = [c for c in chosen if all(c[1])] + [c for c in chosen if c[1][1] and not c[1][0]]
    for bands, kept in ranked:

        def fits(margin: float, bands: SafeZones = bands, kept: tuple[bool, bool] = kept) -> bool:
            return framing(_padded(subject, margin), bands)[1] == kept

        margin = MARGIN
        if not fits(MARGIN):
            room = 0.0, MARGIN  # the largest margin that fits, by bisection
            for _ in range(12):
                middle = sum(room) / 2
                room = (middle, room[1]) if fits(middle) else (room[0], middle)
            margin = room[0] / 2
        # Widest margin first; the plan takes the first that leaves the moves their room.
        return [framing(_padded(subject, m), bands)[0] for m in (margin, margin / 3, 0.0)]
    return [framing(subject, zones)[0]]


def _padded(subject: Subject | None, margin: float) -> Subject | None:
    if subject is None:
        return None
    box = subject.box
    dx, dy = margin * box.width, margin * box.height
    padded = Box(
        max(0.0, box.left - dx),
        max(0.0, box.top - dy),
        min(1.0, box.right + dx),
        min(1.0, box.bottom + dy),
    )
    return replace(subject, box=padded)


def plan_path(
    moves: Sequence[Motion],
    intensity: Intensity,
    canvas_w: int,
    canvas_h: int,
    output: Size,
    subject: Subject | None = None,
    zones: SafeZones = NO_ZONES,
    *,
    aim_at_face: bool = False,
) -> CameraPath:
    """The path for `moves` in order, keeping `subject` (canvas fractions) in the safe area.

    Never shows anything outside the canvas. With no subject, every move centres on the
    canvas as a lone move always did. A move that reverses the one before (zoom in then out,
    pan left then right) turns round, and so passes through zero speed at the turn.
    """
    if not moves:
        raise ValueError("plan_path needs at least one move")
    base = max(output.width / canvas_w, output.height / canvas_h)
    base_w = output.width / base
    framings = _framings(canvas_w, canvas_h, output, subject, zones, aim_at_face, base_w)

    def levels_of(framing: _Framing) -> tuple[list[float], float]:
        axes, narrowest, widest = framing
        bounds = (math.log(base_w / widest), math.log(base_w / narrowest))
        return _zoom_levels(moves, intensity, axes, base_w, bounds)

    # A margin is worth keeping only while the moves keep at least half their strength.
    room = levels_of(framings[-1])[1]
    for framing in framings:
        levels, strength = levels_of(framing)
        if strength >= 0.5 * room:
            break
    axes = framing[0]
    widths = [base_w * math.exp(-level) for level in levels]
    centres: list[list[float | None]] = [[None] * len(widths) for _ in axes]
    fraction = strength * PAN_FRACTION[intensity]

    # Pans first: each travels through the aim, or on from where the pan before it ended.
    for i, move in enumerate(moves):
        if move not in PAN_DIRECTION:
            continue
        for axis, cs, d in zip(axes, centres, PAN_DIRECTION[move], strict=True):
            extent = widths[i] * axis.ratio
            lo, hi = axis.interval(extent)
            travel = min(fraction * extent, hi - lo) if d else 0.0
            start = cs[i]
            if start is None:
                mid = _clamp(axis.target(extent), lo, hi)
                start = _clamp(
                    mid - d * travel / 2, lo + max(0, -d) * travel, hi - max(0, d) * travel
                )
            cs[i] = start
            cs[i + 1] = _clamp(start + d * travel, lo, hi)
    # A hold stays where its neighbour is; every other key sits at the aim.
    for i, move in enumerate(moves):
        if move is Motion.STATIC:
            for cs in centres:
                held = cs[i] if cs[i] is not None else cs[i + 1]
                if held is not None:
                    cs[i] = cs[i + 1] = held
    for axis, cs in zip(axes, centres, strict=True):
        for k, width in enumerate(widths):
            if cs[k] is None:
                extent = width * axis.ratio
                lo, hi = axis.interval(extent)
                cs[k] = _clamp(axis.target(extent), lo, hi)

    keys = [
        Key(float(cx), float(cy), w)
        for cx, cy, w in zip(centres[0], centres[1], widths, strict=True)
        if cx is not None and cy is not None
    ]
    # A move the framing left nothing of would be a stop in the middle: drop it. Holds stay.
    kept = [keys[0]]
    for move, key in zip(moves, keys[1:], strict=True):
        if move is Motion.STATIC or _moves(kept[-1], key):
            kept.append(key)
    if not any(_moves(a, b) for a, b in itertools.pairwise(kept)):
        kept = kept[:1]
    return CameraPath(canvas_w, canvas_h, output, tuple(kept))
