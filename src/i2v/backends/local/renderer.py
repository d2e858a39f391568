"""Render a camera path over a still canvas straight into NV12 frames, sub-pixel exact.

The canvas is cropped to the area the path ever shows, resampled once so that the most
zoomed frame samples it at a little under 1:1, and converted to Y'CbCr 4:2:0 once. Each
frame is then one bilinear scale-and-shift of the luma plane and one of the interleaved
chroma plane, with float (never whole-pixel) offsets and scales (see resample.py), so
motion is free of jitter and the encoder gets 4:2:0 without a per-frame colour conversion.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np
from numpy.typing import NDArray

from i2v.backends.base import NV12Frame
from i2v.backends.local.camera import CameraPath, Window
from i2v.backends.local.resample import (
    PREFERRED_MAX_SCALE,
    TOLERANCE_PX,
    Plane,
    plan_resize,
)
from i2v.media.color import rgb_to_luma_chroma

_MARGIN = 2  # canvas px kept around the visited area so bilinear taps stay inside


def _even_ceil(value: float) -> int:
    return 2 * math.ceil(value / 2 - 1e-9)


def _resampled(
    region: NDArray[np.uint8], factor: float, need_w: int, need_h: int
) -> NDArray[np.uint8]:
    """`region` scaled by `factor` into (need_h, need_w, 3), its last row and column repeated
    to fill it (cv2 rounds the size, and 4:2:0 needs even sides), as edge replication would.
    """
    if abs(factor - 1.0) <= 1e-9:
        height, width = region.shape[:2]
        if (height, width) == (need_h, need_w):
            return region
        grown = np.empty((need_h, need_w, 3), np.uint8)
        grown[:height, :width] = region
    else:
        # Straight into the grown array: no second copy of a few MB of fresh memory.
        height, width = round(region.shape[0] * factor), round(region.shape[1] * factor)
        grown = np.empty((need_h, need_w, 3), np.uint8)
        target = grown[:height, :width]
        # fx/fy (not a target size) so the map is exactly x * factor: the frame scales then
        # land exactly on PREFERRED_MAX_SCALE, whatever the rounding of the size.
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
        resized = cv2.resize(
            region, None, dst=target, fx=factor, fy=factor, interpolation=interpolation
        )
        if resized is not target:  # cv2 rounds length * factor to nearest, as round() does
            raise RuntimeError(f"cv2.resize made {resized.shape[:2]}, expected {(height, width)}")
    grown[height:, :width] = grown[height - 1 : height, :width]
    grown[:, width:] = grown[:, width - 1 : width]
    return grown


def frame_times(frame_count: int) -> list[float]:
    if frame_count <= 1:
        return [0.0]
    return [i / (frame_count - 1) for i in range(frame_count)]


def visited_bounds(
    windows: list[Window], canvas_w: int, canvas_h: int
) -> tuple[int, int, int, int]:
    """Whole-pixel box (left, top, right, bottom) inside the canvas holding every window."""
    left = max(0, math.floor(min(w.left for w in windows)) - _MARGIN)
    top = max(0, math.floor(min(w.top for w in windows)) - _MARGIN)
    right = min(canvas_w, math.ceil(max(w.right for w in windows)) + _MARGIN)
    bottom = min(canvas_h, math.ceil(max(w.bottom for w in windows)) + _MARGIN)
    return left, top, right, bottom


class PathRenderer:
    """Frames of `path` over `canvas` (H, W, 3 uint8 sRGB); iterate to get NV12 frames."""

    def __init__(self, canvas: NDArray[np.uint8], path: CameraPath, frame_count: int) -> None:
        self.path = path
        self.times = frame_times(frame_count)
        canvas_h, canvas_w = canvas.shape[:2]
        left, top, right, bottom = visited_bounds(
            [path.window(t) for t in self.times], canvas_w, canvas_h
        )
        # Resample once so that the deepest zoom maps source to output at PREFERRED_MAX_SCALE:
        # every frame is then a mild downscale, which the planned resize handles exactly.
        factor = path.max_scale / PREFERRED_MAX_SCALE
        need_w = _even_ceil((right - left) * factor)
        need_h = _even_ceil((bottom - top) * factor)
        region = _resampled(canvas[top:bottom, left:right], factor, need_w, need_h)
        self._origin = (float(left), float(top))
        self._factor = factor  # source px per canvas px
        min_scale = path.min_scale / factor  # a compound move may be widest mid-way
        out_w, out_h = path.output.width, path.output.height
        self._luma = Plane(need_w, need_h, 1, min_scale, out_w, out_h)
        # Cb and Cr interleaved, as in the frame: one resize of two channels, and no shuffling.
        self._chroma = Plane(need_w // 2, need_h // 2, 2, min_scale, out_w // 2, out_h // 2)
        rgb_to_luma_chroma(region, self._luma.pixels, self._chroma.pixels)
        self._luma.replicate_border()
        self._chroma.replicate_border()
        self.resized_frames = 0  # frames whose planes all took the fast exact path

    @property
    def source_shape(self) -> tuple[int, int]:
        return self._luma.width, self._luma.height

    def affines(self, t: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Source-to-output affine matrices for the luma and the chroma planes at time t."""
        out_w, out_h = self.path.output.width, self.path.output.height
        k = self.path.scale(t)
        window = self.path.window(t)
        kx = ky = k / self._factor
        cx = (window.cx - self._origin[0]) * self._factor
        cy = (window.cy - self._origin[1]) * self._factor
        # Pixel i covers [i, i+1). Luma: source sample s (centre s+0.5) lands on output
        # u with u + 0.5 = W/2 + k(s + 0.5 - cx).
        luma = np.array(
            [
                [kx, 0.0, out_w / 2 + kx * (0.5 - cx) - 0.5],
                [0.0, ky, out_h / 2 + ky * (0.5 - cy) - 0.5],
            ]
        )
        # Chroma: source samples (2x2 box averages) are centred at luma 2c+1; H.264's default
        # siting puts output sample j at luma x = 2j+0.5 (left) and y = 2i+1 (between rows).
        chroma = np.array(
            [
                [kx, 0.0, (out_w / 2 + kx * (1.0 - cx) - 0.5) / 2],
                [0.0, ky, (out_h / 2 + ky * (1.0 - cy) - 1.0) / 2],
            ]
        )
        return luma, chroma

    def render(self, t: float) -> NV12Frame:
        out_w, out_h = self.path.output.width, self.path.output.height
        luma_m, chroma_m = self.affines(t)
        # Luma is resized straight into the new frame; the chroma rows go below it.
        luma_plans = plan_resize(luma_m, out_w, out_h)
        frame, fast = self._luma.render_new(luma_m, luma_plans, out_w, out_h, out_h * 3 // 2)
        chroma = frame[out_h:].reshape(out_h // 2, out_w // 2, 2)
        # A chroma px is two luma px wide, so the same tolerance in luma px is doubled.
        chroma_plans = plan_resize(chroma_m, out_w // 2, out_h // 2, 2 * TOLERANCE_PX)
        fast &= self._chroma.render(chroma_m, chroma_plans, chroma)
        self.resized_frames += fast
        return frame

    def __iter__(self) -> Iterator[NV12Frame]:
        for t in self.times:
            yield self.render(t)
