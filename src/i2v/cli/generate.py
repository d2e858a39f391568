"""`i2v generate`: images in, publish-ready MP4s and their covers out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from i2v.backends.registry import AUTO, BACKENDS
from i2v.cli.batch import DEFAULT_JOBS, run_batch
from i2v.cli.options import (
    Aspect,
    BackdropOption,
    CaptionFor,
    CoverAt,
    Duration,
    EndImage,
    Enhance,
    Focus,
    Fps,
    Music,
    NegativePrompt,
    OutputSize,
    RatingOption,
    Resolution,
    Sound,
)
from i2v.cli.progress import FrameProgress
from i2v.cli.runs import Run, caption_path, music_digest, plan_outputs, render_one
from i2v.config import Settings, load_settings
from i2v.domain.motion import Motion
from i2v.domain.size import ASPECT_PRESETS, output_size
from i2v.domain.spec import DEFAULT_BACKDROP, Backdrop, Fit, RenderSpec, parse_focus
from i2v.errors import InvalidParameter
from i2v.models.catalog import default_duration
from i2v.services.generate import check_destination, resolve_motion
from i2v.services.routing import check_prefer

if TYPE_CHECKING:
    from i2v.bootstrap import App

_MOTIONS = ", ".join(m.value for m in Motion)
_PRESETS = ", ".join(f"{name} ({size})" for name, size in ASPECT_PRESETS.items())


def _choices(names: Iterable[str]) -> str:
    return f"[{'|'.join(names)}]"


def generate(
    images: Annotated[
        list[Path],
        typer.Argument(
            help="Input image(s): PNG, JPEG or WebP, or folders of them. With several, each "
            "becomes -o FOLDER/NAME.mp4.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Where to write the MP4 (the cover goes beside it as OUT.cover.jpg); with "
            "several images or a folder, the folder to write them to.",
            show_default="out.mp4, or out/ for several",
        ),
    ] = None,
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
            help=f"Camera motion; overrides the prompt. One of: {_MOTIONS}; several, "
            "comma-separated, run in order (zoom-out,pan-left).",
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
            help="cover: crop to fill the frame; contain: show the whole picture, on a --backdrop.",
        ),
    ] = "cover",
    backdrop: BackdropOption = DEFAULT_BACKDROP.value,
    focus: Focus = None,
    cover_at: CoverAt = None,
    music: Music = None,
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
    sound: Sound = False,
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
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            max=8,
            help="With several images: how many render at once.",
            show_default=f"{DEFAULT_JOBS}",
        ),
    ] = DEFAULT_JOBS,
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
    """Animate each image with a camera move into a publish-ready MP4 plus a JPEG cover."""
    moves, intensity = resolve_motion(prompt, motion)
    settings = load_settings()
    spec = RenderSpec(
        motion=moves[0],
        then=moves[1:],
        intensity=intensity,
        size=output_size(size, aspect),
        duration_s=duration if duration is not None else default_duration(settings, model),
        fps=fps,
        fit=Fit.parse(fit),
        backdrop=Backdrop.parse(backdrop),
        focus=None if focus is None else parse_focus(focus),
        cover_at=cover_at,
        seed=seed,
        prompt=prompt,
        workflow=workflow,
        model=model,
        negative_prompt=negative_prompt,
        resolution=resolution,
        audio=sound,
        end_frame=end_image is not None,
    )
    chosen = backend or (AUTO if model else "local")
    check_prefer(prefer)
    from i2v.services.policy import parse_rating  # the words and policy load only now
    from i2v.services.words import parse_captions

    if music is not None:
        spec = replace(spec, music_sha256=music_digest(music, settings))
    run = Run(
        settings=settings,
        spec=spec,
        backend=chosen,
        prefer=prefer,
        enhance=enhance,
        rating=parse_rating(rating),
        platforms=parse_captions(caption),
        force=force,
        end_image=end_image,
        music=music,
    )
    work = plan_outputs(images, output)
    if work is None:  # one picture, one named MP4: the original single-file run
        _single(run, images[0], output or Path("out.mp4"), keep_gpu)
        return
    if end_image is not None:
        raise InvalidParameter(
            "end_image", str(end_image), "--end-image takes one input image, not several"
        )
    from i2v.services.gpu_guard import gpus_launched_here  # the fleet loads only where it is on

    console = Console(stderr=True)
    with (
        _remote(settings, chosen) as app,
        gpus_launched_here(
            settings, chosen, keep=keep_gpu, say=lambda text: typer.echo(text, err=True)
        ),
    ):
        failed = run_batch(run, work, app, jobs, console)
    if failed:
        raise typer.Exit(1)


def _single(run: Run, image: Path, output: Path, keep_gpu: bool) -> None:
    # Before anything is said or rated, or a database opened: a run that cannot write its
    # outputs stops here.
    pictures = (image,) if run.end_image is None else (image, run.end_image)
    also = [caption_path(output)] if run.platforms else []
    check_destination(output, pictures, overwrite=run.force, also=also)

    def say(text: str) -> None:
        typer.echo(text, err=True)

    from i2v.services.gpu_guard import gpus_launched_here  # the fleet loads only where it is on

    with (
        _remote(run.settings, run.backend) as app,
        gpus_launched_here(run.settings, run.backend, keep=keep_gpu, say=say),
        FrameProgress(
            Console(stderr=True), "+".join(m.value for m in run.spec.moves)
        ) as on_progress,
    ):
        done = render_one(run, app, image, output, on_progress, say)
    result = done.result
    written = f"{result.cover}"
    if done.caption is not None:
        written += f" and {done.caption}"
    info = result.info
    what = result.moves_text  # the local renderer's camera moves, else the model and where
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
