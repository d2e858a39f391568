"""A picture the open_nsfw classifier rates X with no person in it: three shaded ellipses.

For tests of the mature and refused paths through the real model (no download, nothing
explicit): the unit tests of the classifier, and the fake fal's "adult" outputs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def figure(
    size: int = 512,
    *,
    shading: float = 0.5,
    floor: float = 0.5,
    colour: tuple[int, int, int] = (230, 175, 140),
) -> NDArray[np.uint8]:
    """Three soft ellipses (one tall, two round above it) on grey, lit from their centres.

    `shading` is the exponent of the falloff (smaller: flatter tops, sharper rims); `floor`
    the brightness at the rim, 1.0 for no shading at all.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size

    def blob(cx: float, cy: float, rx: float, ry: float) -> NDArray[np.float32]:
        inside = np.clip(1 - ((xx - cx) / rx) ** 2 - ((yy - cy) / ry) ** 2, 0, 1)
        return np.asarray(inside**shading, dtype=np.float32)

    light = np.maximum.reduce(
        [
            blob(0.5, 0.645, 0.234, 0.43),
            blob(0.371, 0.45, 0.137, 0.137),
            blob(0.629, 0.45, 0.137, 0.137),
        ]
    )
    inside = (light > 0)[..., None]
    lit = (light[..., None] * (1 - floor) + floor) * np.array(colour, np.float32)
    rgb = np.where(inside, lit, np.array([120, 120, 126], np.float32))
    return np.clip(rgb, 0, 255).astype(np.uint8)
