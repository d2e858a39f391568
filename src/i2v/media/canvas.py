"""The still canvas an image sits on: the image itself (cover), or on a blurred copy (contain)."""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from i2v.domain.size import Size
from i2v.domain.spec import Fit

_BACKDROP_DOWNSCALE = 8  # blur at 1/8 size: same look, 64x less work
_BACKDROP_SIGMA = 6.0  # in downscaled px
_BACKDROP_DIM = 0.65  # darken so the sharp image stands out


def build_canvas(rgb: NDArray[np.uint8], output: Size, fit: Fit, zoom: float) -> NDArray[np.uint8]:
    """Canvas for `fit`; for contain it has the output's aspect and room for `zoom`."""
    if fit is Fit.COVER:
        return rgb
    canvas_w = 2 * math.ceil(output.width * zoom / 2)
    canvas_h = 2 * math.ceil(output.height * zoom / 2)
    height, width = rgb.shape[:2]
    canvas = _backdrop(rgb, canvas_w, canvas_h)
    scale = min(canvas_w / width, canvas_h / height)
    fg_w = min(canvas_w, max(1, round(width * scale)))
    fg_h = min(canvas_h, max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    foreground = cv2.resize(rgb, (fg_w, fg_h), interpolation=interpolation)
    x0, y0 = (canvas_w - fg_w) // 2, (canvas_h - fg_h) // 2
    canvas[y0 : y0 + fg_h, x0 : x0 + fg_w] = foreground
    return canvas


def _backdrop(rgb: NDArray[np.uint8], canvas_w: int, canvas_h: int) -> NDArray[np.uint8]:
    height, width = rgb.shape[:2]
    small_w = max(2, canvas_w // _BACKDROP_DOWNSCALE)
    small_h = max(2, canvas_h // _BACKDROP_DOWNSCALE)
    cover = max(small_w / width, small_h / height)
    crop_w = min(width, max(1, round(small_w / cover)))
    crop_h = min(height, max(1, round(small_h / cover)))
    x0, y0 = (width - crop_w) // 2, (height - crop_h) // 2
    small = cv2.resize(
        rgb[y0 : y0 + crop_h, x0 : x0 + crop_w], (small_w, small_h), interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), _BACKDROP_SIGMA, borderType=cv2.BORDER_REFLECT)
    small = cv2.convertScaleAbs(small, alpha=_BACKDROP_DIM)
    return np.asarray(cv2.resize(small, (canvas_w, canvas_h), interpolation=cv2.INTER_LINEAR))
