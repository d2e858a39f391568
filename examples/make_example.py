"""Regenerate examples/example.jpg: a synthetic mountain-lake photo (no third-party image)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

WIDTH, HEIGHT = 2400, 1600


def ridge(rng: np.random.Generator, base: float, roughness: float) -> NDArray[np.float32]:
    """A 1-D fractal skyline: heights in px for every column."""
    line = np.zeros(WIDTH, np.float32)
    amplitude = roughness
    for octave in range(1, 9):
        points = 2**octave + 1
        knots = rng.standard_normal(points).astype(np.float32)
        line += amplitude * np.interp(np.arange(WIDTH), np.linspace(0, WIDTH, points), knots)
        amplitude *= 0.55
    return (base + line).astype(np.float32)


def render(seed: int = 7) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    rows = np.arange(HEIGHT, dtype=np.float32)[:, None]
    cols = np.arange(WIDTH, dtype=np.float32)[None, :]
    horizon = HEIGHT * 0.62
    sky_t = np.clip(rows / horizon, 0, 1)[..., None]
    top, low = np.array([38, 72, 140], np.float32), np.array([250, 190, 140], np.float32)
    img = np.broadcast_to(top * (1 - sky_t) + low * sky_t, (HEIGHT, WIDTH, 3)).copy()
    sun_x, sun_y = WIDTH * 0.68, horizon * 0.42
    dist = np.sqrt((cols - sun_x) ** 2 + (rows - sun_y) ** 2)
    glow = np.exp(-dist / 260.0)[..., None] * np.array([255, 200, 120], np.float32) * 0.55
    img = img + glow
    img[dist < 55] = (255, 244, 214)
    layers = [
        (horizon - 330, 120, (92, 96, 132)),
        (horizon - 190, 90, (62, 70, 98)),
        (horizon - 70, 60, (34, 44, 58)),
    ]
    for base, rough, colour in layers:
        line = ridge(rng, base, rough)
        mask = (rows >= line[None, :]) & (rows < horizon)
        shade = 0.85 + 0.15 * np.clip((rows - line[None, :]) / 200.0, 0, 1)
        img = np.where(mask[..., None], np.array(colour, np.float32) * shade[..., None], img)
    above = img[: int(horizon)][::-1]
    lake_rows = HEIGHT - int(horizon)
    reflection = cv2.GaussianBlur(above[:lake_rows], (0, 0), 3) * 0.72 + np.array([8, 14, 22])
    ripple = 4 * np.sin(np.arange(lake_rows, dtype=np.float32) * 0.35)[:, None]
    shifted = np.stack(
        [np.roll(reflection[r], int(ripple[r, 0]), axis=0) for r in range(lake_rows)]
    )
    img[int(horizon) :] = shifted
    img += rng.normal(0, 3.0, img.shape).astype(np.float32)  # film grain
    return np.clip(img, 0, 255).astype(np.uint8)


if __name__ == "__main__":
    out = Path(__file__).with_name("example.jpg")
    cv2.imwrite(str(out), render()[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {out}")
