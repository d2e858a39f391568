"""BT.709 limited-range RGB <-> Y'CbCr 4:2:0 conversions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from i2v.media.color import RGB_TO_YCBCR, YCBCR_TO_RGB, nv12_to_rgb, rgb_to_ycbcr420


def solid(colour: tuple[int, int, int], width: int = 4, height: int = 4) -> NDArray[np.uint8]:
    return np.full((height, width, 3), colour, dtype=np.uint8)


def ycbcr_of(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    luma, cb, cr = rgb_to_ycbcr420(solid(colour))
    assert np.ptp(luma) == 0
    assert np.ptp(cb) == 0
    assert np.ptp(cr) == 0
    return int(luma[0, 0]), int(cb[0, 0]), int(cr[0, 0])


def pack_nv12(
    luma: NDArray[np.uint8], cb: NDArray[np.uint8], cr: NDArray[np.uint8]
) -> NDArray[np.uint8]:
    height, width = luma.shape
    chroma = np.dstack([cb, cr]).reshape(height // 2, width)  # Cb, Cr interleaved
    return np.concatenate([luma, chroma])


def smooth_image(width: int, height: int) -> NDArray[np.uint8]:
    """Saturated colours that change by at most about 2 code values per pixel."""
    x = np.arange(width, dtype=np.float64)[None, :] / 150.0
    y = np.arange(height, dtype=np.float64)[:, None] / 150.0
    rgb = np.stack(
        [
            128 + 100 * np.sin(2.0 * x + 1.0 * y),
            128 + 100 * np.cos(1.5 * x - 2.0 * y),
            128 + 90 * np.sin(3.0 * y + 0.5) * np.cos(x),
        ],
        axis=-1,
    )
    return np.ascontiguousarray(rgb.round().astype(np.uint8))


def round_trip(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    height, width = rgb.shape[:2]
    return nv12_to_rgb(pack_nv12(*rgb_to_ycbcr420(rgb)), width, height)


# --- levels and coefficients ---------------------------------------------------------------


def test_white_is_y_235_and_black_is_y_16() -> None:
    assert ycbcr_of((255, 255, 255)) == (235, 128, 128)
    assert ycbcr_of((0, 0, 0)) == (16, 128, 128)


def test_every_neutral_grey_has_neutral_chroma() -> None:
    greys = np.repeat(np.arange(256, dtype=np.uint8), 2)
    rgb = np.ascontiguousarray(np.dstack([np.tile(greys, (2, 1))] * 3))
    luma, cb, cr = rgb_to_ycbcr420(rgb)
    assert np.all(cb == 128)
    assert np.all(cr == 128)
    exact = 16 + greys.astype(np.float64) * 219 / 255
    # OpenCV's 8-bit transform uses fixed point: within a little more than half a code.
    assert np.abs(luma[0] - exact).max() < 0.7
    assert np.all(np.diff(luma[0].astype(int)) >= 0)


@pytest.mark.parametrize(
    ("colour", "expected"),
    [
        ((255, 0, 0), (63, 102, 240)),
        ((0, 255, 0), (173, 42, 26)),
        ((0, 0, 255), (32, 240, 118)),
        ((0, 255, 255), (188, 154, 16)),
        ((255, 0, 255), (78, 214, 230)),
        ((255, 255, 0), (219, 16, 138)),
    ],
)
def test_primaries_use_bt709_limited_range(
    colour: tuple[int, int, int], expected: tuple[int, int, int]
) -> None:
    # BT.601 would give red Y 81, Cb 90; full range would give red Y 54.
    assert ycbcr_of(colour) == expected


def test_matrices_are_bt709_and_inverse_of_each_other() -> None:
    luma_row = RGB_TO_YCBCR[0, :3] * 255 / 219
    np.testing.assert_allclose(luma_row, [0.2126, 0.7152, 0.0722], atol=1e-12)
    forward = np.vstack([RGB_TO_YCBCR, [0, 0, 0, 1]])
    backward = np.vstack([YCBCR_TO_RGB, [0, 0, 0, 1]])
    np.testing.assert_allclose(backward @ forward, np.eye(4), atol=1e-9)


# --- planes and subsampling ------------------------------------------------------------------


def test_planes_have_420_shapes_and_are_contiguous() -> None:
    luma, cb, cr = rgb_to_ycbcr420(smooth_image(30, 18))
    assert luma.shape == (18, 30)
    assert cb.shape == cr.shape == (9, 15)
    for plane in (luma, cb, cr):
        assert plane.dtype == np.uint8
        assert plane.flags.c_contiguous


def test_chroma_is_the_average_of_each_2x2_block() -> None:
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[:2, :2] = (255, 0, 0)  # red block
    rgb[:2, 2:] = (0, 0, 255)  # blue block
    rgb[2:, :2] = (128, 128, 128)  # grey block
    rgb[2:, 2:] = [[(255, 0, 0), (0, 0, 255)], [(0, 0, 255), (255, 0, 0)]]  # mixed
    _, cb, cr = rgb_to_ycbcr420(rgb)
    assert (cb[0, 0], cr[0, 0]) == (102, 240)
    assert (cb[0, 1], cr[0, 1]) == (240, 118)
    assert (cb[1, 0], cr[1, 0]) == (128, 128)
    assert abs(int(cb[1, 1]) - (102 + 240) / 2) <= 1
    assert abs(int(cr[1, 1]) - (240 + 118) / 2) <= 1


@pytest.mark.parametrize(("width", "height"), [(3, 4), (4, 3), (5, 5), (1, 2)])
def test_odd_dimensions_are_refused(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="even"):
        rgb_to_ycbcr420(solid((1, 2, 3), width, height))


# --- round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(64, 48), (1080, 1350), (30, 18)])
def test_round_trip_of_a_smooth_image_is_within_a_few_code_values(width: int, height: int) -> None:
    rgb = smooth_image(width, height)
    back = round_trip(rgb)
    assert back.shape == rgb.shape
    assert back.dtype == np.uint8
    error = np.abs(back.astype(int) - rgb.astype(int))
    assert error.max() <= 4
    assert error.mean() <= 1.5


@given(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
def test_round_trip_of_any_flat_colour_is_within_three_code_values(
    colour: tuple[int, int, int],
) -> None:
    back = round_trip(solid(colour, 6, 4))
    assert np.abs(back.astype(int) - np.array(colour)).max() <= 3


def test_nv12_to_rgb_decodes_y_then_interleaved_cb_cr() -> None:
    width, height = 8, 6
    luma = np.full((height, width), 63, dtype=np.uint8)
    cb = np.full((height // 2, width // 2), 102, dtype=np.uint8)
    cr = np.full((height // 2, width // 2), 240, dtype=np.uint8)
    rgb = nv12_to_rgb(pack_nv12(luma, cb, cr), width, height)
    assert rgb.shape == (height, width, 3)
    assert np.abs(rgb.astype(int) - np.array([255, 0, 0])).max() <= 2


def test_nv12_with_odd_chroma_height_round_trips() -> None:
    # 1080x1350: the interleaved chroma is 675 rows of the (H*3/2, W) array.
    rgb = smooth_image(1080, 1350)
    frame = pack_nv12(*rgb_to_ycbcr420(rgb))
    assert frame.shape == (2025, 1080)
    assert np.abs(nv12_to_rgb(frame, 1080, 1350).astype(int) - rgb.astype(int)).max() <= 4
