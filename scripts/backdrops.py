"""Renders fit-contain stills of every backdrop, to look at them side by side.

    PYTHONPATH=src .venv/bin/python scripts/backdrops.py [--out /tmp/backdrops] [--docs]

For examples/example.jpg and a few synthetic landscape pictures (high contrast, dark,
colourful) it saves `<picture>-<backdrop>.jpg`, the 1080x1920 frame at zoom 1, and a
`<picture>-sheet.png` with the three side by side (PNG: some image viewers read only PNG).
With --docs it also writes the README's docs/framing/backdrop-<backdrop>.jpg (360x640).
It prints how long each canvas took to build at the renderer's zoom.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from i2v.backends.local.camera import max_zoom
from i2v.domain.size import Size
from i2v.domain.spec import Backdrop, Fit
from i2v.media.canvas import build_canvas

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = Size(1080, 1920)


def high_contrast(width: int = 1800, height: int = 1200) -> NDArray[np.uint8]:
    """White sky, black city skyline, a red sign: hard edges at both of the picture's edges."""
    rng = np.random.default_rng(3)
    rgb = np.full((height, width, 3), (235, 238, 242), np.uint8)
    x = 0
    while x < width:
        w = int(rng.integers(60, 200))
        top = int(rng.integers(height // 4, height * 3 // 4))
        rgb[top:, x : x + w] = (20, 20, 24)
        for wy in range(top + 20, height - 20, 40):
            for wx in range(x + 10, x + w - 20, 30):
                if rng.random() < 0.4:
                    rgb[wy : wy + 16, wx : wx + 12] = (250, 220, 120)
        x += w + int(rng.integers(0, 20))
    rgb[height // 2 : height // 2 + 80, width // 3 : width // 3 + 240] = (220, 30, 40)
    return rgb


def dark(width: int = 1800, height: int = 1200) -> NDArray[np.uint8]:
    """A night scene: near-black sky, a few street lamps, their warm pools on wet ground."""
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    rgb = (np.array([8, 10, 22], np.float32) * (1 - rows) + np.array([30, 24, 20]) * rows) * (
        np.ones((1, width, 1), np.float32)
    )
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    for cx in (300, 900, 1500):
        glow = np.exp(-((xs - cx) ** 2 + (ys - 500) ** 2) / (2 * 60.0**2))
        pool = np.exp(-((xs - cx) ** 2 / (2 * 200.0**2) + (ys - 1050) ** 2 / (2 * 60.0**2)))
        rgb += (glow + 0.5 * pool)[..., None] * np.array([255, 180, 90], np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def colourful(width: int = 1800, height: int = 1200) -> NDArray[np.uint8]:
    """Saturated stripes and discs: a market awning, a festival poster."""
    hue = (np.arange(width) * 180 // width).astype(np.uint8)
    hsv = np.empty((height, width, 3), np.uint8)
    hsv[..., 0] = hue[None, :]
    hsv[..., 1] = 255
    hsv[..., 2] = 240
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    for i, (cx, cy) in enumerate([(400, 300), (1000, 800), (1500, 400), (700, 1000)]):
        colour = [(255, 0, 128), (0, 200, 255), (255, 230, 0), (40, 255, 60)][i]
        cv2.circle(rgb, (cx, cy), 180, colour, -1, cv2.LINE_AA)
    return np.asarray(rgb, np.uint8)


def example() -> NDArray[np.uint8]:
    bgr = cv2.imread(str(ROOT / "examples" / "example.jpg"), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError("could not read examples/example.jpg")
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)


def shrink(rgb: NDArray[np.uint8], width: int, height: int) -> NDArray[np.uint8]:
    return np.asarray(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA), np.uint8)


def save(path: Path, rgb: NDArray[np.uint8], quality: int = 90) -> None:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), bgr, params):
        raise OSError(f"could not write {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "backdrops")
    parser.add_argument("--docs", action="store_true", help="also write docs/framing/*.jpg")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pictures = {
        "example": example(),
        "contrast": high_contrast(),
        "dark": dark(),
        "colourful": colourful(),
    }
    cv2.setNumThreads(1)  # as the renderer runs it
    for name, rgb in pictures.items():
        stills = []
        for backdrop in Backdrop:
            start = time.perf_counter()
            build_canvas(rgb, OUTPUT, Fit.CONTAIN, max_zoom(), backdrop)
            took = (time.perf_counter() - start) * 1000
            canvas = build_canvas(rgb, OUTPUT, Fit.CONTAIN, 1.0, backdrop).pixels
            still = shrink(canvas, OUTPUT.width, OUTPUT.height)
            save(args.out / f"{name}-{backdrop}.jpg", still)
            stills.append(shrink(still, 360, 640))
            print(f"{name:10} {backdrop:7} canvas at zoom {max_zoom():.2f}: {took:5.1f} ms")
            if args.docs and name == "example":
                docs = ROOT / "docs" / "framing"
                docs.mkdir(parents=True, exist_ok=True)
                save(docs / f"backdrop-{backdrop}.jpg", stills[-1], quality=80)
        gap = np.full((640, 12, 3), 255, np.uint8)
        sheet = np.concatenate([part for still in stills for part in (still, gap)][:-1], axis=1)
        save(args.out / f"{name}-sheet.png", sheet)


if __name__ == "__main__":
    main()
