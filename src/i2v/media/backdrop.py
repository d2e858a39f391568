"""The fill around a picture shown whole (fit contain): a soft blur, colour bands or a mirror."""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from i2v.domain.spec import Backdrop

# Every backdrop is painted at 1/4 of the canvas's size and scaled up once: it is soft by
# design, so the detail lost is none, and the work is 16x less (the canvas is ~4 Mpx).
_WORK_SCALE = 4
# blur: the picture's colours spread so far that no shape survives. The field is made on a
# canvas this many px across its short side, blurred by a fraction of it.
_BLUR_SIDE = 32
_BLUR_SIGMA = 0.14  # of the small canvas's short side: a mountain is gone, the sky stays blue
_BLUR_DESATURATE = 0.15
# mirror: a reflection soft enough to read as a reflection, not as more picture.
_MIRROR_SIGMA = 0.006  # of the canvas's short side: ~9 px on a 1512 px canvas
_MIRROR_DESATURATE = 0.2
# colour: a band colour is the picture's edge colour, tamed so it never outshouts the picture.
_COLOUR_STRIP = 0.06  # the edge strip the colour is taken from, in fractions of the picture
_COLOUR_MAX_SATURATION = 0.45
_COLOUR_MAX_VALUE = 0.5
_COLOUR_MIN_VALUE = 0.06
# How bright each fill stays beside the picture and at the canvas's far edge: the picture
# must be the brightest thing in the frame, and a band fading outward leads the eye inward.
_DIM: dict[Backdrop, tuple[float, float]] = {
    Backdrop.BLUR: (0.72, 0.5),
    Backdrop.COLOUR: (1.0, 0.88),
    Backdrop.MIRROR: (0.5, 0.28),
}
# A soft shadow under the picture's edge lifts it off the fill, like a print on a table.
_SHADOW_STRENGTH = 0.3
_SHADOW_WIDTH = 0.012  # of the canvas's short side


def paint_backdrop(
    kind: Backdrop, picture: NDArray[np.uint8], canvas_w: int, canvas_h: int, x0: int, y0: int
) -> NDArray[np.uint8]:
    """A (canvas_h, canvas_w, 3) fill for `picture` placed at (x0, y0), which spans one axis.

    The area under the picture is filled too (the caller pastes the picture over it).
    """
    fg_h, fg_w = picture.shape[:2]
    if fg_w == canvas_w and fg_h < canvas_h:
        return _paint_rows(kind, picture, canvas_h, y0)
    if fg_h == canvas_h and fg_w < canvas_w:
        # Bands left and right: paint as if they were above and below, on the transpose.
        painted = _paint_rows(kind, picture.transpose(1, 0, 2), canvas_w, x0)
        return np.ascontiguousarray(painted.transpose(1, 0, 2))
    # No bands (the picture fills the canvas): nothing shows, any fill will do.
    return np.zeros((canvas_h, canvas_w, 3), np.uint8)


def _paint_rows(
    kind: Backdrop, picture: NDArray[np.uint8], canvas_h: int, y0: int
) -> NDArray[np.uint8]:
    """Bands above and below a picture that spans the canvas's width."""
    fg_h, canvas_w = picture.shape[:2]
    work_w = max(1, math.ceil(canvas_w / _WORK_SCALE))
    work_h = max(1, math.ceil(canvas_h / _WORK_SCALE))
    # The picture's rows on the work canvas, kept at least one row tall.
    top = min(work_h - 1, round(y0 * work_h / canvas_h))
    height = max(1, min(work_h - top, round(fg_h * work_h / canvas_h)))
    if kind is Backdrop.COLOUR:
        field = _colour_field(picture, work_w, work_h, top + height / 2)
    elif kind is Backdrop.MIRROR:
        sigma = _MIRROR_SIGMA * min(canvas_w, canvas_h) / _WORK_SCALE
        field = _extended(picture, work_w, work_h, top, height, sigma)
        field = _desaturate(field, _MIRROR_DESATURATE)
    else:
        field = _blur_field(picture, work_w, work_h, top, height)
    field *= _row_light(kind, work_h, canvas_h, canvas_w, y0, fg_h)[:, None, None]
    small = np.clip(field + 0.5, 0, 255).astype(np.uint8)
    return np.asarray(cv2.resize(small, (canvas_w, canvas_h), interpolation=cv2.INTER_LINEAR))


