"""The planned cv2.resize path: exact positions, agreement with a bilinear warp, safe fallback."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2v.backends.local.resample import (
    PREFERRED_MAX_SCALE,
    TOLERANCE_PX,
    AxisPlan,
    pad_needed,
    plan_axis,
    plan_segments,
    resample,
)


def sampled_positions(plan: AxisPlan) -> np.ndarray:
    """Source index each kept output pixel samples, by cv2.resize's own mapping."""
    j = np.arange(plan.out_len)
    return plan.start + (plan.crop + j + 0.5) * plan.length / plan.size - 0.5


@given(
    st.floats(0.80, PREFERRED_MAX_SCALE), st.floats(-400.0, 0.0), st.sampled_from([540, 1080, 1920])
)
@settings(max_examples=200, deadline=None)
def test_segments_sample_where_the_exact_map_says(
    scale: float, offset: float, out_len: int
) -> None:
    plans = plan_segments(scale, offset, out_len)
    if plans is None:
        return  # the caller falls back to a warp; covered below
    covered = []
    for plan in plans:
        exact = (np.arange(plan.out_start, plan.out_start + plan.out_len) - offset) / scale
        error_out_px = np.abs(sampled_positions(plan) - exact).max() * scale
        assert error_out_px <= TOLERANCE_PX + 1e-9
        assert plan.error_px == pytest.approx(error_out_px, abs=1e-9)
        assert plan.size >= plan.crop + plan.out_len
        covered.extend(range(plan.out_start, plan.out_start + plan.out_len))
    assert covered == list(range(out_len))


def test_the_preferred_scale_always_has_a_single_plan() -> None:
    rng = np.random.default_rng(3)
    for offset in rng.uniform(-500, 0, 50):
        plan = plan_axis(PREFERRED_MAX_SCALE, float(offset), 1920)
        assert plan.error_px <= TOLERANCE_PX


def smooth_plane(height: int, width: int, seed: int) -> np.ndarray:
    small = np.random.default_rng(seed).integers(0, 256, (height // 16, width // 16), np.uint8)
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC))


@pytest.mark.parametrize("scale", [0.83, 0.9, PREFERRED_MAX_SCALE, 1.0])
def test_resample_matches_a_bilinear_warp(scale: float) -> None:
    source = smooth_plane(800, 600, 1)
    pad = pad_needed(scale)
    padded = cv2.copyMakeBorder(source, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    out_w, out_h = 400, 500
    matrix = np.array([[scale, 0.0, -37.3], [0.0, scale, -52.71]])
    got = np.empty((out_h, out_w), np.uint8)
    resample(padded, pad, matrix, got)
    want = cv2.warpAffine(source, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    # Both are bilinear at the same positions; only fixed-point rounding differs.
    assert np.abs(got.astype(int) - want).max() <= 2


def test_resample_falls_back_to_a_warp_when_no_plan_fits() -> None:
    source = smooth_plane(400, 400, 2)
    pad = pad_needed(1.0)
    padded = cv2.copyMakeBorder(source, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    # Scale exactly 1 with a half-pixel shift: resize cannot shift by a fraction at 1:1.
    matrix = np.array([[1.0, 0.0, -10.5], [0.0, 1.0, -20.5]])
    got = np.empty((300, 300), np.uint8)
    assert resample(padded, pad, matrix, got) is False
    want = cv2.warpAffine(source, matrix, (300, 300), flags=cv2.INTER_LINEAR)
    assert np.abs(got.astype(int) - want).max() <= 1
