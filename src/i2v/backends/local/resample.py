"""Sub-pixel exact scale-and-shift with cv2.resize, which is ~4x faster than a bilinear warp.

Given a scale factor instead of a target size, cv2.resize(INTER_LINEAR) samples source
``a + (i + 0.5) / k - 0.5`` for output pixel ``i`` of a region starting at source pixel
``a``: the scale ``k`` is exact (a double), but the origin is a whole pixel. We want output
pixel ``j`` to sample ``(j - b) / k`` for an arbitrary float offset ``b``. Rendering ``c``
extra pixels before the kept ones moves the phase by ``c / k``, so per axis we take the
smallest ``c`` that puts the kept pixels within a tolerance of their exact positions. As
the scale is exact, the error is the same for every pixel. The result has no rounding of
the window to whole pixels and costs a few percent of extra output pixels. Scales very
near a ratio of small whole numbers (10/9...) reach too few phases; there a bilinear warp
(same maths, ~4x the cost) renders the plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

MAX_CROP = 512  # most output px rendered before the kept ones to set the phase
# The deepest zoom (and every frame of a pan) is at this scale: 1.0618... is a badly
# approximable ratio, so its phases c / k spread evenly and every offset has a plan.
PREFERRED_MAX_SCALE = 1 / 1.0618034
TOLERANCE_PX = 0.01  # worst-case position error we accept, in output px
_BORDER = 2  # replicated px around a plane: as far as a kept pixel's bilinear taps reach
_CROPS = np.arange(MAX_CROP + 1, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class AxisPlan:
    """Resize source ``[start, start + length)`` by ``scale``; keep ``[crop, crop + out_len)``."""

    scale: float
    start: int  # unpadded source index; may be negative (the region reaches into the margin)
    length: int
    crop: int
    out_len: int
    error_px: float  # position error of every kept pixel, in output px

    @property
    def size(self) -> int:
        """Output px cv2.resize makes of the region (it rounds length * scale to nearest)."""
        return round(self.length * self.scale)


def plan_axis(
    scale: float, offset: float, out_len: int, tolerance: float = TOLERANCE_PX
) -> AxisPlan | None:
    """Plan one axis of ``output j <- source (j - offset) / scale`` (pixel-centre indices).

    None when no crop up to MAX_CROP is within `tolerance`. The region may start before 0
    or end past the source: `Plane` keeps the ``margins(scale)`` around it.
    """
    inv = 1.0 / scale
    # The first kept pixel must sample at or right of the region's first pixel: cv2 clamps
    # positions left of it instead of interpolating.
    crops = _CROPS[max(0, math.ceil(0.5 * scale - 0.5)) :]
    # Kept pixel j is output c + j, at source a + (c + j + 0.5) * inv - 0.5; the exact
    # position is (j - offset) * inv. The difference, a + phase, is the same for every j.
    phase = (crops + 0.5 + offset) * inv - 0.5
    errors = np.abs(phase - np.rint(phase)) * scale
    hits = np.flatnonzero(errors <= tolerance)
    if hits.size == 0:
        return None
    i = int(hits[0])  # the least over-render
    crop = int(crops[i])
    last = (crop + out_len - 0.5) * inv - 0.5  # where the last kept pixel samples
    # Room for its right-hand tap, and enough output pixels for every kept one.
    length = max(math.floor(last) + 2, math.ceil((crop + out_len) * inv))
    return AxisPlan(scale, -int(np.rint(phase[i])), length, crop, out_len, float(errors[i]))


def plan_resize(
    matrix: NDArray[np.float64], out_w: int, out_h: int, tolerance: float = TOLERANCE_PX
) -> tuple[AxisPlan, AxisPlan] | None:
    """x and y plans for the scale-and-shift `matrix` (source to output), or None."""
    plan_x = plan_axis(float(matrix[0, 0]), float(matrix[0, 2]), out_w, tolerance)
    if plan_x is None:
        return None
    plan_y = plan_axis(float(matrix[1, 1]), float(matrix[1, 2]), out_h, tolerance)
    return None if plan_y is None else (plan_x, plan_y)


def margins(min_scale: float) -> tuple[int, int]:
    """Source px a plan may reach before and after the plane, at scales >= min_scale.

    Before: the cropped pixels, up to MAX_CROP output px. After: the rounding of the
    region's length, well under a pixel past the last kept pixel's taps.
    """
    inv = 1.0 / min(min_scale, 1.0)
    return math.ceil((MAX_CROP + 2) * inv) + 3, math.ceil(0.5 * inv) + 4


class Plane:
    """One source plane, (H, W) or (H, W, 2), resampled into fixed-size output planes.

    The plane sits in a margin wide enough for every plan's region. Only the cropped output
    pixels read the margin (the kept ones stay within the replicated border), so it is left
    zero rather than filled. Fill `pixels`, then call `replicate_border`. Not thread-safe:
    one scratch buffer.
    """

    def __init__(
        self, width: int, height: int, channels: int, min_scale: float, out_w: int, out_h: int
    ) -> None:
        self.width, self.height = width, height
        self._depth = (channels,) if channels > 1 else ()
        self.pad, after = margins(min_scale)
        self._padded = np.zeros(
            (self.pad + height + after, self.pad + width + after, *self._depth), dtype=np.uint8
        )
        self.pixels = self._padded[self.pad : self.pad + height, self.pad : self.pad + width]
        # Large enough for any plan: size <= crop + out_len + 2 * scale + 1.
        self._scratch = np.empty(
            (out_h + MAX_CROP + 4, out_w + MAX_CROP + 4, *self._depth), dtype=np.uint8
        )

    def replicate_border(self) -> None:
        """Repeat the edge pixels of `pixels` into the _BORDER px around it."""
        p, b = self._padded, _BORDER
        top, left = self.pad, self.pad
        bottom, right = top + self.height, left + self.width
        p[top - b : top, left:right] = p[top : top + 1, left:right]
        p[bottom : bottom + b, left:right] = p[bottom - 1 : bottom, left:right]
        p[top - b : bottom + b, left - b : left] = p[top - b : bottom + b, left : left + 1]
        p[top - b : bottom + b, right : right + b] = p[top - b : bottom + b, right - 1 : right]

    def render(
        self,
        matrix: NDArray[np.float64],
        plans: tuple[AxisPlan, AxisPlan] | None,
        dst: NDArray[np.uint8],
    ) -> bool:
        """Fill `dst` (out_h, out_w[, 2]) with this plane mapped by `matrix`.

        Uses `plans` (from plan_resize) when given and inside the margin, else a bilinear
        warp. Returns True for the planned resize.
        """
        out_h, out_w = dst.shape[:2]
        if plans is not None and self._reachable(*plans):
            dst[...] = self._resize(plans, self._scratch)[:out_h, :out_w]
            return True
        self._warp(matrix, dst)
        return False

    def render_new(
        self,
        matrix: NDArray[np.float64],
        plans: tuple[AxisPlan, AxisPlan] | None,
        out_w: int,
        out_h: int,
        rows: int,
    ) -> tuple[NDArray[np.uint8], bool]:
        """A new (rows, out_w[, 2]) array whose first out_h rows are this plane mapped by
        `matrix`; the rows below are the caller's to fill. Also True for the planned resize.

        The resize writes into the array's own memory, with the cropped pixels around the
        returned view, so nothing is copied; its rows are strided.
        """
        if plans is not None and self._reachable(*plans):
            px, py = plans
            stride = -(-px.size // 64) * 64  # rows 64-byte aligned, as FFmpeg's own frames
            buffer = np.empty((max(py.size, py.crop + rows), stride, *self._depth), np.uint8)
            return self._resize(plans, buffer)[:rows, :out_w], True
        frame = np.empty((rows, out_w, *self._depth), np.uint8)
        self._warp(matrix, frame[:out_h])
        return frame, False

    def _resize(
        self, plans: tuple[AxisPlan, AxisPlan], buffer: NDArray[np.uint8]
    ) -> NDArray[np.uint8]:
        """Resize the planned region into the top left of `buffer`; the kept pixels onward."""
        px, py = plans
        x0, y0 = px.start + self.pad, py.start + self.pad
        region = self._padded[y0 : y0 + py.length, x0 : x0 + px.length]
        target = buffer[: py.size, : px.size]
        resized = cv2.resize(
            region, None, dst=target, fx=px.scale, fy=py.scale, interpolation=cv2.INTER_LINEAR
        )
        if resized is not target:  # cv2 made a new array: its size differs from the plan's
            # AxisPlan.size mirrors cv2's rounding of length * scale, so this never happens.
            raise RuntimeError(f"cv2.resize made {resized.shape[:2]}, planned {target.shape[:2]}")
        return buffer[py.crop :, px.crop :]

    def _warp(self, matrix: NDArray[np.float64], dst: NDArray[np.uint8]) -> None:
        out_h, out_w = dst.shape[:2]
        shifted = matrix.copy()
        shifted[:, 2] -= np.diag(matrix) * self.pad  # the same map, in padded source indices
        cv2.warpAffine(
            self._padded,
            shifted,
            (out_w, out_h),
            dst=dst,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def _reachable(self, px: AxisPlan, py: AxisPlan) -> bool:
        height, width = self._padded.shape[:2]
        return (
            px.start + self.pad >= 0
            and px.start + self.pad + px.length <= width
            and py.start + self.pad >= 0
            and py.start + self.pad + py.length <= height
        )
