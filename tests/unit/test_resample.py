"""The planned cv2.resize path: exact positions, agreement with a bilinear warp, safe fallback."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from i2v.backends.local.resample import (
    MAX_CROP,
    PREFERRED_MAX_SCALE,
    TOLERANCE_PX,
    AxisPlan,
    Plane,
    plan_axis,
    plan_resize,
)


def make_plane(pixels: NDArray[np.uint8], min_scale: float, out_w: int, out_h: int) -> Plane:
    height, width = pixels.shape[:2]
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    plane = Plane(width, height, channels, min_scale, out_w, out_h)
    plane.pixels[...] = pixels
    plane.replicate_border()
    return plane


def kept_positions(plan: AxisPlan) -> NDArray[np.float64]:
    """Source index each kept output pixel samples, by cv2.resize's own mapping for fx."""
    j = np.arange(plan.out_len)
    return plan.start + (plan.crop + j + 0.5) / plan.scale - 0.5


@given(st.floats(0.6, 1.0), st.floats(-400.0, 0.0), st.sampled_from([540, 960, 1080, 1920]))
@settings(max_examples=300, deadline=None)
def test_plans_sample_where_the_exact_map_says(scale: float, offset: float, out_len: int) -> None:
    plan = plan_axis(scale, offset, out_len)
    if plan is None:
        return  # the caller falls back to a warp; covered below
    exact = (np.arange(out_len) - offset) / scale
    positions = kept_positions(plan)
    error_out_px = np.abs(positions - exact).max() * scale
    assert error_out_px <= TOLERANCE_PX + 1e-9
    assert plan.error_px == pytest.approx(error_out_px, abs=1e-9)
    assert 0 <= plan.crop <= MAX_CROP
    assert plan.size >= plan.crop + plan.out_len
    # Both bilinear taps of every kept pixel are inside the region (cv2 clamps at its edges).
    assert positions[0] >= plan.start
    assert np.floor(positions[-1]) + 1 <= plan.start + plan.length - 1


def test_the_preferred_scale_always_has_a_plan() -> None:
    rng = np.random.default_rng(3)
    for offset in rng.uniform(-500, 0, 200):
        for out_len in (540, 960, 1080, 1920):
            assert plan_axis(PREFERRED_MAX_SCALE, float(offset), out_len) is not None


def test_almost_every_zoom_scale_has_a_plan() -> None:
    # Only scales within a hair of a ratio of small whole numbers (10/9...) have none.
    rng = np.random.default_rng(4)
    scales = rng.uniform(0.65, PREFERRED_MAX_SCALE, 400)
    offsets = rng.uniform(-300, 0, 400)
    found = [
        plan_axis(float(k), float(b), 1920) is not None
        for k, b in zip(scales, offsets, strict=True)
    ]
    assert np.mean(found) >= 0.97


def bilinear(line: NDArray[np.float64], positions: NDArray[np.float64]) -> NDArray[np.float64]:
    """Exact bilinear samples of `line` at pixel-centre `positions` (edges replicated)."""
    left = np.floor(positions).astype(int)
    weight = positions - left
    last = len(line) - 1
    return line[np.clip(left, 0, last)] * (1 - weight) + line[np.clip(left + 1, 0, last)] * weight


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("scale", [0.7123, 0.83, 0.8899, PREFERRED_MAX_SCALE])
def test_resize_samples_at_the_planned_positions(channels: int, axis: int, scale: float) -> None:
    # Random black and white stripes: a position error of e px moves values by up to 255 e.
    rng = np.random.default_rng(int(scale * 1000) + axis)
    stripes = rng.integers(0, 2, 700).astype(np.float64) * 255
    source = np.tile(stripes, (500, 1)) if axis == 1 else np.tile(stripes[:500, None], (1, 700))
    pixels = np.dstack([source, 255 - source]) if channels == 2 else source
    plane = make_plane(pixels.astype(np.uint8), scale, 400, 300)
    offset = -37.37 if axis == 1 else -23.91  # output px of source 0
    matrix = np.array([[scale, 0.0, offset], [0.0, scale, offset]])
    plans = plan_resize(matrix, 400, 300)
    assert plans is not None
    got = np.empty((300, 400, channels)[: 2 if channels == 1 else 3], np.uint8)
    assert plane.render(matrix, plans, got)
    out_len = got.shape[1] if axis == 1 else got.shape[0]
    want = bilinear(stripes, (np.arange(out_len) - offset) / scale)
    first = got[..., 0] if channels == 2 else got
    line = first[0] if axis == 1 else first[:, 0]
    # Within the planned error, plus rounding and OpenCV's 11-bit interpolation weights.
    assert np.abs(line - want).max() <= 255 * (TOLERANCE_PX + 1 / 2048) + 1
    # The test can tell: sampling 0.05 px off would be far outside that.
    assert np.abs(bilinear(stripes, (np.arange(out_len) - offset + 0.05) / scale) - want).max() > 8


def smooth_plane(height: int, width: int, seed: int) -> NDArray[np.uint8]:
    small = np.random.default_rng(seed).integers(0, 256, (height // 16, width // 16), np.uint8)
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC))


@pytest.mark.parametrize("scale", [0.83, 0.9, PREFERRED_MAX_SCALE, 1.0])
def test_resample_matches_a_bilinear_warp(scale: float) -> None:
    source = smooth_plane(800, 600, 1)
    out_w, out_h = 400, 500
    plane = make_plane(source, scale, out_w, out_h)
    matrix = np.array([[scale, 0.0, -37.3], [0.0, scale, -52.71]])
    got = np.empty((out_h, out_w), np.uint8)
    plane.render(matrix, plan_resize(matrix, out_w, out_h), got)
    want = cv2.warpAffine(source, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    # Both are bilinear at the same positions; only fixed-point rounding differs.
    assert np.abs(got.astype(int) - want).max() <= 2


def test_resample_falls_back_to_a_warp_when_no_plan_fits() -> None:
    source = smooth_plane(400, 400, 2)
    plane = make_plane(source, 1.0, 300, 300)
    # Scale exactly 1 with a half-pixel shift: resize cannot shift by a fraction at 1:1.
    matrix = np.array([[1.0, 0.0, -10.5], [0.0, 1.0, -20.5]])
    assert plan_resize(matrix, 300, 300) is None
    got = np.empty((300, 300), np.uint8)
    assert plane.render(matrix, None, got) is False
    want = cv2.warpAffine(source, matrix, (300, 300), flags=cv2.INTER_LINEAR)
    assert np.abs(got.astype(int) - want).max() <= 1
