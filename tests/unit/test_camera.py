"""Camera paths: containment, aspect, centring, symmetry, smoothness and zoom endpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from i2v.backends.local.camera import (
    PAN_DIRECTION,
    PAN_FRACTION,
    ZOOM_FACTOR,
    CameraPath,
    Window,
    ease_in_out,
    max_zoom,
)
from i2v.backends.local.path import plan_path
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import ASPECT_PRESETS, Size

EPS = 1e-6
GRID = np.linspace(0.0, 1.0, 1001)
ZOOMS = (Motion.ZOOM_IN, Motion.ZOOM_OUT)
PANS = tuple(PAN_DIRECTION)

motions = st.sampled_from(list(Motion))
intensities = st.sampled_from(list(Intensity))
canvas_sides = st.integers(min_value=256, max_value=8000)
outputs = st.sampled_from(list(ASPECT_PRESETS.values()))


def windows(path: CameraPath, times: NDArray[np.float64] = GRID) -> list[Window]:
    return [path.window(float(t)) for t in times]


def track(path: CameraPath, times: NDArray[np.float64] = GRID) -> dict[str, NDArray[np.float64]]:
    """The window's centre, size and the scale sampled at `times`, as arrays."""
    ws = windows(path, times)
    return {
        "cx": np.array([w.cx for w in ws]),
        "cy": np.array([w.cy for w in ws]),
        "width": np.array([w.width for w in ws]),
        "height": np.array([w.height for w in ws]),
        "scale": np.array([path.scale(float(t)) for t in times]),
    }


def max_speed(start: float, end: float, geometric: bool = False) -> float:
    """Largest |d/dt| of an eased move from `start` to `end` (cosine ease: peak pi/2)."""
    if geometric:
        return max(start, end) * abs(math.log(end / start)) * math.pi / 2
    return abs(end - start) * math.pi / 2


def max_acceleration(start: float, end: float, geometric: bool = False) -> float:
    """Largest |d2/dt2| of the same move (cosine ease: e' <= pi/2, e'' <= pi^2/2)."""
    if geometric:
        log_ratio = abs(math.log(end / start))
        return max(start, end) * (log_ratio**2 * math.pi**2 / 4 + log_ratio * math.pi**2 / 2)
    return abs(end - start) * math.pi**2 / 2


# --- ease ----------------------------------------------------------------------------------


def test_ease_in_out_runs_from_0_to_1_with_flat_ends() -> None:
    assert ease_in_out(0.0) == 0.0
    assert ease_in_out(1.0) == pytest.approx(1.0, abs=1e-15)
    assert ease_in_out(0.5) == pytest.approx(0.5, abs=1e-15)
    assert ease_in_out(-1.0) == 0.0
    assert ease_in_out(2.0) == pytest.approx(1.0, abs=1e-15)
    h = 1e-4
    assert ease_in_out(h) / h < 1e-3
    assert (1.0 - ease_in_out(1.0 - h)) / h < 1e-3
    values = np.array([ease_in_out(float(t)) for t in GRID])
    assert np.all(np.diff(values) >= 0)


# --- containment and aspect ------------------------------------------------------------------


