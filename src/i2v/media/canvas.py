"""The still canvas a picture sits on: the picture itself (cover), or on a backdrop (contain)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from i2v.domain.size import Size
from i2v.domain.spec import DEFAULT_BACKDROP, Backdrop, Fit
from i2v.framing.base import Box
from i2v.media.backdrop import paint_backdrop


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the picture sits in its canvas, in canvas px."""

    x0: int
    y0: int
    width: int
    height: int


# eq off: dataclass equality would compare the pixel arrays element by element.
@dataclass(frozen=True, slots=True, eq=False)
class Canvas:
    """The canvas's (H, W, 3) uint8 pixels and where in them the picture is."""

    pixels: NDArray[np.uint8]
    placement: Placement

    def point_to_canvas(self, x: float, y: float) -> tuple[float, float]:
        """A point, in fractions of the picture, in fractions of the canvas instead."""
        height, width = self.pixels.shape[:2]
        p = self.placement
        return (p.x0 + x * p.width) / width, (p.y0 + y * p.height) / height

    def to_canvas(self, box: Box) -> Box:
        """`box`, in fractions of the picture, in fractions of the canvas instead."""
        height, width = self.pixels.shape[:2]
        p = self.placement
        return Box(
            left=(p.x0 + box.left * p.width) / width,
            top=(p.y0 + box.top * p.height) / height,
            right=(p.x0 + box.right * p.width) / width,
            bottom=(p.y0 + box.bottom * p.height) / height,
        )


def build_canvas(
    rgb: NDArray[np.uint8],
    output: Size,
    fit: Fit,
    zoom: float,
    backdrop: Backdrop = DEFAULT_BACKDROP,
) -> Canvas:
    """Canvas for `fit`; for contain it has the output's aspect and room for `zoom`."""
    height, width = rgb.shape[:2]
    if fit is Fit.COVER:
        return Canvas(rgb, Placement(0, 0, width, height))
    canvas_w = 2 * math.ceil(output.width * zoom / 2)
    canvas_h = 2 * math.ceil(output.height * zoom / 2)
    scale = min(canvas_w / width, canvas_h / height)
    # One side is the canvas's exactly (round undoes the float error); bands are on the other.
    fg_w = min(canvas_w, max(1, round(width * scale)))
    fg_h = min(canvas_h, max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    picture = np.asarray(cv2.resize(rgb, (fg_w, fg_h), interpolation=interpolation), np.uint8)
    x0, y0 = (canvas_w - fg_w) // 2, (canvas_h - fg_h) // 2
    canvas = paint_backdrop(backdrop, picture, canvas_w, canvas_h, x0, y0)
    canvas[y0 : y0 + fg_h, x0 : x0 + fg_w] = picture
    return Canvas(canvas, Placement(x0, y0, fg_w, fg_h))