def _extended(
    picture: NDArray[np.uint8],
    width: int,
    height: int,
    top: int,
    rows: int,
    sigma: float,
    border: int = cv2.BORDER_REFLECT,
) -> NDArray[np.float32]:
    """The picture at (top, rows) on a (height, width) canvas, extended outward, blurred."""
    small = cv2.resize(picture, (width, rows), interpolation=cv2.INTER_AREA)
    if rows == 1:
        border = cv2.BORDER_REPLICATE  # a one-row picture has nothing to reflect
    field = cv2.copyMakeBorder(small, top, height - top - rows, 0, 0, border)
    field = field.astype(np.float32)
    if sigma > 0.3:
        field = cv2.GaussianBlur(field, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return np.asarray(field, np.float32)


def _blur_field(
    picture: NDArray[np.uint8], width: int, height: int, top: int, rows: int
) -> NDArray[np.float32]:
    """The picture's colours spread over the canvas, with nothing left of its shapes.

    Made on a canvas _BLUR_SIDE px across (a blur of any size costs nothing there) from the
    picture's edge rows stretched outward, so each band has its edge's colours: sky above,
    ground below. (Reflected instead, the band pulls in the picture's far side too: greys.)
    """
    shrink = _BLUR_SIDE / min(width, height)
    tiny_w = max(1, round(width * shrink))
    tiny_h = max(1, round(height * shrink))
    tiny_top = min(tiny_h - 1, round(top * tiny_h / height))
    tiny_rows = max(1, min(tiny_h - tiny_top, round(rows * tiny_h / height)))
    sigma = _BLUR_SIGMA * min(tiny_w, tiny_h)
    tiny = _extended(picture, tiny_w, tiny_h, tiny_top, tiny_rows, sigma, cv2.BORDER_REPLICATE)
    tiny = _desaturate(tiny, _BLUR_DESATURATE)  # here, on ~2000 px rather than ~250 000
    return np.asarray(cv2.resize(tiny, (width, height), interpolation=cv2.INTER_CUBIC), np.float32)


def _colour_field(
    picture: NDArray[np.uint8], width: int, height: int, middle: float
) -> NDArray[np.float32]:
    """The top edge's colour above the picture's middle row, the bottom edge's below it."""
    strip = max(1, round(picture.shape[0] * _COLOUR_STRIP))
    above = _band_colour(picture[:strip])
    below = _band_colour(picture[-strip:])
    rows = np.arange(height, dtype=np.float32)[:, None]
    field = np.where(rows < middle, above[None, :], below[None, :])
    return np.ascontiguousarray(np.broadcast_to(field[:, None, :], (height, width, 3)))


def _band_colour(strip: NDArray[np.uint8]) -> NDArray[np.float32]:
    """One quiet colour for an edge strip: its median, with saturation and brightness capped."""
    rgb = _dominant(strip) / 255
    hsv = cv2.cvtColor(rgb.reshape(1, 1, 3), cv2.COLOR_RGB2HSV)[0, 0]
    hsv[1] = min(float(hsv[1]), _COLOUR_MAX_SATURATION)
    hsv[2] = float(np.clip(hsv[2], _COLOUR_MIN_VALUE, _COLOUR_MAX_VALUE))
    tamed = cv2.cvtColor(hsv.reshape(1, 1, 3), cv2.COLOR_HSV2RGB)[0, 0]
    return np.asarray(tamed * 255, np.float32)


def _dominant(strip: NDArray[np.uint8]) -> NDArray[np.float32]:
    """The mean of the strip's most common colour (8 levels a channel), as float RGB 0-255.

    Not the strip's mean or median: those of a varied edge (a rainbow, a city) are a grey
    that is in none of it; and a sun or a dark tree on the edge does not tint the band.
    """
    pixels = strip.reshape(-1, 3)
    if len(pixels) > 4096:  # a sample is as good and keeps this cheap on a long edge
        pixels = pixels[:: len(pixels) // 4096]
    bins = (pixels >> 5).astype(np.int32)
    keys = bins[:, 0] * 64 + bins[:, 1] * 8 + bins[:, 2]
    common = np.bincount(keys, minlength=512).argmax()
    return np.asarray(pixels[keys == common].mean(axis=0), np.float32)


def _desaturate(field: NDArray[np.float32], amount: float) -> NDArray[np.float32]:
    luma = field @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    return np.asarray(field * (1 - amount) + luma[..., None] * amount, np.float32)


def _row_light(
    kind: Backdrop, work_h: int, canvas_h: int, canvas_w: int, y0: int, fg_h: int
) -> NDArray[np.float32]:
    """Each work row's brightness: dimmer away from the picture, a soft shadow at its edges."""
    centres = (np.arange(work_h, dtype=np.float32) + 0.5) * (canvas_h / work_h)
    distance = np.maximum(0.0, np.maximum(y0 - centres, centres - (y0 + fg_h)))
    # Both bands fade on one scale, so the thinner one does not go dark faster.
    reach = max(1.0, float(y0), float(canvas_h - y0 - fg_h))
    near, far = _DIM[kind]
    light = near + (far - near) * np.minimum(1.0, distance / reach)
    shadow_width = _SHADOW_WIDTH * min(canvas_w, canvas_h)
    light *= 1 - _SHADOW_STRENGTH * np.exp(-distance / shadow_width)
    return np.asarray(light, np.float32)
