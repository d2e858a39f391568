"""`i2v generate`: one image in, one publish-ready MP4 and its cover out."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from i2v.backends.registry import AUTO, BACKENDS
from i2v.cli.options import (
    Aspect,
    Audio,
    CaptionFor,
    Duration,
    EndImage,
    Enhance,
    Fps,
    NegativePrompt,
    OutputSize,
    RatingOption,
    Resolution,
)
from i2v.cli.progress import FrameProgress
from i2v.config import Settings, load_settings
from i2v.domain.motion import Motion
from i2v.domain.size import ASPECT_PRESETS, output_size
from i2v.domain.spec import Fit, RenderSpec
from i2v.media.atomic import atomic_outputs
from i2v.models.catalog import default_duration
from i2v.services.generate import check_destination, generate_video, resolve_motion
from i2v.services.routing import RouteEvent, check_prefer

if TYPE_CHECKING:
    from i2v.bootstrap import App
    from i2v.services.breaker import Breakers

_MOTIONS = ", ".join(m.value for m in Motion)
_PRESETS = ", ".join(f"{name} ({size})" for name, size in ASPECT_PRESETS.items())


def _choices(names: Iterable[str]) -> str:
    return f"[{'|'.join(names)}]"


def generate(
    image: Annotated[
        Path, typer.Argument(help="Input image: PNG, JPEG or WebP.", show_default=False)
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Where to write the MP4; the cover goes beside it as OUT.cover.jpg.",
        ),
    ] = Path("out.mp4"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace the MP4 and cover if they exist already.")
    ] = False,
    prompt: Annotated[
        str, typer.Option("--prompt", "-p", help="Motion prompt, e.g. 'slow zoom in on her face'.")
    ] = "",
    motion: Annotated[
        str | None,
        typer.Option(
            metavar="MOTION",
            help=f"Camera motion; overrides the prompt. One of: {_MOTIONS}.",
            show_default="from the prompt, else zoom-in",
        ),
    ] = None,
    duration: Duration = None,
    fps: Fps = 30,
    size: OutputSize = None,
    aspect: Aspect = None,
    fit: Annotated[
        str,
        typer.Option(
            metavar=_choices(Fit),
            help="cover: crop to fill the frame; contain: show the whole image on a blurred copy.",
        ),
    ] = "cover",
    seed: Annotated[
        int, typer.Option(help="Seed for generative backends; the local renderer is deterministic.")
    ] = 0,
    model: Annotated[
        str | None,
        typer.Option(
            metavar="MODEL",
            help="A video model (`i2v models list`), e.g. kling-2.5-turbo-pro or wan-2.2-14b; "
            "with it, --backend defaults to auto.",
            show_default="local",
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            metavar=_choices([AUTO, *BACKENDS]),
            help="auto: the cheapest available backend that runs the model, failing over to "
            "the next; local: the CPU camera-move renderer; comfyui: a model on "
            "I2V_COMFYUI_URLS (or the fleet's GPUs with I2V_FLEET_ENABLED); fal: fal.ai's "
            "hosted models (I2V_FAL_KEY).",
            show_default="local, or auto with --model",
        ),
    ] = None,
    prefer: Annotated[
        str,
        typer.Option(metavar="[cost|speed]", help="auto: order the backends by price or speed."),
    ] = "cost",
    negative_prompt: NegativePrompt = None,
    resolution: Resolution = None,
    audio: Audio = False,
    end_image: EndImage = None,
    enhance: Enhance = True,
    rating: RatingOption = "PG-13",
    caption: CaptionFor = None,
    workflow: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="comfyui: the workflow (`i2v workflows list`); default I2V_COMFYUI_WORKFLOW.",
        ),
    ] = None,
    keep_gpu: Annotated[
        bool,
        typer.Option(
            "--keep-gpu",
            help="comfyui with the fleet: leave the GPU instances this command launches running "
            "(a running `i2v serve`/`i2v worker`, or `i2v fleet reconcile`, destroys them once "
            "idle for I2V_FLEET_IDLE_SECONDS); by default they are destroyed on exit.",
        ),
    ] = False,
) -> None:
    """Animate IMAGE with a camera move and write a publish-ready MP4 plus a JPEG cover."""
    chosen_motion, intensity = resolve_motion(prompt, motion)
    settings = load_settings()
    spec = RenderSpec(
        motion=chosen_motion,
        intensity=intensity,
        size=output_size(size, aspect),
        duration_s=duration if duration is not None else default_duration(settings, model),
        fps=fps,
        fit=Fit.parse(fit),
        seed=seed,
        prompt=prompt,
        workflow=workflow,
        model=model,
        negative_prompt=negative_prompt,
        resolution=resolution,
        audio=audio,
        end_frame=end_image is not None,
    )
    chosen = backend or (AUTO if model else "local")
    check_prefer(prefer)
    from i2v.services.policy import parse_rating  # the words and policy load only now
    from i2v.services.screening import screen
    from i2v.services.words import captions, parse_captions

    allowed = parse_rating(rating)
    platforms = parse_captions(caption)
    caption_file = output.with_suffix(".caption.txt") if platforms else None
    # Before anything is said or rated: a run that cannot write its outputs stops here.
    pictures = (image,) if end_image is None else (image, end_image)
    also = [caption_file] if caption_file is not None else []
    check_destination(output, pictures, overwrite=force, also=also)

    def say(text: str) -> None:
        typer.echo(text, err=True)

    from i2v.services.gpu_guard import gpus_launched_here  # the fleet loads only where it is on

    with _remote(settings, chosen) as app:
        breakers = app_breakers(app)
        tripped = breakers.tripped() if breakers is not None and chosen == AUTO else {}
        screened = screen(
            settings, spec, pictures, chosen, prefer,
            enhance_prompt=enhance, rating=allowed, tripped=tripped,
        )  # fmt: skip
        for note in screened.words.enhanced.notes:
            say(f"note: {note}")
        if screened.words.changed:
            say(f"prompt ({screened.words.enhanced.source}): {screened.words.render.prompt}")
        with (
            gpus_launched_here(settings, chosen, keep=keep_gpu, say=say),
            FrameProgress(Console(stderr=True), chosen_motion.value) as on_progress,
        ):
            result = generate_video(
                image,
                output,
                screened.route.spec,
                settings,
                on_progress,
                screened.route.backends,
                overwrite=force,
                prefer=prefer,
                breakers=breakers,
                db=app.db if app is not None else None,
                # Where auto sent it, and why it moved: a pinned backend's user knows already.
                on_route=(lambda event: say(describe_route(event))) if chosen == AUTO else None,
                end_image_path=end_image,
                output_check=screened.output_check(settings),
            )
    written = f"{result.cover}"
    if caption_file is not None:
        picture_sha = hashlib.sha256(image.read_bytes()).hexdigest()  # as the service: the file
        texts = captions(settings, prompt, platforms, seed=picture_sha)
        body = "\n\n".join(f"[{c.platform.value}]\n{c.text}" for c in texts) + "\n"
        with atomic_outputs(caption_file, replace=force) as (tmp,):
            tmp.write_text(body, encoding="utf-8")
        written += f" and {caption_file}"
    info = result.info
    what = result.motion.value  # the local renderer's camera move, else the model and where
    if result.backend != "local":
        what = f"{result.model or result.workflow} on {result.backend}, ${result.cost_usd:.4f}"
    typer.echo(
        f"wrote {result.video} ({info.size_bytes / 1e6:.1f} MB, {info.duration_s:.2f} s, "
        f"{info.width}x{info.height} @ {float(info.fps):g} fps, {what}) "
        f"and {written} in {result.elapsed_s:.1f} s"
    )


@contextmanager
def _remote(settings: Settings, backend: str) -> Iterator[App | None]:
    """Remote backends keep checkpoints and breakers in the database; local needs none."""
    if backend == "local":
        yield None
        return
    from i2v.bootstrap import open_app  # the database and DBOS load only when needed

    app = open_app(settings)  # brings the schema up to date for the checkpoints too
    try:
        yield app
    finally:
        app.close()


def app_breakers(app: App | None) -> Breakers | None:
    if app is None:
        return None
    from i2v.services.breaker import breakers_of

    return breakers_of(app)


def describe_route(event: RouteEvent) -> str:
    if event.moved_from is None:
        return f"running on {event.backend}"
    return f"{event.moved_from} failed ({event.reason}); moving to {event.backend}"