@given(motions, intensities, canvas_sides, canvas_sides, outputs)
@settings(max_examples=150, deadline=None)
def test_window_never_leaves_the_canvas(
    motion: Motion, intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> None:
    path = plan_path([motion], intensity, canvas_w, canvas_h, output)
    for w in windows(path):
        assert w.left >= -EPS, (w, canvas_w, canvas_h)
        assert w.top >= -EPS, (w, canvas_w, canvas_h)
        assert w.right <= canvas_w + EPS, (w, canvas_w, canvas_h)
        assert w.bottom <= canvas_h + EPS, (w, canvas_w, canvas_h)


@given(motions, intensities, canvas_sides, canvas_sides, outputs)
@settings(max_examples=100, deadline=None)
def test_window_keeps_the_output_aspect_ratio(
    motion: Motion, intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> None:
    path = plan_path([motion], intensity, canvas_w, canvas_h, output)
    for t in GRID[::50]:
        w = path.window(float(t))
        assert w.width / w.height == pytest.approx(output.width / output.height, rel=1e-9)
        # The window is what the output shows at the current scale.
        assert w.width * path.scale(float(t)) == pytest.approx(output.width, rel=1e-9)


@given(st.sampled_from([*ZOOMS, Motion.STATIC]), intensities, canvas_sides, canvas_sides, outputs)
@settings(max_examples=100, deadline=None)
def test_widest_zoom_window_just_covers_the_canvas_on_one_axis(
    motion: Motion, intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> None:
    path = plan_path([motion], intensity, canvas_w, canvas_h, output)
    widest = max(windows(path, GRID[::100]), key=lambda w: w.width)
    assert max(widest.width / canvas_w, widest.height / canvas_h) == pytest.approx(1.0, rel=1e-12)
    assert path.base_scale == pytest.approx(
        max(output.width / canvas_w, output.height / canvas_h), rel=1e-12
    )


@given(st.sampled_from(PANS), intensities, canvas_sides, canvas_sides, outputs)
@settings(max_examples=100, deadline=None)
def test_pans_zoom_in_only_as_far_as_their_travel_needs(
    motion: Motion, intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> None:
    path = plan_path([motion], intensity, canvas_w, canvas_h, output)
    start, end = path.window(0.0), path.window(1.0)
    dx, dy = PAN_DIRECTION[motion]
    swept_w = max(start.right, end.right) - min(start.left, end.left)
    swept_h = max(start.bottom, end.bottom) - min(start.top, end.top)
    if path.zoom_start == 1.0:
        assert max(start.width / canvas_w, start.height / canvas_h) == pytest.approx(1.0)
    else:
        # Zoomed in: the sweep fills the canvas exactly along some moving axis.
        fills = [
            bool(dx) and swept_w == pytest.approx(canvas_w, rel=1e-9),
            bool(dy) and swept_h == pytest.approx(canvas_h, rel=1e-9),
        ]
        assert any(fills), (start, end)


# --- centring and symmetry ---------------------------------------------------------------------


@given(st.sampled_from([*ZOOMS, Motion.STATIC]), intensities, canvas_sides, canvas_sides, outputs)
@settings(max_examples=100, deadline=None)
def test_zoom_and_static_stay_exactly_centred(
    motion: Motion, intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> None:
    path = plan_path([motion], intensity, canvas_w, canvas_h, output)
    for w in windows(path, GRID[::10]):
        assert w.cx == canvas_w / 2
        assert w.cy == canvas_h / 2


@given(st.sampled_from(PANS), intensities, canvas_sides, canvas_sides, outputs)
@settings(max_examples=100, deadline=None)
def test_pans_are_symmetric_about_the_canvas_centre(
    motion: Motion, intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> None:
    path = plan_path([motion], intensity, canvas_w, canvas_h, output)
    tol = 1e-9 * max(canvas_w, canvas_h)
    for t in GRID[::25]:
        early, late = path.window(float(t)), path.window(1.0 - float(t))
        assert early.cx + late.cx == pytest.approx(canvas_w, abs=tol)
        assert early.cy + late.cy == pytest.approx(canvas_h, abs=tol)
        assert early.width == pytest.approx(late.width, rel=1e-12)
    middle = path.window(0.5)
    assert middle.cx == pytest.approx(canvas_w / 2, abs=tol)
    assert middle.cy == pytest.approx(canvas_h / 2, abs=tol)


@given(st.sampled_from(PANS), intensities, canvas_sides, canvas_sides, outputs)
@settings(max_examples=100, deadline=None)
def test_pans_travel_in_their_direction_by_their_fraction(
    motion: Motion, intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> None:
    path = plan_path([motion], intensity, canvas_w, canvas_h, output)
    start, end = path.window(0.0), path.window(1.0)
    dx, dy = PAN_DIRECTION[motion]
    fraction = PAN_FRACTION[intensity]
    assert end.cx - start.cx == pytest.approx(dx * fraction * start.width, rel=1e-9, abs=1e-9)
    assert end.cy - start.cy == pytest.approx(dy * fraction * start.height, rel=1e-9, abs=1e-9)
    assert path.zoom_start == path.zoom_end >= 1.0


@pytest.mark.parametrize(
    ("motion", "sign_x", "sign_y"),
    [
        (Motion.PAN_LEFT, -1, 0),
        (Motion.PAN_RIGHT, 1, 0),
        (Motion.PAN_UP, 0, -1),
        (Motion.PAN_DOWN, 0, 1),
        (Motion.PAN_UP_LEFT, -1, -1),
        (Motion.PAN_UP_RIGHT, 1, -1),
        (Motion.PAN_DOWN_LEFT, -1, 1),
        (Motion.PAN_DOWN_RIGHT, 1, 1),
    ],
)
def test_pan_names_match_the_camera_direction(motion: Motion, sign_x: int, sign_y: int) -> None:
    # Image y grows downwards: panning up moves the window towards top = 0.
    path = plan_path([motion], Intensity.NORMAL, 3000, 3000, Size(1080, 1080))
    start, end = path.window(0.0), path.window(1.0)
    assert np.sign(round(end.cx - start.cx, 6)) == sign_x
    assert np.sign(round(end.cy - start.cy, 6)) == sign_y


# --- smoothness ------------------------------------------------------------------------------


@given(motions, intensities, canvas_sides, canvas_sides, outputs)
@settings(max_examples=100, deadline=None)
def test_scale_and_centre_change_smoothly(
    motion: Motion, intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> None:
    path = plan_path([motion], intensity, canvas_w, canvas_h, output)
    samples = track(path)
    dt = float(GRID[1] - GRID[0])
    start, end = path.window(0.0), path.window(1.0)
    bounds = {
        "cx": (start.cx, end.cx, False),
        "cy": (start.cy, end.cy, False),
        "scale": (path.scale(0.0), path.scale(1.0), True),
    }
    for key, (first, last, geometric) in bounds.items():
        values = samples[key]
        slack = 1e-9 * max(abs(first), abs(last), 1.0)
        steps = np.diff(values)
        # Monotonic from its first value to its last.
        if last >= first:
            assert np.all(steps >= -slack), key
        else:
            assert np.all(steps <= slack), key
        # No jumps: bounded first and second differences.
        assert np.abs(steps).max() <= max_speed(first, last, geometric) * dt * 1.001 + slack, key
        assert (
            np.abs(np.diff(values, 2)).max()
            <= max_acceleration(first, last, geometric) * dt**2 * 1.01 + 4 * slack
        ), key


@given(st.sampled_from([m for m in Motion if m is not Motion.STATIC]), intensities, outputs)
@settings(max_examples=50, deadline=None)
def test_moves_start_and_end_at_rest(motion: Motion, intensity: Intensity, output: Size) -> None:
    path = plan_path([motion], intensity, 4000, 3000, output)
    h = 1e-3
    for a, b in ((0.0, h), (1.0, 1.0 - h)):
        wa, wb = path.window(a), path.window(b)
        # Eased: displacement over h is O(h^2) (pi^2/4 h^2 of the whole move, a little more
        # for the geometric zoom), far below the O(h) of a move that starts at speed.
        for key in ("cx", "cy", "width"):
            total = abs(getattr(path.window(1.0), key) - getattr(path.window(0.0), key))
            moved = abs(getattr(wb, key) - getattr(wa, key))
            assert moved <= 1.5 * total * (math.pi**2 / 4) * h**2 + 1e-9, (key, a)
        total_scale = abs(path.scale(1.0) - path.scale(0.0))
        assert abs(path.scale(b) - path.scale(a)) <= 1.5 * total_scale * (math.pi**2 / 4) * h**2


def test_pan_speed_peaks_in_the_middle() -> None:
    path = plan_path([Motion.PAN_RIGHT], Intensity.STRONG, 4000, 2000, Size(1080, 1920))
    cx = track(path)["cx"]
    speed = np.diff(cx)
    peak = int(np.argmax(speed))
    assert abs(peak - len(speed) / 2) <= 1
    assert speed[0] < speed[peak] / 100
    assert speed[-1] < speed[peak] / 100


# --- zoom endpoints ----------------------------------------------------------------------------


@given(intensities, canvas_sides, canvas_sides, outputs)
@settings(max_examples=100, deadline=None)
def test_zoom_in_runs_from_cover_to_its_factor(
    intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> None:
    path = plan_path([Motion.ZOOM_IN], intensity, canvas_w, canvas_h, output)
    assert path.zoom(0.0) == 1.0
    assert path.zoom(1.0) == pytest.approx(ZOOM_FACTOR[intensity], rel=1e-12)
    first = path.window(0.0)
    # At zoom 1 the canvas just covers the frame: one side matches, the other fits inside.
    assert max(first.width / canvas_w, first.height / canvas_h) == pytest.approx(1.0, rel=1e-12)
    last = path.window(1.0)
    assert first.width / last.width == pytest.approx(ZOOM_FACTOR[intensity], rel=1e-9)
    assert path.max_scale == pytest.approx(path.base_scale * ZOOM_FACTOR[intensity], rel=1e-12)


@given(intensities, canvas_sides, canvas_sides, outputs)
@settings(max_examples=100, deadline=None)
def test_zoom_out_runs_from_its_factor_to_cover(
    intensity: Intensity, canvas_w: int, canvas_h: int, output: Size
) -> None:
    path = plan_path([Motion.ZOOM_OUT], intensity, canvas_w, canvas_h, output)
    assert path.zoom(0.0) == pytest.approx(ZOOM_FACTOR[intensity], rel=1e-12)
    assert path.zoom(1.0) == pytest.approx(1.0, rel=1e-12)
    last = path.window(1.0)
    assert max(last.width / canvas_w, last.height / canvas_h) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("intensity", list(Intensity))
def test_zoom_in_and_zoom_out_are_time_reversals(intensity: Intensity) -> None:
    zoom_in = plan_path([Motion.ZOOM_IN], intensity, 3000, 4000, Size(1080, 1920))
    zoom_out = plan_path([Motion.ZOOM_OUT], intensity, 3000, 4000, Size(1080, 1920))
    for t in GRID[::20]:
        assert zoom_in.scale(float(t)) == pytest.approx(zoom_out.scale(1.0 - float(t)), rel=1e-12)


def test_stronger_intensities_move_further() -> None:
    factors = [ZOOM_FACTOR[i] for i in (Intensity.SUBTLE, Intensity.NORMAL, Intensity.STRONG)]
    fractions = [PAN_FRACTION[i] for i in (Intensity.SUBTLE, Intensity.NORMAL, Intensity.STRONG)]
    assert 1.0 < factors[0] < factors[1] < factors[2]
    assert 0.0 < fractions[0] < fractions[1] < fractions[2]


def test_static_path_does_not_move() -> None:
    path = plan_path([Motion.STATIC], Intensity.STRONG, 3000, 2000, Size(1920, 1080))
    assert {path.window(float(t)) for t in GRID[::100]} == {path.window(0.0)}


@given(motions, intensities, outputs)
@settings(max_examples=60, deadline=None)
def test_max_zoom_bounds_every_path_on_a_canvas_of_the_output_aspect(
    motion: Motion, intensity: Intensity, output: Size
) -> None:
    path = plan_path([motion], intensity, output.width * 2, output.height * 2, output)
    assert max(path.zoom_start, path.zoom_end) <= max_zoom() + 1e-12
    assert path.max_scale == pytest.approx(max(path.scale(float(t)) for t in GRID[::50]), rel=1e-12)
