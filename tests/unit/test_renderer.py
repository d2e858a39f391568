"""PathRenderer: NV12 layout, no pixels from outside the canvas, sub-pixel motion, bounds."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from i2v.backends.local.camera import CameraPath
from i2v.backends.local.path import plan_path
from i2v.backends.local.renderer import PathRenderer, frame_times, visited_bounds
from i2v.backends.local.resample import TOLERANCE_PX, plan_resize
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import ASPECT_PRESETS, Size
from i2v.domain.spec import Fit
from i2v.media.canvas import build_canvas
from i2v.media.color import rgb_to_ycbcr420

OUTPUT_SIZES = [
    Size(1080, 1920),
    Size(1080, 1350),  # height not divisible by 4: chroma planes of odd height
    Size(1080, 1080),
    Size(1920, 1080),
    Size(360, 640),
    Size(642, 362),  # both chroma dimensions odd
]


# --- helpers -------------------------------------------------------------------------------


def uniform(width: int, height: int, colour: tuple[int, int, int]) -> NDArray[np.uint8]:
    return np.full((height, width, 3), colour, dtype=np.uint8)


def planes(
    frame: NDArray[np.uint8], size: Size
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]]:
    """Y', Cb and Cr of an NV12 frame shaped (H * 3 // 2, W)."""
    w, h = size.width, size.height
    chroma = frame[h:].reshape(h // 2, w // 2, 2)
    return frame[:h], chroma[:, :, 0], chroma[:, :, 1]


def expected_ycbcr(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    luma, cb, cr = rgb_to_ycbcr420(uniform(2, 2, colour))
    return int(luma[0, 0]), int(cb[0, 0]), int(cr[0, 0])


def gaussian_dot(
    width: int, height: int, x0: float, y0: float, sigma: float = 4.0
) -> NDArray[np.uint8]:
    """A white Gaussian dot centred at continuous position (x0, y0) on black."""
    x = np.arange(width) + 0.5
    y = np.arange(height) + 0.5
    g = np.exp(-((x[None, :] - x0) ** 2 + (y[:, None] - y0) ** 2) / (2 * sigma**2))
    value = (g * 255).round().astype(np.uint8)
    return np.ascontiguousarray(np.dstack([value, value, value]))


def luma_centroid(frame: NDArray[np.uint8], size: Size) -> tuple[float, float]:
    """Brightness-weighted centre of the luma plane, in continuous pixel coordinates."""
    luma = planes(frame, size)[0].astype(np.float64) - 16.0
    weight = np.clip(luma, 0.0, None)
    total = weight.sum()
    ys, xs = np.mgrid[: size.height, : size.width]
    return float((weight * (xs + 0.5)).sum() / total), float((weight * (ys + 0.5)).sum() / total)


def predicted_position(path: CameraPath, t: float, x0: float, y0: float) -> tuple[float, float]:
    """Where canvas point (x0, y0) appears in the output at time t."""
    window, k = path.window(t), path.scale(t)
    out = path.output
    return out.width / 2 + k * (x0 - window.cx), out.height / 2 + k * (y0 - window.cy)


# --- frame layout --------------------------------------------------------------------------


@pytest.mark.parametrize("size", OUTPUT_SIZES, ids=str)
def test_frames_are_nv12_of_the_output_size(size: Size) -> None:
    canvas = uniform(size.width + 200, size.height + 100, (90, 140, 200))
    path = plan_path([Motion.ZOOM_IN], Intensity.NORMAL, size.width + 200, size.height + 100, size)
    frames = list(PathRenderer(canvas, path, 3))
    assert len(frames) == 3
    for frame in frames:
        assert frame.shape == (size.height * 3 // 2, size.width)
        assert frame.dtype == np.uint8
        assert frame.strides[1] == 1  # rows may be padded, pixels may not
        assert frame.size == size.width * size.height + 2 * (size.width // 2) * (size.height // 2)


@pytest.mark.parametrize("count", [1, 2, 7, 150])
def test_frame_times_span_the_clip_evenly(count: int) -> None:
    times = frame_times(count)
    assert len(times) == count
    assert times[0] == 0.0
    if count > 1:
        assert times[-1] == 1.0
        assert np.allclose(np.diff(times), 1 / (count - 1))


# --- nothing from outside the canvas -----------------------------------------------------------


@pytest.mark.parametrize("motion", list(Motion))
@pytest.mark.parametrize("size", OUTPUT_SIZES, ids=str)
def test_uniform_canvas_renders_uniform_frames(motion: Motion, size: Size) -> None:
    colour = (200, 60, 30)
    canvas_w, canvas_h = 1600, 1200  # a different aspect from every output
    path = plan_path([motion], Intensity.STRONG, canvas_w, canvas_h, size)
    renderer = PathRenderer(
        uniform(canvas_w, canvas_h, colour), path, 3
    )  # both ends and the middle
    expected = expected_ycbcr(colour)
    for frame in renderer:
        for plane, value in zip(planes(frame, size), expected, strict=True):
            edges = (plane[0], plane[-1], plane[:, 0], plane[:, -1])
            for edge in edges:
                assert np.all(edge == value), (motion, size)
            assert np.all(plane == value), (motion, size)


@given(
    st.sampled_from(list(Motion)),
    st.sampled_from(list(Intensity)),
    st.integers(128, 1500).map(lambda n: 2 * n),
    st.integers(128, 1500).map(lambda n: 2 * n),
    st.sampled_from(list(ASPECT_PRESETS.values())),
    st.floats(0.0, 1.0),
)
@settings(max_examples=40, deadline=None)
def test_output_frame_maps_inside_the_source_plane(
    motion: Motion,
    intensity: Intensity,
    canvas_w: int,
    canvas_h: int,
    size: Size,
    t: float,
) -> None:
    path = plan_path([motion], intensity, canvas_w, canvas_h, size)
    renderer = PathRenderer(uniform(canvas_w, canvas_h, (1, 2, 3)), path, 4)
    luma, _ = renderer.affines(t)
    source_w, source_h = renderer.source_shape
    # The outer edges of the output (-0.5 and W - 0.5 in warpAffine's pixel-centre
    # coordinates) must come from within the source's outer edges.
    for axis, out_side, source_side in ((0, size.width, source_w), (1, size.height, source_h)):
        scale, offset = luma[axis, axis], luma[axis, 2]
        first = (-0.5 - offset) / scale
        last = (out_side - 0.5 - offset) / scale
        assert first >= -0.5 - 1e-6
        assert last <= source_side - 0.5 + 1e-6


# --- sub-pixel motion ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("canvas_w", "canvas_h", "size", "motion"),
    [
        (1280, 720, Size(640, 360), Motion.PAN_RIGHT),  # canvas shrunk before warping
        (700, 400, Size(640, 360), Motion.ZOOM_IN),  # canvas upsampled while warping
        (1300, 1700, Size(360, 640), Motion.PAN_DOWN_LEFT),
        (1000, 1000, Size(640, 640), Motion.ZOOM_OUT),
    ],
)
def test_dot_moves_smoothly_with_sub_pixel_precision(
    canvas_w: int, canvas_h: int, size: Size, motion: Motion
) -> None:
    x0, y0 = canvas_w * 0.6 + 0.3, canvas_h * 0.42 + 0.3  # off-centre, in every frame
    path = plan_path([motion], Intensity.STRONG, canvas_w, canvas_h, size)
    renderer = PathRenderer(gaussian_dot(canvas_w, canvas_h, x0, y0), path, 40)
    centroids = np.array([luma_centroid(frame, size) for frame in renderer])
    predicted = np.array([predicted_position(path, t, x0, y0) for t in renderer.times])

    # The dot is where the continuous camera says, to a small fraction of a pixel...
    assert np.abs(centroids - predicted).max() < 0.1
    # ...so its per-frame steps follow the eased speed instead of snapping to whole pixels:
    # snapping would make the step sizes jump by up to a pixel from one frame to the next.
    steps = np.diff(centroids, axis=0)
    assert np.abs(np.diff(steps, axis=0) - np.diff(predicted, 2, axis=0)).max() < 0.1
    moving = np.abs(centroids[-1] - centroids[0]) > 5.0
    assert moving.any()
    fractional = np.abs(steps[:, moving] - steps[:, moving].round())
    assert fractional.max() > 0.25  # steps are not whole pixels


def test_static_path_at_one_to_one_reproduces_the_canvas_luma() -> None:
    # The renderer resamples the canvas so every frame is a mild downscale; on smooth content
    # that round trip must stay within a couple of code values and never shift the image.
    size = Size(640, 360)
    noise = np.random.default_rng(5).integers(0, 256, (36, 64, 3), dtype=np.uint8)
    canvas = cv2.resize(noise, (640, 360), interpolation=cv2.INTER_CUBIC)
    path = plan_path([Motion.STATIC], Intensity.NORMAL, 640, 360, size)
    frames = list(PathRenderer(canvas, path, 2))
    expected_luma, _, _ = rgb_to_ycbcr420(canvas)
    for frame in frames:
        diff = planes(frame, size)[0].astype(int) - expected_luma
        assert np.abs(diff).max() <= 3
        assert abs(diff.mean()) < 0.2


@given(
    st.sampled_from(list(Motion)),
    st.sampled_from(list(ASPECT_PRESETS.values())),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
@settings(max_examples=30, deadline=None)
def test_chroma_is_sited_where_luma_puts_the_same_point(
    motion: Motion, size: Size, t: float, u: float, v: float
) -> None:
    canvas_w, canvas_h = 1400, 1000
    path = plan_path([motion], Intensity.NORMAL, canvas_w, canvas_h, size)
    renderer = PathRenderer(uniform(canvas_w, canvas_h, (0, 0, 0)), path, 3)
    luma, chroma = renderer.affines(t)
    source_w, source_h = renderer.source_shape
    px, py = u * source_w, v * source_h  # a point in continuous source-luma coordinates
    # Luma sample s is centred at s + 0.5; output pixel i at i + 0.5.
    out_x = luma[0, 0] * (px - 0.5) + luma[0, 2] + 0.5
    out_y = luma[1, 1] * (py - 0.5) + luma[1, 2] + 0.5
    # Source chroma sample c is centred at 2c + 1; output chroma sample j sits at luma
    # x = 2j + 0.5 (left siting) and y = 2i + 1 (between rows), as H.264 assumes.
    chroma_x = chroma[0, 0] * (px - 1) / 2 + chroma[0, 2]
    chroma_y = chroma[1, 1] * (py - 1) / 2 + chroma[1, 2]
    assert 2 * chroma_x + 0.5 == pytest.approx(out_x, abs=1e-6)
    assert 2 * chroma_y + 1.0 == pytest.approx(out_y, abs=1e-6)


# --- visited bounds ------------------------------------------------------------------------


@given(
    st.sampled_from(list(Motion)),
    st.sampled_from(list(Intensity)),
    st.integers(128, 4000).map(lambda n: 2 * n),
    st.integers(128, 4000).map(lambda n: 2 * n),
    st.sampled_from(list(ASPECT_PRESETS.values())),
    st.integers(1, 90),
)
@settings(max_examples=150, deadline=None)
def test_visited_bounds_are_inside_the_canvas_and_hold_every_window(
    motion: Motion,
    intensity: Intensity,
    canvas_w: int,
    canvas_h: int,
    size: Size,
    frames: int,
) -> None:
    path = plan_path([motion], intensity, canvas_w, canvas_h, size)
    windows = [path.window(t) for t in frame_times(frames)]
    left, top, right, bottom = visited_bounds(windows, canvas_w, canvas_h)
    assert 0 <= left < right <= canvas_w
    assert 0 <= top < bottom <= canvas_h
    for w in windows:
        assert left <= math.floor(w.left + 1e-9)
        assert top <= math.floor(w.top + 1e-9)
        assert right >= math.ceil(w.right - 1e-9)
        assert bottom >= math.ceil(w.bottom - 1e-9)


def test_visited_bounds_crop_a_pan_to_its_sweep() -> None:
    path = plan_path([Motion.PAN_RIGHT], Intensity.SUBTLE, 4000, 1000, Size(1080, 1080))
    windows = [path.window(t) for t in frame_times(30)]
    left, top, right, bottom = visited_bounds(windows, 4000, 1000)
    assert (top, bottom) == (0, 1000)
    assert right - left < 1300  # far less than the 4000 px canvas


@pytest.mark.parametrize("motion", [Motion.ZOOM_OUT, Motion.STATIC])
def test_visited_bounds_stay_inside_an_odd_sized_canvas(motion: Motion) -> None:
    path = plan_path([motion], Intensity.NORMAL, 1001, 1001, Size(1080, 1080))
    windows = [path.window(t) for t in frame_times(10)]
    left, top, right, bottom = visited_bounds(windows, 1001, 1001)
    assert (left, top) >= (0, 0)
    assert (right, bottom) <= (1001, 1001)


@pytest.mark.parametrize(("canvas_w", "canvas_h"), [(1001, 1001), (1081, 1920), (1500, 2001)])
def test_renderer_accepts_an_odd_sized_canvas(canvas_w: int, canvas_h: int) -> None:
    size = Size(1080, 1920)
    colour = (10, 200, 120)
    path = plan_path([Motion.ZOOM_OUT], Intensity.NORMAL, canvas_w, canvas_h, size)
    frame = next(iter(PathRenderer(uniform(canvas_w, canvas_h, colour), path, 3)))
    assert frame.shape == (1920 * 3 // 2, 1080)
    assert np.all(planes(frame, size)[0] == expected_ycbcr(colour)[0])


def test_odd_sized_photo_larger_than_the_output_keeps_its_content() -> None:
    canvas_w, canvas_h = 1501, 1201
    rows = np.linspace(0, 255, canvas_h).round().astype(np.uint8)
    canvas = np.ascontiguousarray(np.broadcast_to(rows[:, None, None], (canvas_h, canvas_w, 3)))
    size = Size(360, 640)
    path = plan_path([Motion.ZOOM_IN], Intensity.SUBTLE, canvas_w, canvas_h, size)
    assert path.max_scale < 1.0  # the renderer shrinks the canvas before warping
    frame = next(iter(PathRenderer(canvas, path, 3)))
    column = planes(frame, size)[0][:, size.width // 2].astype(int)
    assert column[-1] - column[0] > 150  # the vertical gradient is still there
    assert np.all(np.diff(column) >= 0)


# --- the canvas the renderer moves over ------------------------------------------------------


def test_cover_canvas_is_the_image_itself() -> None:
    rgb = uniform(1000, 800, (1, 2, 3))
    assert build_canvas(rgb, Size(1080, 1920), Fit.COVER, 1.4).pixels is rgb


@pytest.mark.parametrize("size", OUTPUT_SIZES, ids=str)
def test_contain_canvas_has_the_output_aspect_and_room_to_zoom(size: Size) -> None:
    rgb = uniform(1200, 500, (250, 250, 250))
    canvas = build_canvas(rgb, size, Fit.CONTAIN, 1.4).pixels
    height, width = canvas.shape[:2]
    assert width % 2 == 0
    assert height % 2 == 0
    assert width >= size.width * 1.4
    assert height >= size.height * 1.4
    assert width / height == pytest.approx(size.aspect, abs=0.01)
    # The whole image is in the middle, touching the canvas on its longer fitting axis.
    assert np.all(canvas[height // 2, width // 2] == 250)
    rows = np.nonzero(np.all(canvas[:, width // 2] == 250, axis=-1))[0]
    cols = np.nonzero(np.all(canvas[height // 2] == 250, axis=-1))[0]
    fg_w, fg_h = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
    assert fg_w / fg_h == pytest.approx(1200 / 500, rel=0.02)
    assert fg_w == width or fg_h == height
    # The backdrop is darker than the image itself.
    assert canvas[0, 0].max() < 250 or canvas[-1, -1].max() < 250


# --- cost ------------------------------------------------------------------------------------


@pytest.mark.parametrize("motion", [Motion.ZOOM_IN, Motion.PAN_RIGHT, Motion.STATIC])
def test_almost_every_frame_takes_the_planned_resize(motion: Motion) -> None:
    # A bilinear warp costs ~3x a planned resize per plane: it is for rare scales only.
    size = Size(1080, 1920)
    path = plan_path([motion], Intensity.SUBTLE, 3000, 2000, size)
    renderer = PathRenderer(uniform(3000, 2000, (1, 2, 3)), path, 150)
    planned = 0
    for t in renderer.times:
        luma, chroma = renderer.affines(t)
        planned += (
            plan_resize(luma, size.width, size.height) is not None
            and plan_resize(chroma, size.width // 2, size.height // 2, 2 * TOLERANCE_PX) is not None
        )
    assert planned >= 0.95 * len(renderer.times)
