"""Subject- and safe-zone-aware camera paths: in view, in the canvas, compound moves blended."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import pytest

from i2v.backends.local.camera import CameraPath, Window, max_zoom
from i2v.backends.local.path import plan_path
from i2v.backends.local.renderer import PathRenderer
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import ASPECT_PRESETS, Size
from i2v.framing.base import Box, FocusSource, SafeZones, Subject
from i2v.framing.cover import subject_in_view
from i2v.framing.zones import DEFAULT_ZONES, NO_ZONES, zones_for

MOVES = [m for m in Motion if m is not Motion.STATIC]
ZOOMS = (Motion.ZOOM_IN, Motion.ZOOM_OUT)
PANS = [m for m in MOVES if m not in ZOOMS]
TIMES = [i / 120 for i in range(121)]


@dataclass(frozen=True)
class Scene:
    canvas_w: int
    canvas_h: int
    output: Size
    zones: SafeZones
    subject: Subject
    moves: tuple[Motion, ...]
    intensity: Intensity

    def path(self, *, aim_at_face: bool = False) -> CameraPath:
        return plan_path(
            self.moves,
            self.intensity,
            self.canvas_w,
            self.canvas_h,
            self.output,
            self.subject,
            self.zones,
            aim_at_face=aim_at_face,
        )

    def feasible(self) -> bool:
        """Some motionless framing keeps the box in the safe area."""
        still = plan_path(
            [Motion.STATIC],
            self.intensity,
            self.canvas_w,
            self.canvas_h,
            self.output,
            self.subject,
            self.zones,
        )
        return subject_in_view(still, 0.0, self.subject.box, self.zones)


def random_box(rng: random.Random, largest: float) -> Box:
    width, height = rng.uniform(0.04, largest), rng.uniform(0.04, largest)
    left, top = rng.uniform(0, 1 - width), rng.uniform(0, 1 - height)
    return Box(left, top, left + width, top + height)


def random_scene(rng: random.Random, moves: int = 2) -> Scene:
    output = rng.choice(list(ASPECT_PRESETS.values()))
    box = random_box(rng, 0.5)
    face_w, face_h = box.width * rng.uniform(0.2, 0.5), box.height * rng.uniform(0.1, 0.3)
    face_left = box.left + rng.uniform(0, box.width - face_w)
    face = Box(face_left, box.top, face_left + face_w, box.top + face_h)
    return Scene(
        canvas_w=rng.randint(400, 6000),
        canvas_h=rng.randint(400, 6000),
        output=output,
        zones=zones_for(output, DEFAULT_ZONES),
        subject=Subject(box, box.centre, FocusSource.FACE, face),
        moves=tuple(rng.choice(MOVES) for _ in range(rng.randint(1, moves))),
        intensity=rng.choice(list(Intensity)),
    )


def scenes(seed: int, count: int, moves: int = 2) -> list[Scene]:
    rng = random.Random(seed)
    return [random_scene(rng, moves) for _ in range(count)]


def speed(path: CameraPath, t: float, h: float = 1e-4) -> float:
    """How fast the window changes, in window widths per unit time."""
    a, b = path.window(t - h), path.window(t + h)
    moved = math.hypot(b.cx - a.cx, b.cy - a.cy) + abs(b.width - a.width)
    return moved / (2 * h) / path.window(t).width


def off_centre(w: Window, point: tuple[float, float]) -> float:
    """How far `point` is from the window's centre, in window widths and heights."""
    return math.hypot((point[0] - w.cx) / w.width, (point[1] - w.cy) / w.height)


# --- framing -------------------------------------------------------------------------------


def test_subject_stays_in_the_safe_area_in_every_frame_where_it_can() -> None:
    checked = 0
    for scene in scenes(1, 400):
        if not scene.feasible():
            continue
        path = scene.path()
        checked += 1
        for t in TIMES:
            assert subject_in_view(path, t, scene.subject.box, scene.zones), (scene, t)
    assert checked > 150  # most random scenes can be framed


