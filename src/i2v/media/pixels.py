"""The one check that a picture handed between modules is what they all expect: (H, W, 3) uint8."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def check_rgb(rgb: NDArray[np.uint8]) -> None:
    """ValueError unless `rgb` is an (H, W, 3) uint8 array with at least one pixel.

    Checked rather than converted: a grey or RGBA array means a caller skipped the image
    normalisation, and guessing its channels would read the wrong picture.
    """
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8:
        raise ValueError(f"expected a uint8 array, got {getattr(rgb, 'dtype', type(rgb))}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"expected an RGB array shaped (height, width, 3), got {rgb.shape}")
