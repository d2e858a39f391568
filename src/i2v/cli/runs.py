"""One `i2v generate` picture, start to finish: screen it, render it, write its caption."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from i2v.backends.base import ProgressCallback
from i2v.backends.registry import AUTO
from i2v.config import Settings
from i2v.domain.spec import RenderSpec
from i2v.errors import InvalidParameter
from i2v.media.atomic import atomic_outputs
from i2v.policy.base import Rating
from i2v.prompts.base import Platform
from i2v.services.generate import GenerateResult, check_destination, generate_video
from i2v.services.routing import RouteEvent

if TYPE_CHECKING:
    from i2v.bootstrap import App
    from i2v.services.breaker import Breakers

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})


@dataclass(frozen=True, slots=True)
class Run:
    """What every picture of one command shares."""

    settings: Settings
    spec: RenderSpec
    backend: str  # a backend's name, or auto
    prefer: str
    enhance: bool
    rating: Rating
    platforms: tuple[Platform, ...]
    force: bool
    end_image: Path | None = None
    music: Path | None = None


@dataclass(frozen=True, slots=True)
class Done:
    result: GenerateResult
    caption: Path | None  # OUT.caption.txt, where captions were asked for


@dataclass(frozen=True, slots=True)
class Work:
    """One picture of a batch and the MP4 it becomes."""

    image: Path
    output: Path


def music_digest(music: Path, settings: Settings) -> str:
    """The music file's sha256 (part of the cache key), after checking it is usable audio."""
    from i2v.media.music import probe_music

    probe_music(music, settings.max_audio_mb * 1024 * 1024)
    digest = hashlib.sha256()
    with music.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def caption_path(output: Path) -> Path:
    return output.with_suffix(".caption.txt")


def render_one(
    run: Run,
    app: App | None,
    image: Path,
    output: Path,
    on_progress: ProgressCallback,
    say: Callable[[str], None],
) -> Done:
    """Screen `image` (enhance, route, rate), render it to `output`, write its caption."""
    from i2v.services.screening import screen
    from i2v.services.words import captions

    pictures = (image,) if run.end_image is None else (image, run.end_image)
    caption_file = caption_path(output) if run.platforms else None
    # Before anything is said or rated: a picture whose outputs cannot be written stops here.
    also = [caption_file] if caption_file is not None else []
    check_destination(output, pictures, overwrite=run.force, also=also)
    breakers = app_breakers(app)
    tripped = breakers.tripped() if breakers is not None and run.backend == AUTO else {}
    screened = screen(
        run.settings, run.spec, pictures, run.backend, run.prefer,
        enhance_prompt=run.enhance, rating=run.rating, tripped=tripped,
    )  # fmt: skip
    for note in screened.words.enhanced.notes:
        say(f"note: {note}")
    if screened.words.changed:
        say(f"prompt ({screened.words.enhanced.source}): {screened.words.render.prompt}")
    result = generate_video(
        image,
        output,
        screened.route.spec,
        run.settings,
        on_progress,
        screened.route.backends,
        overwrite=run.force,
        prefer=run.prefer,
        breakers=breakers,
        db=app.db if app is not None else None,
        # Where auto sent it, and why it moved: a pinned backend's user knows already.
        on_route=(lambda event: say(describe_route(event))) if run.backend == AUTO else None,
        end_image_path=run.end_image,
        output_check=screened.output_check(run.settings),
        music_path=run.music,
    )
    if result.framing is not None and result.framing.source != "user":
        x, y = result.framing.focus
        say(f"framing: {result.framing.source} at {x:.2f},{y:.2f} (--focus X,Y to choose)")
    if caption_file is not None:
        picture_sha = hashlib.sha256(image.read_bytes()).hexdigest()  # as the service: the file
        texts = captions(run.settings, run.spec.prompt, run.platforms, seed=picture_sha)
        body = "\n\n".join(f"[{c.platform.value}]\n{c.text}" for c in texts) + "\n"
        with atomic_outputs(caption_file, replace=run.force) as (tmp,):
            tmp.write_text(body, encoding="utf-8")
    return Done(result, caption_file)


def plan_outputs(images: Sequence[Path], output: Path | None) -> list[Work] | None:
    """None for the single-file run (one picture, -o naming an MP4 or left out); otherwise
    each picture (folders expanded, sorted) and its MP4 in the -o folder (default out/)."""
    one_file = len(images) == 1 and not images[0].is_dir()
    to_folder = output is not None and (output.is_dir() or str(output).endswith(("/", "\\")))
    if one_file and not to_folder:
        return None
    folder = output or Path("out")
    if folder.suffix.lower() == ".mp4" and not folder.is_dir():
        raise InvalidParameter(
            "output", str(folder), f"{folder}: with several images, -o is a folder, not an .mp4"
        )
    pictures: list[Path] = []
    for image in images:
        if image.is_dir():
            found = sorted(p for p in image.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InvalidParameter(
                    "image", str(image), f"{image}: no .jpg, .jpeg, .png or .webp files in it"
                )
            pictures.extend(found)
        else:
            pictures.append(image)
    work: list[Work] = []
    taken: dict[Path, Path] = {}
    for picture in pictures:
        target = folder / f"{picture.stem}.mp4"
        if target in taken:
            raise InvalidParameter(
                "image",
                str(picture),
                f"{taken[target]} and {picture} would both be written to {target}; "
                "rename one or run them separately",
            )
        taken[target] = picture
        work.append(Work(picture, target))
    return work


def app_breakers(app: App | None) -> Breakers | None:
    if app is None:
        return None
    from i2v.services.breaker import breakers_of

    return breakers_of(app)


def describe_route(event: RouteEvent) -> str:
    if event.moved_from is None:
        return f"running on {event.backend}"
    return f"{event.moved_from} failed ({event.reason}); moving to {event.backend}"