def test_window_never_leaves_the_canvas() -> None:
    for scene in scenes(2, 400, moves=3):
        for aim in (False, True):
            path = scene.path(aim_at_face=aim)
            for t in TIMES:
                w = path.window(t)
                tol = 1e-9 * max(scene.canvas_w, scene.canvas_h)
                assert -tol <= w.left, (scene, t)
                assert w.right <= scene.canvas_w + tol, (scene, t)
                assert -tol <= w.top, (scene, t)
                assert w.bottom <= scene.canvas_h + tol, (scene, t)
                assert w.width / w.height == pytest.approx(scene.output.aspect, rel=1e-9)


def test_zoom_never_exceeds_max_zoom() -> None:
    for scene in scenes(3, 300, moves=3):
        path = scene.path(aim_at_face=True)
        assert max(path.zoom(t) for t in TIMES) <= max_zoom() * (1 + 1e-9)
        assert path.max_scale >= max(path.scale(t) for t in TIMES) * (1 - 1e-12)
        assert path.min_scale <= min(path.scale(t) for t in TIMES) * (1 + 1e-12)


def test_a_subject_too_large_for_the_safe_area_is_centred_in_it_at_the_widest_framing() -> None:
    box = Box(0.05, 0.1, 0.95, 0.9)
    subject = Subject(box, box.centre, FocusSource.SALIENCY)
    output = Size(1080, 1920)
    path = plan_path([Motion.STATIC], Intensity.NORMAL, 1080, 1920, output, subject, DEFAULT_ZONES)
    w = path.window(0.0)
    assert path.zoom(0.0) == pytest.approx(1.0)
    assert w.cx == pytest.approx(540)  # the canvas pins it
    assert w.cy == pytest.approx(960)


def test_the_sun_at_the_top_stays_in_view_when_zooming_in() -> None:
    # The README's sunset: a sun right of centre in a landscape picture, a 9:16 output,
    # below the top bar (at 8% from the top no zoom up to max_zoom could clear the bar).
    sun = Box(0.62, 0.2, 0.74, 0.38)
    subject = Subject(sun, sun.centre, FocusSource.SALIENCY)
    output = Size(1080, 1920)
    centred = plan_path([Motion.ZOOM_IN], Intensity.STRONG, 3000, 2000, output)
    aware = plan_path(
        [Motion.ZOOM_IN], Intensity.STRONG, 3000, 2000, output, subject, DEFAULT_ZONES
    )
    assert not subject_in_view(centred, 1.0, sun, NO_ZONES)
    assert all(subject_in_view(aware, t, sun, DEFAULT_ZONES) for t in TIMES)
    assert aware.zoom(1.0) > 1.2  # still a real zoom


# --- zooms aim -----------------------------------------------------------------------------


def test_zoom_in_ends_on_the_focus_and_zoom_out_starts_there() -> None:
    for scene in scenes(4, 200, moves=1):
        if not scene.feasible():
            continue
        focus = scene.subject.focus
        zoom_in = plan_path(
            [Motion.ZOOM_IN],
            scene.intensity,
            scene.canvas_w,
            scene.canvas_h,
            scene.output,
            scene.subject,
            scene.zones,
        )
        zoom_out = plan_path(
            [Motion.ZOOM_OUT],
            scene.intensity,
            scene.canvas_w,
            scene.canvas_h,
            scene.output,
            scene.subject,
            scene.zones,
        )
        tight_in, tight_out = zoom_in.window(1.0), zoom_out.window(0.0)
        fields = ("cx", "cy", "width", "height")
        assert [getattr(tight_in, f) for f in fields] == pytest.approx(
            [getattr(tight_out, f) for f in fields]
        )
        assert zoom_in.zoom(1.0) >= zoom_in.zoom(0.0)
        # The focus is no further from the frame's centre at the tight end than the wide one.
        point = (focus[0] * scene.canvas_w, focus[1] * scene.canvas_h)
        assert off_centre(tight_in, point) <= off_centre(zoom_in.window(0.0), point) + 0.25


def test_zoom_in_on_her_face_aims_at_the_face_not_the_chest() -> None:
    body = Box(0.3, 0.15, 0.7, 0.95)
    face = Box(0.44, 0.18, 0.56, 0.32)
    subject = Subject(body, body.centre, FocusSource.FACE, face)
    output = Size(1080, 1920)
    on_body = plan_path([Motion.ZOOM_IN], Intensity.STRONG, 2000, 3000, output, subject, NO_ZONES)
    on_face = plan_path(
        [Motion.ZOOM_IN], Intensity.STRONG, 2000, 3000, output, subject, NO_ZONES, aim_at_face=True
    )
    end = on_face.window(1.0)
    face_cy = face.centre[1] * 3000
    assert abs(end.cy - face_cy) < abs(on_body.window(1.0).cy - face_cy)
    assert on_face.zoom(1.0) == pytest.approx(1.40)
    assert all(subject_in_view(on_face, t, face, NO_ZONES) for t in TIMES)


