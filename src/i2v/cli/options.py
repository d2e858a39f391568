"""Options that `i2v generate` and `i2v quote` share: one definition, one help text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from i2v.domain.size import ASPECT_PRESETS
from i2v.domain.spec import MAX_DURATION_S, MAX_FPS, MIN_DURATION_S, MIN_FPS

_PRESETS = ", ".join(f"{name} ({size})" for name, size in ASPECT_PRESETS.items())

Duration = Annotated[
    float | None,
    typer.Option(
        metavar="SECONDS",
        help=f"Length in seconds ({MIN_DURATION_S:g}-{MAX_DURATION_S:g}).",
        show_default="5, or the model's own where it makes no 5 s clip",
    ),
]
Fps = Annotated[int, typer.Option(help=f"Frames per second ({MIN_FPS}-{MAX_FPS}).")]
OutputSize = Annotated[
    str | None,
    typer.Option(
        "--size",
        metavar="WxH",
        help="Output size WIDTHxHEIGHT, even sides of 360-1920 px; not with --aspect.",
        show_default=False,
    ),
]
Aspect = Annotated[
    str | None,
    typer.Option(
        metavar=f"[{'|'.join(ASPECT_PRESETS)}]",
        help=f"Output preset: {_PRESETS}.",
        show_default="9:16",
    ),
]
Resolution = Annotated[
    str | None,
    typer.Option(
        metavar="RES",
        help="A hosted model's own resolution, e.g. 720p (`i2v models show MODEL`).",
        show_default="the model's",
    ),
]
Sound = Annotated[
    bool, typer.Option("--sound", help="Ask a model that can make sound for it (costs more).")
]
NegativePrompt = Annotated[
    str | None,
    typer.Option(metavar="TEXT", help="What the model should avoid, where it takes one."),
]
EndImage = Annotated[
    Path | None,
    typer.Option(
        "--end-image",
        metavar="IMAGE",
        help="The last frame to reach, for models that take one (`i2v models show MODEL`).",
        show_default=False,
    ),
]
Enhance = Annotated[
    bool,
    typer.Option(
        "--enhance/--no-enhance",
        help="Write the prompt the way the model's family reads it (and say what was added); "
        "--no-enhance sends it as typed.",
    ),
]
RatingOption = Annotated[
    str,
    typer.Option(
        "--rating",
        metavar="[PG|PG-13|R|X]",
        help="The highest content rating this video may have; R and X run only on local or "
        "ComfyUI backends.",
    ),
]
CaptionFor = Annotated[
    str | None,
    typer.Option(
        "--caption",
        metavar="[instagram|tiktok|both]",
        help="Also write a ready-to-post caption with hashtags to OUT.caption.txt.",
        show_default=False,
    ),
]
Music = Annotated[
    Path | None,
    typer.Option(
        "--audio",
        metavar="FILE",
        help="Music to put under the video (MP3, AAC, WAV, FLAC, Ogg...): looped or cut to "
        "its length, faded out, and levelled to about -14 LUFS.",
        show_default=False,
    ),
]
Focus = Annotated[
    str | None,
    typer.Option(
        "--focus",
        metavar="X,Y",
        help="Frame the video around this point of the picture, as fractions (0.5,0.3: "
        "centred, near the top).",
        show_default="the face or most salient part found",
    ),
]
CoverAt = Annotated[
    float | None,
    typer.Option(
        "--cover-at",
        metavar="SECONDS",
        help="Take the cover from this moment of the video.",
        show_default="where the subject is in view and largest",
    ),
]
BackdropOption = Annotated[
    str,
    typer.Option(
        "--backdrop",
        metavar="[blur|colour|mirror]",
        help="With --fit contain: what fills the frame around the picture.",
    ),
]
