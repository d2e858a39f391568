"""Render a camera path over a still canvas straight into I420 frames, sub-pixel exact.

The canvas is cropped to the area the path ever shows, resampled once so that the most
zoomed frame samples it at a little under 1:1, and converted to Y'CbCr once. Each frame
is then one bilinear scale-and-shift per plane with float (never whole-pixel) offsets
and scales (see resample.py), so motion is free of jitter and the encoder gets yuv420p
without a per-frame colour conversion.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np
from numpy.typing import NDArray

from i2v.backends.base import I420Frame
from i2v.backends.local.camera import CameraPath, Window
from i2v.backends.local.resample import (
    PREFERRED_MAX_SCALE,
    TOLERANCE_PX,
    pad_needed,
    resample,
)
from i2v.media.color import rgb_to_ycbcr420

_MARGIN = 2  # canvas px kept around the visited area so bilinear taps stay inside


def _padded(plane: NDArray[np.uint8], pad: int) -> NDArray[np.uint8]:
    return np.asarray(
        cv2.copyMakeBorder(plane, pad, pad, pad, pad, cv2.BORDER_REPLICATE), dtype=np.uint8
    )


def _even_ceil(value: float) -> int:
    return 2 * math.ceil(value / 2 - 1e-9)


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
    """Frames of `path` over `canvas` (H, W, 3 uint8 sRGB); iterate to get I420 frames."""

    def __init__(self, canvas: NDArray[np.uint8], path: CameraPath, frame_count: int) -> None:
        self.path = path
        self.times = frame_times(frame_count)
        canvas_h, canvas_w = canvas.shape[:2]
        left, top, right, bottom = visited_bounds(
            [path.window(t) for t in self.times], canvas_w, canvas_h
        )
        region = canvas[top:bottom, left:right]
        # Resample once so that the deepest zoom maps source to output at PREFERRED_MAX_SCALE:
        # every frame is then a mild downscale, which the planned resize handles exactly.
        factor = path.max_scale / PREFERRED_MAX_SCALE
        if abs(factor - 1.0) > 1e-9:
            # fx/fy (not a target size) so the map is exactly x * factor: the frame scales
            # then land exactly on PREFERRED_MAX_SCALE, whatever the rounding of the size.
            interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
            resized = cv2.resize(region, None, fx=factor, fy=factor, interpolation=interpolation)
            region = np.asarray(resized, dtype=np.uint8)
        # Grow to cover the exact extent (cv2 rounds the size) and to even sides for 4:2:0,
        # by repeating the last row and column, as edge replication would anyway.
        height, width = region.shape[:2]
        need_w = _even_ceil((right - left) * factor)
        need_h = _even_ceil((bottom - top) * factor)
        if (need_w, need_h) != (width, height):
            region = np.asarray(
                cv2.copyMakeBorder(
                    region, 0, need_h - height, 0, need_w - width, cv2.BORDER_REPLICATE
                ),
                dtype=np.uint8,
            )
        self._origin = (float(left), float(top))
        self._factor = factor  # source px per canvas px
        luma, cb, cr = rgb_to_ycbcr420(np.ascontiguousarray(region))
        min_scale = min(path.scale(t) for t in (0.0, 1.0)) / factor
        self._pad = pad_needed(min_scale)
        self._chroma_pad = self._pad  # plans reach as far, in chroma px, as in luma px
        self._luma = _padded(luma, self._pad)
        self._cb = _padded(cb, self._chroma_pad)
        self._cr = _padded(cr, self._chroma_pad)
        self.resized_frames = 0  # frames whose planes all took the fast exact path

    @property
    def source_shape(self) -> tuple[int, int]:
        height, width = self._luma.shape
        return width - 2 * self._pad, height - 2 * self._pad

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

    def render(self, t: float) -> I420Frame:
        out_w, out_h = self.path.output.width, self.path.output.height
        chroma_shape = (out_h // 2, out_w // 2)
        luma_end = out_w * out_h
        quarter = chroma_shape[0] * chroma_shape[1]
        buffer = np.empty(luma_end + 2 * quarter, dtype=np.uint8)
        luma_m, chroma_m = self.affines(t)
        fast = resample(self._luma, self._pad, luma_m, buffer[:luma_end].reshape(out_h, out_w))
        for plane, dst in (
            (self._cb, buffer[luma_end:-quarter]),
            (self._cr, buffer[-quarter:]),
        ):
            # A chroma px is two luma px wide, so the same tolerance in luma px is doubled.
            fast &= resample(
                plane, self._chroma_pad, chroma_m, dst.reshape(chroma_shape), 2 * TOLERANCE_PX
            )
        self.resized_frames += fast
        return buffer.reshape(out_h * 3 // 2, out_w)

    def __iter__(self) -> Iterator[I420Frame]:
        for t in self.times:
            yield self.render(t)
