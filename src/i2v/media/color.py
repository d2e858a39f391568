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


def rgb_to_ycbcr420(rgb: Plane) -> tuple[Plane, Plane, Plane]:
    """Full-resolution Y' and half-resolution Cb, Cr planes; width and height must be even."""
    height, width = rgb.shape[:2]
    if width % 2 or height % 2:
        raise ValueError(f"rgb_to_ycbcr420 needs even dimensions, got {width}x{height}")
    # Float maths, then round: OpenCV's 8-bit fixed-point transform is up to 0.6 codes off.
    # Limited range maps any 8-bit RGB into [16, 240], so no clipping is needed.
    matrix = RGB_TO_YCBCR.astype(np.float32)
    exact = np.asarray(cv2.transform(rgb.astype(np.float32), matrix), dtype=np.float32)
    exact += 0.5
    ycc = exact.astype(np.uint8)
    luma = np.ascontiguousarray(ycc[:, :, 0])
    half = (width // 2, height // 2)
    chroma = np.asarray(cv2.resize(ycc[:, :, 1:], half, interpolation=cv2.INTER_AREA), np.uint8)
    return luma, np.ascontiguousarray(chroma[:, :, 0]), np.ascontiguousarray(chroma[:, :, 1])


def i420_to_rgb(frame: Plane, width: int, height: int) -> Plane:
    """RGB pixels of one I420 frame laid out as (height * 3 // 2, width)."""
    luma = frame[:height]
    quarter = (height // 2) * (width // 2)
    chroma = frame[height:].reshape(-1)
    cb = chroma[:quarter].reshape(height // 2, width // 2)
    cr = chroma[quarter:].reshape(height // 2, width // 2)
    up = cv2.resize(np.dstack([cb, cr]), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(cv2.transform(np.dstack([luma, up]), YCBCR_TO_RGB), dtype=np.uint8)
