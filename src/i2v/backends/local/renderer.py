"""Render a camera path over a still canvas straight into I420 frames, sub-pixel exact.

The canvas is cropped to the area the path ever shows, resized once so that the most
zoomed frame samples it about 1:1, and converted to Y'CbCr once. Each frame is then
one bilinear affine warp per plane, with float (not whole-pixel) offsets and scales,
so motion is free of jitter and the encoder gets yuv420p without a per-frame colour
conversion.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np
from numpy.typing import NDArray

from i2v.backends.base import I420Frame
from i2v.backends.local.camera import CameraPath, Window
from i2v.media.color import rgb_to_ycbcr420

_MARGIN = 2  # canvas px kept around the visited area so bilinear taps stay inside


def frame_times(frame_count: int) -> list[float]:
    if frame_count <= 1:
        return [0.0]
    return [i / (frame_count - 1) for i in range(frame_count)]


def visited_bounds(
    windows: list[Window], canvas_w: int, canvas_h: int
) -> tuple[int, int, int, int]:
    """Whole-pixel box (left, top, right, bottom) holding every window, with even sides."""
    left = max(0, math.floor(min(w.left for w in windows)) - _MARGIN)
    top = max(0, math.floor(min(w.top for w in windows)) - _MARGIN)
    right = min(canvas_w, math.ceil(max(w.right for w in windows)) + _MARGIN)
    bottom = min(canvas_h, math.ceil(max(w.bottom for w in windows)) + _MARGIN)
    left, right = _even_span(left, right, canvas_w)
    top, bottom = _even_span(top, bottom, canvas_h)
    return left, top, right, bottom


def _even_span(start: int, end: int, limit: int) -> tuple[int, int]:
    """Widen [start, end) to an even length inside [0, limit); on an odd canvas it spans fully,
    drop its last pixel: edge replication then stands in for it, so nothing outside shows."""
    if (end - start) % 2 == 0:
        return start, end
    if end < limit:
        return start, end + 1
    if start > 0:
        return start - 1, end
    return start, end - 1


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
        region_w, region_h = right - left, bottom - top
        shrink = min(1.0, path.max_scale)
        if shrink < 1.0:
            new_w = max(2, 2 * round(region_w * shrink / 2))
            new_h = max(2, 2 * round(region_h * shrink / 2))
            resized = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA)
            region = np.asarray(resized, dtype=np.uint8)
        else:
            new_w, new_h = region_w, region_h
        self._origin = (float(left), float(top))
        self._sx = new_w / region_w  # source px per canvas px, per axis
        self._sy = new_h / region_h
        self._luma, self._cb, self._cr = rgb_to_ycbcr420(np.ascontiguousarray(region))

    @property
    def source_shape(self) -> tuple[int, int]:
        return int(self._luma.shape[1]), int(self._luma.shape[0])

    def affines(self, t: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Source-to-output affine matrices for the luma and the chroma planes at time t."""
        out_w, out_h = self.path.output.width, self.path.output.height
        k = self.path.scale(t)
        window = self.path.window(t)
        kx, ky = k / self._sx, k / self._sy
        cx = (window.cx - self._origin[0]) * self._sx
        cy = (window.cy - self._origin[1]) * self._sy
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
        chroma_size = (out_w // 2, out_h // 2)
        quarter = chroma_size[0] * chroma_size[1]
        buffer = np.empty(out_w * out_h + 2 * quarter, dtype=np.uint8)
        luma_m, chroma_m = self.affines(t)
        planes = (
            (self._luma, luma_m, buffer[: out_w * out_h].reshape(out_h, out_w), (out_w, out_h)),
            (
                self._cb,
                chroma_m,
                buffer[out_w * out_h : -quarter].reshape(chroma_size[::-1]),
                chroma_size,
            ),
            (self._cr, chroma_m, buffer[-quarter:].reshape(chroma_size[::-1]), chroma_size),
        )
        for source, matrix, dst, size in planes:
            cv2.warpAffine(
                source,
                matrix,
                size,
                dst=dst,
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        return buffer.reshape(out_h * 3 // 2, out_w)

    def __iter__(self) -> Iterator[I420Frame]:
        for t in self.times:
            yield self.render(t)
