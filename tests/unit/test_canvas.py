"""build_canvas: where the picture sits, the picture untouched, and what each backdrop is like."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from i2v.domain.size import Size
from i2v.domain.spec import Backdrop, Fit
from i2v.framing.base import Box
from i2v.media.canvas import Canvas, Placement, build_canvas

VERTICAL = Size(1080, 1920)
LANDSCAPE = Size(1920, 1080)
ZOOM = 1.4


def noise(width: int, height: int, seed: int = 0) -> NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def photo_like(width: int = 1200, height: int = 800) -> NDArray[np.uint8]:
    """Smooth colour gradients with sharp shapes on them: something like a photo."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([255 * xs / width, 255 * ys / height, 255 - 200 * ys / height], axis=-1)
    rgb[(xs // 40 + ys // 40) % 2 == 0] *= 0.5  # a checkerboard: plenty of edges
    return rgb.astype(np.uint8)


def bands(canvas: Canvas) -> list[NDArray[np.uint8]]:
    """The backdrop's two bands (above and below, or left and right of the picture)."""
    p = canvas.placement
    pixels = canvas.pixels
    if p.width == pixels.shape[1]:
        return [pixels[: p.y0], pixels[p.y0 + p.height :]]
    return [pixels[:, : p.x0], pixels[:, p.x0 + p.width :]]


def laplacian_variance(rgb: NDArray[np.uint8]) -> float:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


# --- placement -------------------------------------------------------------------------------


def test_cover_is_the_picture_itself_placed_over_all_of_it() -> None:
    rgb = noise(300, 200)
    canvas = build_canvas(rgb, VERTICAL, Fit.COVER, ZOOM)
    assert canvas.pixels is rgb
    assert canvas.placement == Placement(0, 0, 300, 200)


@pytest.mark.parametrize("backdrop", list(Backdrop))
def test_a_landscape_picture_in_a_vertical_frame_spans_its_width_centred(
    backdrop: Backdrop,
) -> None:
    canvas = build_canvas(noise(1200, 500), VERTICAL, Fit.CONTAIN, ZOOM, backdrop)
    height, width = canvas.pixels.shape[:2]
    assert (width, height) == (1512, 2688)
    p = canvas.placement
    assert (p.x0, p.width) == (0, width)
    assert p.height == round(500 * width / 1200)
    assert p.y0 == (height - p.height) // 2


@pytest.mark.parametrize("backdrop", list(Backdrop))
def test_the_picture_is_exactly_inside_its_placement(backdrop: Backdrop) -> None:
    rgb = noise(1200, 500)
    canvas = build_canvas(rgb, VERTICAL, Fit.CONTAIN, ZOOM, backdrop)
    p = canvas.placement
    # Scaled up with the same filter build_canvas uses, and pasted untouched: no shadow on it.
    expected = cv2.resize(rgb, (p.width, p.height), interpolation=cv2.INTER_CUBIC)
    inside = canvas.pixels[p.y0 : p.y0 + p.height, p.x0 : p.x0 + p.width]
    np.testing.assert_array_equal(inside, expected)


@pytest.mark.parametrize("backdrop", list(Backdrop))
def test_the_picture_edge_is_crisp(backdrop: Backdrop) -> None:
    # A saturated magenta no backdrop reproduces: it is dimmed, desaturated or tamed.
    colour = np.array([250, 20, 200], np.uint8)
    rgb = np.broadcast_to(colour, (500, 1200, 3)).copy()
    canvas = build_canvas(rgb, VERTICAL, Fit.CONTAIN, ZOOM, backdrop)
    p = canvas.placement
    pixels = canvas.pixels.astype(int)
    assert np.all(pixels[p.y0 : p.y0 + p.height] == colour)
    for row in (p.y0 - 1, p.y0 + p.height):
        assert np.abs(pixels[row] - colour).max(axis=-1).min() > 40


@pytest.mark.parametrize("backdrop", list(Backdrop))
def test_a_portrait_picture_in_a_landscape_frame_has_bands_left_and_right(
    backdrop: Backdrop,
) -> None:
    rgb = photo_like(600, 900)
    canvas = build_canvas(rgb, LANDSCAPE, Fit.CONTAIN, ZOOM, backdrop)
    height, width = canvas.pixels.shape[:2]
    p = canvas.placement
    assert (p.y0, p.height) == (0, height)
    assert p.width == round(600 * height / 900)
    assert p.x0 == (width - p.width) // 2
    left, right = bands(canvas)
    assert left.shape[1] == p.x0 > 0
    assert right.shape[1] == width - p.x0 - p.width > 0
    # The fill is darker than the picture, on both sides.
    picture = canvas.pixels[:, p.x0 : p.x0 + p.width]
    assert left.mean() < picture.mean()
    assert right.mean() < picture.mean()


@pytest.mark.parametrize("backdrop", list(Backdrop))
@pytest.mark.parametrize("zoom", [1.0, ZOOM])
def test_a_picture_of_the_frames_aspect_fills_it(backdrop: Backdrop, zoom: float) -> None:
    rgb = photo_like(540, 960)
    canvas = build_canvas(rgb, VERTICAL, Fit.CONTAIN, zoom, backdrop)
    height, width = canvas.pixels.shape[:2]
    assert canvas.placement == Placement(0, 0, width, height)
    expected = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_array_equal(canvas.pixels, expected)


@pytest.mark.parametrize("backdrop", list(Backdrop))
@pytest.mark.parametrize(
    ("width", "height"),
    [(1, 1000), (1000, 1), (1, 1), (2, 2), (20000, 3), (3, 20000), (7, 5)],
)
@pytest.mark.parametrize("output", [VERTICAL, LANDSCAPE, Size(360, 360)], ids=str)
def test_degenerate_pictures_still_make_a_canvas(
    backdrop: Backdrop, width: int, height: int, output: Size
) -> None:
    rgb = noise(width, height)
    canvas = build_canvas(rgb, output, Fit.CONTAIN, ZOOM, backdrop)
    canvas_h, canvas_w = canvas.pixels.shape[:2]
    assert canvas.pixels.dtype == np.uint8
    assert canvas.pixels.shape[2] == 3
    assert canvas_w / canvas_h == pytest.approx(output.aspect, abs=0.01)
    p = canvas.placement
    assert p.x0 >= 0
    assert p.x0 + p.width <= canvas_w
    assert p.y0 >= 0
    assert p.y0 + p.height <= canvas_h
    assert p.width >= 1
    assert p.height >= 1
    assert p.width == canvas_w or p.height == canvas_h


# --- what each backdrop looks like ----------------------------------------------------------


def test_each_backdrop_is_a_different_fill() -> None:
    rgb = photo_like()
    fills = {
        backdrop: np.concatenate(
            [
                band.reshape(-1, 3)
                for band in bands(build_canvas(rgb, VERTICAL, Fit.CONTAIN, 1.0, backdrop))
            ]
        ).astype(int)
        for backdrop in Backdrop
    }
    for a, b in itertools.combinations(Backdrop, 2):
        assert np.abs(fills[a] - fills[b]).mean() > 5, (a, b)


def test_colour_bands_are_flat() -> None:
    canvas = build_canvas(photo_like(), VERTICAL, Fit.CONTAIN, 1.0, Backdrop.COLOUR)
    for band in bands(canvas):
        pixels = band.astype(float)
        # Across: one colour. Down: a gentle fade and a soft shadow by the picture, no more.
        assert pixels.std(axis=1).max() < 1.0
        assert pixels.std(axis=(0, 1)).max() < 12


def test_colour_bands_are_never_garish() -> None:
    # Pure saturated red above, pure white below: the bands are tamed versions of them.
    rgb = np.zeros((600, 1200, 3), np.uint8)
    rgb[:300] = (255, 0, 0)
    rgb[300:] = (255, 255, 255)
    canvas = build_canvas(rgb, VERTICAL, Fit.CONTAIN, 1.0, Backdrop.COLOUR)
    above, below = bands(canvas)
    for band in (above, below):
        hsv = cv2.cvtColor(band, cv2.COLOR_RGB2HSV)
        assert hsv[..., 1].max() <= 0.46 * 255  # saturation
        assert hsv[..., 2].max() <= 0.51 * 255  # brightness
    red, green, blue = above.reshape(-1, 3).mean(axis=0)
    assert red > green + 30
    assert red > blue + 30
    assert np.ptp(below.reshape(-1, 3).mean(axis=0)) < 3  # and the white's grey


def test_the_colour_of_a_varied_edge_is_one_of_its_colours_not_their_grey() -> None:
    # Four vertical stripes on the top edge, blue the widest: the band is blue, not grey.
    rgb = np.full((600, 1200, 3), 128, np.uint8)
    rgb[:, :500] = (30, 60, 200)
    rgb[:, 500:750] = (220, 40, 40)
    rgb[:, 750:1000] = (40, 200, 40)
    rgb[:, 1000:] = (230, 230, 30)
    above, _ = bands(build_canvas(rgb, VERTICAL, Fit.CONTAIN, 1.0, Backdrop.COLOUR))
    red, green, blue = above.reshape(-1, 3).mean(axis=0)
    assert blue > red + 30
    assert blue > green + 30


def test_blur_keeps_no_detail_of_the_picture() -> None:
    rgb = photo_like()
    canvas = build_canvas(rgb, VERTICAL, Fit.CONTAIN, 1.0, Backdrop.BLUR)
    p = canvas.placement
    picture = canvas.pixels[p.y0 : p.y0 + p.height]
    for band in bands(canvas):
        # Inset from the picture's edge, where the soft shadow is a (smooth) ramp.
        assert laplacian_variance(band[20:-20]) < laplacian_variance(picture) / 1000


def test_blur_takes_each_band_from_its_own_edge() -> None:
    # Blue sky over green fields: blue above the picture, green below.
    rgb = np.zeros((600, 1200, 3), np.uint8)
    rgb[:300] = (40, 80, 220)
    rgb[300:] = (40, 180, 40)
    above, below = bands(build_canvas(rgb, VERTICAL, Fit.CONTAIN, 1.0, Backdrop.BLUR))
    red, green, blue = above.reshape(-1, 3).mean(axis=0)
    assert blue > green > red
    red, green, blue = below.reshape(-1, 3).mean(axis=0)
    assert green > red
    assert green > blue


def test_mirror_reflects_the_picture_outward() -> None:
    # A red stripe along the top edge, blue below it: above the picture, red first (the
    # edge's reflection), then blue (the reflection of what lies under the stripe).
    rgb = np.zeros((600, 1200, 3), np.uint8)
    rgb[:60] = (230, 30, 30)
    rgb[60:] = (30, 30, 230)
    canvas = build_canvas(rgb, VERTICAL, Fit.CONTAIN, 1.0, Backdrop.MIRROR)
    p = canvas.placement
    scale = p.height / 600
    near = canvas.pixels[p.y0 - round(30 * scale), p.width // 2].astype(int)
    far = canvas.pixels[p.y0 - round(200 * scale), p.width // 2].astype(int)
    assert near[0] > near[2] + 30
    assert far[2] > far[0] + 30
    # ... and darkened, so the picture stands out.
    assert near[0] < 230 * 0.6
    assert far[2] < 230 * 0.6


# --- mapping picture fractions to canvas fractions ------------------------------------------


def test_to_canvas_is_the_identity_for_cover() -> None:
    canvas = build_canvas(noise(300, 200), VERTICAL, Fit.COVER, ZOOM)
    box = Box(0.1, 0.2, 0.6, 0.9)
    assert canvas.to_canvas(box) == box


def test_to_canvas_maps_into_the_placement() -> None:
    canvas = Canvas(np.zeros((2000, 1000, 3), np.uint8), Placement(0, 700, 1000, 600))
    whole = canvas.to_canvas(Box(0.0, 0.0, 1.0, 1.0))
    assert whole == Box(0.0, 0.35, 1.0, 0.65)
    face = canvas.to_canvas(Box(0.25, 0.5, 0.75, 1.0))
    assert face.left == pytest.approx(0.25)
    assert face.right == pytest.approx(0.75)
    assert face.top == pytest.approx((700 + 300) / 2000)
    assert face.bottom == pytest.approx(0.65)


def test_to_canvas_maps_left_and_right_bands_too() -> None:
    canvas = build_canvas(photo_like(600, 900), LANDSCAPE, Fit.CONTAIN, ZOOM)
    p = canvas.placement
    width = canvas.pixels.shape[1]
    mapped = canvas.to_canvas(Box(0.5, 0.0, 1.0, 0.5))
    assert mapped.left == pytest.approx((p.x0 + p.width / 2) / width)
    assert mapped.right == pytest.approx((p.x0 + p.width) / width)
    assert (mapped.top, mapped.bottom) == (0.0, 0.5)
    # The picture's centre is the canvas's (to the pixel of rounding).
    centre = canvas.to_canvas(Box(0.4, 0.4, 0.6, 0.6)).centre
    assert centre == pytest.approx((0.5, 0.5), abs=1 / width)