# --- pans ----------------------------------------------------------------------------------


def test_pans_keep_visible_travel_with_a_subject() -> None:
    travelled = []
    for scene in scenes(5, 300, moves=1):
        if scene.moves[0] not in PANS or not scene.feasible():
            continue
        path = scene.path()
        start, end = path.window(0.0), path.window(1.0)
        travelled.append(
            math.hypot((end.cx - start.cx) / start.width, (end.cy - start.cy) / start.height)
        )
    assert len(travelled) > 50
    moving = sorted(travelled)
    # Most pans keep a clear travel; few shrink to nothing.
    assert moving[len(moving) // 2] > 0.05
    assert sum(v < 0.01 for v in moving) <= len(moving) // 10


# --- compound moves ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moves",
    [
        (Motion.ZOOM_OUT, Motion.PAN_LEFT),
        (Motion.ZOOM_IN, Motion.PAN_UP),
        (Motion.PAN_RIGHT, Motion.ZOOM_IN),
        (Motion.ZOOM_IN, Motion.PAN_DOWN_RIGHT, Motion.ZOOM_OUT),
    ],
    ids=str,
)
@pytest.mark.parametrize("output", [Size(1080, 1920), Size(1920, 1080)], ids=str)
def test_compound_moves_run_in_order_and_never_stop(
    moves: tuple[Motion, ...], output: Size
) -> None:
    path = plan_path(moves, Intensity.NORMAL, 3000, 3000, output)
    assert path.segments == len(moves)
    speeds = [speed(path, 0.02 + 0.96 * i / 400) for i in range(401)]
    assert min(speeds) > 0.03 * max(speeds)
    assert speed(path, 1e-3) < 0.02 * max(speeds)  # at rest at both ends
    assert speed(path, 1 - 1e-3) < 0.02 * max(speeds)


def test_zoom_out_then_pan_left_zooms_first_then_pans() -> None:
    path = plan_path(
        [Motion.ZOOM_OUT, Motion.PAN_LEFT], Intensity.NORMAL, 3000, 3000, Size(1080, 1920)
    )
    early = [path.window(t) for t in (0.0, 0.3)]
    late = [path.window(t) for t in (0.7, 1.0)]
    assert early[1].width > early[0].width * 1.05  # zooming out
    # (towards where the pan starts, right of centre, as the camera travels left later)
    assert late[1].width == pytest.approx(late[0].width, rel=1e-3)  # zoom done
    assert late[1].cx < late[0].cx - 0.05 * late[0].width  # panning left
    # The pan keeps its full travel, 20% of the window at NORMAL.
    pan_start, pan_end = path.keys[1], path.keys[2]
    assert pan_start.cx - pan_end.cx == pytest.approx(0.2 * pan_end.width)


def test_compound_scenes_keep_the_subject_in_view() -> None:
    for scene in scenes(6, 200, moves=3):
        if not scene.feasible():
            continue
        path = scene.path()
        assert all(subject_in_view(path, t, scene.subject.box, scene.zones) for t in TIMES), scene


def test_no_subject_keeps_the_centred_behaviour() -> None:
    for motion in MOVES:
        centred = plan_path([motion], Intensity.NORMAL, 3000, 2000, Size(1080, 1920))
        mid = centred.window(0.5)
        assert mid.cx == pytest.approx(1500)
        assert mid.cy == pytest.approx(1000)


def test_a_compound_path_renders() -> None:
    # Widest in the middle (zoom out, then in): the renderer must reach every frame's pixels.
    canvas = np.full((900, 1200, 3), (90, 140, 200), dtype=np.uint8)
    path = plan_path([Motion.ZOOM_OUT, Motion.ZOOM_IN], Intensity.STRONG, 1200, 900, Size(360, 640))
    frames = list(PathRenderer(canvas, path, 9))
    assert len(frames) == 9
    assert all(f.shape == (960, 360) for f in frames)
