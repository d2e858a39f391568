"""Renders the README's framing stills: the same camera move centred (as before) and framed
on the subject, with the platforms' safe-zone bands shaded, and a --focus still.

    PYTHONPATH=src .venv/bin/python scripts/framing_stills.py [--out docs/framing]

Each still is the last frame of a zoom in (where a centred crop is tightest) of
examples/example.jpg and of a generated off-centre portrait, at 360x640.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.scenes import scene  # noqa: E402

from i2v.backends.local.camera import max_zoom  # noqa: E402
from i2v.backends.local.framing import frame  # noqa: E402
from i2v.backends.local.path import plan_path  # noqa: E402
from i2v.backends.local.renderer import PathRenderer  # noqa: E402
from i2v.domain.motion import Intensity, Motion  # noqa: E402
from i2v.domain.size import Size  # noqa: E402
from i2v.domain.spec import Fit  # noqa: E402
from i2v.framing.base import Subject  # noqa: E402
from i2v.framing.zones import DEFAULT_ZONES, NO_ZONES  # noqa: E402
from i2v.media.canvas import build_canvas  # noqa: E402
from i2v.media.color import nv12_to_rgb  # noqa: E402
from i2v.media.image import ImageLimits, load_image  # noqa: E402

OUTPUT = Size(1080, 1920)
SMALL = (360, 640)


def last_frame(
    rgb: NDArray[np.uint8], prompt: str, focus: tuple[float, float] | None, centred: bool
) -> Image.Image:
    canvas = build_canvas(rgb, OUTPUT, Fit.COVER, max_zoom())
    framed = frame(rgb, canvas, OUTPUT, prompt, focus)
    height, width = canvas.pixels.shape[:2]
    subject: Subject | None = None if centred else framed.subject
    zones = NO_ZONES if centred else framed.zones
    path = plan_path(
        [Motion.ZOOM_IN], Intensity.NORMAL, width, height, OUTPUT, subject, zones,
        aim_at_face=framed.aim_at_face and not centred,
    )  # fmt: skip
    nv12 = PathRenderer(canvas.pixels, path, 2).render(1.0)
    still = Image.fromarray(nv12_to_rgb(nv12, OUTPUT.width, OUTPUT.height)).resize(SMALL)
    return shade_zones(still)


def shade_zones(still: Image.Image) -> Image.Image:
    """The default safe zones' bands, darkened, with a thin edge: where the apps' UI sits."""
    width, height = still.size
    z = DEFAULT_ZONES
    bands = [
        (0, 0, width, round(z.top * height)),
        (0, round((1 - z.bottom) * height), width, height),
        (0, 0, round(z.left * width), height),
        (round((1 - z.right) * width), 0, width, height),
    ]
    overlay = Image.new("RGBA", still.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for band in bands:
        draw.rectangle(band, fill=(0, 0, 0, 110))
    return Image.alpha_composite(still.convert("RGBA"), overlay).convert("RGB")


def side_by_side(stills: list[Image.Image], gap: int = 12) -> Image.Image:
    width = sum(s.width for s in stills) + gap * (len(stills) - 1)
    sheet = Image.new("RGB", (width, stills[0].height), "white")
    x = 0
    for still in stills:
        sheet.paste(still, (x, 0))
        x += still.width + gap
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "framing")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    limits = ImageLimits(max_pixels=50_000_000, min_side=256)
    lake = load_image(ROOT / "examples" / "example.jpg", limits).rgb
    portrait = scene("face-landscape-left-third").rgb
    prompt = "dramatic zoom in on her face"
    sheets = {
        "example-centre-vs-subject.jpg": [
            last_frame(lake, "zoom in", None, centred=True),
            last_frame(lake, "zoom in", None, centred=False),
        ],
        "portrait-centre-vs-subject.jpg": [
            last_frame(portrait, prompt, None, centred=True),
            last_frame(portrait, prompt, None, centred=False),
        ],
        "example-focus.jpg": [last_frame(lake, "zoom in", (0.25, 0.55), centred=False)],
    }
    for name, stills in sheets.items():
        path = args.out / name
        side_by_side(stills).save(path, quality=82, optimize=True)
        print(f"wrote {path} ({path.stat().st_size // 1000} kB)")


if __name__ == "__main__":
    main()
