"""Choose a video's cover frame from its camera path, and check a subject is in view."""

from __future__ import annotations

from i2v.backends.local.camera import CameraPath, Window
from i2v.framing.base import Box, SafeZones, Subject

_EPS = 1e-9
# Frames whose subject is within this share of the largest count as equally large: a pan
# keeps the size, and float noise must not pick the frame.
_SIZE_TIE = 1e-6


def frame_time(index: int, frame_count: int) -> float:
    """The path time of frame `index`, as the renderer spaces them."""
    return 0.0 if frame_count <= 1 else index / (frame_count - 1)


def safe_area(path: CameraPath, t: float, zones: SafeZones) -> Window:
    """The part of the frame at t that no zone covers, in canvas px."""
    w = path.window(t)
    left = w.left + zones.left * w.width
    right = w.right - zones.right * w.width
    top = w.top + zones.top * w.height
    bottom = w.bottom - zones.bottom * w.height
    return Window((left + right) / 2, (top + bottom) / 2, right - left, bottom - top)


def _canvas_box(path: CameraPath, box: Box) -> tuple[float, float, float, float]:
    return (
        box.left * path.canvas_w,
        box.top * path.canvas_h,
        box.right * path.canvas_w,
        box.bottom * path.canvas_h,
    )


def subject_in_view(path: CameraPath, t: float, box: Box, zones: SafeZones) -> bool:
    """Whether `box` (fractions of the canvas) is wholly inside the frame's safe area at t."""
    area = safe_area(path, t, zones)
    left, top, right, bottom = _canvas_box(path, box)
    slack = _EPS * max(path.canvas_w, path.canvas_h)
    return (
        left >= area.left - slack
        and right <= area.right + slack
        and top >= area.top - slack
        and bottom <= area.bottom + slack
    )


def visible_share(path: CameraPath, t: float, box: Box, zones: SafeZones) -> float:
    """The share of `box`'s area inside the frame's safe area at t."""
    area = safe_area(path, t, zones)
    left, top, right, bottom = _canvas_box(path, box)
    overlap_w = max(0.0, min(right, area.right) - max(left, area.left))
    overlap_h = max(0.0, min(bottom, area.bottom) - max(top, area.top))
    return overlap_w * overlap_h / ((right - left) * (bottom - top))


def _off_centre(path: CameraPath, t: float, box: Box, zones: SafeZones) -> float:
    """How far the box's centre is from the safe area's, in safe-area widths and heights."""
    area = safe_area(path, t, zones)
    left, top, right, bottom = _canvas_box(path, box)
    dx = ((left + right) / 2 - area.cx) / max(area.width, _EPS)
    dy = ((top + bottom) / 2 - area.cy) / max(area.height, _EPS)
    return float(dx * dx + dy * dy)


def cover_frame(
    path: CameraPath, subject: Subject | None, zones: SafeZones, frame_count: int
) -> int:
    """The frame to show as the video's cover.

    With a subject: among the frames where its box is wholly in the safe area, the one where
    it is largest on screen (the end of a zoom in, the start of a zoom out); among equally
    large ones (a pan), the one where it sits nearest the centre of the safe area. If the box
    is never wholly in view, the same choice over frames with the face in view, then the
    closest frame with the focus in the safe area, and failing that the frame showing the
    most of the box. Without a subject: the widest frame, which
    shows the most of the picture (the start of a zoom in), and among equally wide ones the
    one nearest the canvas's centre (the middle of a pan). Ties go to the earliest frame.
    """
    count = max(1, frame_count)
    times = [frame_time(i, count) for i in range(count)]
    scales = [path.scale(t) for t in times]
    if subject is None:
        narrowest = min(scales)
        candidates = [i for i in range(count) if scales[i] <= narrowest * (1 + _SIZE_TIE)]

        def from_centre(i: int) -> float:
            w = path.window(times[i])
            dx = (w.cx - path.canvas_w / 2) / path.canvas_w
            dy = (w.cy - path.canvas_h / 2) / path.canvas_h
            return dx * dx + dy * dy

        return min(candidates, key=lambda i: (from_centre(i), i))
    for box in (subject.box, subject.face):
        if box is None:
            continue
        seen = [i for i in range(count) if subject_in_view(path, times[i], box, zones)]
        if seen:
            largest = max(scales[i] for i in seen)
            candidates = [i for i in seen if scales[i] >= largest * (1 - _SIZE_TIE)]
            return min(candidates, key=lambda i: (_off_centre(path, times[i], box, zones), i))
    # A box too big for the safe area: where its focus (the face's eyes, the salient peak)
    # is in the safe area, the closest frame.
    fx, fy = subject.focus[0] * path.canvas_w, subject.focus[1] * path.canvas_h
    focused = []
    for i, t in enumerate(times):
        area = safe_area(path, t, zones)
        if area.left <= fx <= area.right and area.top <= fy <= area.bottom:
            focused.append(i)
    if focused:
        largest = max(scales[i] for i in focused)
        return min(i for i in focused if scales[i] >= largest * (1 - _SIZE_TIE))
    shares = [visible_share(path, t, subject.box, zones) for t in times]
    return max(range(count), key=lambda i: (shares[i], scales[i], -i))
