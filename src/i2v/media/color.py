"""BT.709 limited-range conversions between RGB and Y'CbCr planes."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB
_Y_SCALE, _C_SCALE = 219.0 / 255.0, 224.0 / 255.0

# Rows produce Y', Cb, Cr from R, G, B (0-255); the last column is the offset.
RGB_TO_YCBCR = np.array(
    [
        [_KR * _Y_SCALE, _KG * _Y_SCALE, _KB * _Y_SCALE, 16.0],
        [
            -_KR / (2 * (1 - _KB)) * _C_SCALE,
            -_KG / (2 * (1 - _KB)) * _C_SCALE,
            0.5 * _C_SCALE,
            128.0,
        ],
        [
            0.5 * _C_SCALE,
            -_KG / (2 * (1 - _KR)) * _C_SCALE,
            -_KB / (2 * (1 - _KR)) * _C_SCALE,
            128.0,
        ],
    ],
    dtype=np.float64,
)
_LINEAR = RGB_TO_YCBCR[:, :3]
YCBCR_TO_RGB = np.hstack(
    [np.linalg.inv(_LINEAR), (-np.linalg.inv(_LINEAR) @ RGB_TO_YCBCR[:, 3])[:, None]]
)

Plane = NDArray[np.uint8]


# Float maths rounded half up (the offsets carry the + 0.5, then conversion truncates):
# OpenCV's 8-bit fixed-point transform is up to 0.6 codes off.
_ROUNDED = (RGB_TO_YCBCR + np.array([0.0, 0.0, 0.0, 0.5])).astype(np.float32)
_STRIP_ROWS = 32  # rows converted at a time, so the float temporaries stay in cache


def rgb_to_luma_chroma(
    rgb: Plane, luma: Plane | None = None, chroma: Plane | None = None
) -> tuple[Plane, Plane]:
    """Full-resolution Y' (H, W) and half-resolution Cb, Cr interleaved (H/2, W/2, 2).

    Width and height must be even. Chroma is the mean of each 2x2 block, rounded half up.
    Writes into `luma` and `chroma` when given (views of larger arrays are fine).
    """
    height, width = rgb.shape[:2]
    if width % 2 or height % 2:
        raise ValueError(f"4:2:0 conversion needs even dimensions, got {width}x{height}")
    if luma is None:
        luma = np.empty((height, width), np.uint8)
    if chroma is None:
        chroma = np.empty((height // 2, width // 2, 2), np.uint8)
    for top in range(0, height, _STRIP_ROWS):
        bottom = min(height, top + _STRIP_ROWS)
        _convert_strip(rgb[top:bottom], luma[top:bottom], chroma[top // 2 : bottom // 2])
    return luma, chroma


def _convert_strip(rgb: Plane, luma: Plane, chroma: Plane) -> None:
    # Limited range maps any 8-bit RGB into [16, 240], so truncation needs no clipping.
    ycc = np.asarray(cv2.transform(rgb.astype(np.float32), _ROUNDED), np.float32).astype(np.uint8)
    cv2.mixChannels([ycc], [luma], [0, 0])
    # INTER_AREA halving of 3 channels is the 2x2 sum, + 2, >> 2 (its 2-channel path differs).
    half = cv2.resize(ycc, (chroma.shape[1], chroma.shape[0]), interpolation=cv2.INTER_AREA)
    cv2.mixChannels([half], [chroma], [1, 0, 2, 1])


def rgb_to_ycbcr420(rgb: Plane) -> tuple[Plane, Plane, Plane]:
    """Full-resolution Y' and half-resolution Cb, Cr planes; width and height must be even."""
    luma, chroma = rgb_to_luma_chroma(rgb)
    return luma, np.ascontiguousarray(chroma[:, :, 0]), np.ascontiguousarray(chroma[:, :, 1])


def nv12_to_rgb(frame: Plane, width: int, height: int) -> Plane:
    """RGB pixels of one NV12 frame laid out as (height * 3 // 2, width)."""
    luma = frame[:height]
    chroma = frame[height:].reshape(height // 2, width // 2, 2)
    up = cv2.resize(chroma, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(cv2.transform(cv2.merge([luma, up]), YCBCR_TO_RGB), dtype=np.uint8)
