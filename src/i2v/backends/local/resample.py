"""Sub-pixel exact scale-and-shift with cv2.resize, which is ~4x faster than a bilinear warp.

cv2.resize(INTER_LINEAR) samples source index ``a + (i + 0.5) * r / D - 0.5`` for output
pixel ``i`` of a region ``[a, a + r)`` resized to ``D`` pixels: its scale is a ratio of
whole numbers and its origin is a whole pixel. We want output pixel ``j`` to sample
``(j - b) / k`` for an arbitrary float scale ``k`` and offset ``b``. So, per axis, we search
small integers ``r``, ``D`` and a crop start ``c`` so that ``R[c + j]`` lands within a
tolerance of the exact position for every ``j``: ``r / D`` approximates ``1 / k`` and the
crop start picks the phase. The result is exact to a few thousandths of a pixel, with no
rounding of the window to whole pixels, and costs a few percent of extra output pixels.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

MAX_EXTRA = 192  # widest over-render we search, in output px
# Scales near ratios of small whole numbers (1/1, 20/19...) leave too few phases to choose
# from; aim the deepest zoom at 1/(1 + 0.0618...), a badly approximable ratio.
PREFERRED_MAX_SCALE = 1 / 1.0618034
TOLERANCE_PX = 0.01  # worst-case luma position error we accept, in output px


@dataclass(frozen=True, slots=True)
class AxisPlan:
    """Resize source ``[start, start + length)`` to ``size`` px; keep ``[crop, crop + out)``."""

    start: int
    length: int
    size: int
    crop: int
    error_px: float  # worst position error over the kept pixels, in output px
    out_start: int = 0  # where the kept pixels go in the output
    out_len: int = 0


def plan_axis(
    scale: float, offset: float, out_len: int, tolerance: float = TOLERANCE_PX
) -> AxisPlan:
    """Plan one axis of the map ``output j <- source (j - offset) / scale`` (pixel-centre indices).

    The region may start before 0 or end past the source: callers pad the source by
    ``pad_needed(scale)`` pixels so it is always readable.
    """
    inv = 1.0 / scale
    sizes = np.arange(out_len + 1, out_len + MAX_EXTRA + 1, dtype=np.float64)
    lengths = np.concatenate([np.floor(sizes * inv), np.ceil(sizes * inv)])
    sizes = np.concatenate([sizes, sizes])
    order = np.argsort(sizes, kind="stable")  # prefer the least over-render
    sizes, lengths = sizes[order], np.maximum(lengths[order], 2.0)
    step = lengths / sizes  # source px per resized px
    drift = step - inv  # per output px: the scale error
    spread = np.abs(drift) * (out_len - 1) / 2  # worst scale error either side of the middle
    tol_src = tolerance * inv
    usable = spread < tol_src
    if not usable.any():
        usable = spread <= spread.min()
    best: tuple[float, AxisPlan] | None = None
    for size, length, s, d in zip(
        sizes[usable], lengths[usable], step[usable], drift[usable], strict=True
    ):
        crops = np.arange(0, int(size) - out_len + 1, dtype=np.float64)
        # Error of pixel j: start + (crop + j + 0.5) * s - 0.5 - (j - offset) * inv, centred on
        # the middle pixel so the scale error splits evenly between both ends.
        base = (crops + 0.5) * s - 0.5 + offset * inv + d * (out_len - 1) / 2
        starts = np.round(-base)
        residual = np.abs(starts + base) + abs(d) * (out_len - 1) / 2
        i = int(np.argmin(residual))
        error = float(residual[i]) * scale
        plan = AxisPlan(int(starts[i]), int(length), int(size), int(crops[i]), error, 0, out_len)
        if best is None or error < best[0] - 1e-12:
            best = (error, plan)
        if error <= tolerance:
            return plan
    assert best is not None
    return best[1]


MAX_SEGMENTS = 4


def plan_segments(
    scale: float, offset: float, out_len: int, tolerance: float = TOLERANCE_PX
) -> list[AxisPlan] | None:
    """Plans covering the axis in 1..MAX_SEGMENTS pieces, all within `tolerance`; else None.

    Shorter pieces tolerate a larger scale error and each picks its own phase, so scales
    that no single plan matches are usually met by two or three.
    """
    for pieces in range(1, MAX_SEGMENTS + 1):
        bounds = [round(out_len * i / pieces) for i in range(pieces + 1)]
        plans = []
        for lo, hi in itertools.pairwise(bounds):
            plan = plan_axis(scale, offset - lo, hi - lo, tolerance)
            if plan.error_px > tolerance:
                break
            plans.append(dataclasses.replace(plan, out_start=lo, out_len=hi - lo))
        else:
            return plans
    return None


def pad_needed(min_scale: float) -> int:
    """Source px a plan may reach beyond the visible area on each side, at scales >= min_scale."""
    return math.ceil((MAX_EXTRA + 2) / min(min_scale, 1.0)) + 2


def resample(
    padded: NDArray[np.uint8],
    pad: int,
    matrix: NDArray[np.float64],
    dst: NDArray[np.uint8],
    tolerance: float = TOLERANCE_PX,
) -> bool:
    """Fill `dst` with `padded` mapped by the scale-and-shift `matrix` (unpadded source indices).

    Uses a planned cv2.resize when one is exact to `tolerance` (output px) on both axes,
    else a bilinear cv2.warpAffine (same maths, ~4x the cost). Returns True for resize.
    """
    out_h, out_w = dst.shape[:2]
    plans_x = plan_segments(float(matrix[0, 0]), float(matrix[0, 2]), out_w, tolerance)
    plans_y = plan_segments(float(matrix[1, 1]), float(matrix[1, 2]), out_h, tolerance)
    if plans_x is not None and plans_y is not None and _reachable(plans_x, plans_y, padded, pad):
        for py in plans_y:
            for px in plans_x:
                x0, y0 = px.start + pad, py.start + pad
                region = padded[y0 : y0 + py.length, x0 : x0 + px.length]
                resized = cv2.resize(region, (px.size, py.size), interpolation=cv2.INTER_LINEAR)
                dst[
                    py.out_start : py.out_start + py.out_len,
                    px.out_start : px.out_start + px.out_len,
                ] = resized[py.crop : py.crop + py.out_len, px.crop : px.crop + px.out_len]
        return True
    shifted = matrix.copy()
    shifted[:, 2] -= np.diag(matrix) * pad  # the same map, in padded source indices
    cv2.warpAffine(
        padded,
        shifted,
        (out_w, out_h),
        dst=dst,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return False


def _reachable(
    plans_x: list[AxisPlan], plans_y: list[AxisPlan], padded: NDArray[np.uint8], pad: int
) -> bool:
    height, width = padded.shape[:2]
    return all(p.start + pad >= 0 and p.start + pad + p.length <= width for p in plans_x) and all(
        p.start + pad >= 0 and p.start + pad + p.length <= height for p in plans_y
    )
