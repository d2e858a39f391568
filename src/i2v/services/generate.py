"""Generate one video from one image: load, route to a backend, publish to the platform spec."""

from __future__ import annotations

import math
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from i2v.backends.base import (
    EncodedClip,
    FrameStream,
    Framing,
    GenerationRequest,
    NV12Frame,
    Progress,
    ProgressCallback,
)
from i2v.backends.local.camera import max_zoom
from i2v.backends.registry import AUTO, DEFAULT_BACKEND
from i2v.config import Settings
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.errors import InvalidParameter, RenderError
from i2v.media.atomic import atomic_outputs, check_outputs, check_writable
from i2v.media.color import nv12_to_rgb
from i2v.media.conform import decoded_rgb, publish_ready, retimed
from i2v.media.encode import EncoderSettings, encode_nv12, prefetch
from i2v.media.gate import DecodeGate
from i2v.media.image import ImageLimits, load_image
from i2v.media.probe import VideoInfo, probe_video
from i2v.prompts.motion import MAX_MOVES, motion_from_prompt
from i2v.scratch import host_prefix, new_scratch_dir, scratch_root, sweep_scratch
from i2v.services.routing import RouteEvent, plan_route, run_routed

if TYPE_CHECKING:  # the database loads only for callers that have one
    from i2v.db.engine import Database
    from i2v.services.breaker import Breakers

COVER_QUALITY = 90
RENDER_AHEAD = 8  # frames rendered ahead of the encoder
# The encoder is the critical path and keeps every core busy but for short gaps: rendering
# at a lower priority fills those gaps instead of taking turns with the encoder's threads.
RENDER_NICE = 10


@dataclass(frozen=True, slots=True)
class GenerateResult:
    video: Path
    cover: Path
    info: VideoInfo
    motion: Motion
    intensity: Intensity
    elapsed_s: float
    cost_usd: Decimal = Decimal(0)
    backend: str = DEFAULT_BACKEND  # where it really ran
    model: str | None = None
    workflow: str | None = None
    framing: Framing | None = None  # where the local renderer aimed, and why
    then: tuple[Motion, ...] = ()  # the camera moves after `motion`

    @property
    def moves_text(self) -> str:
        """The camera moves as the user reads them: "zoom-out then pan-left"."""
        return " then ".join(move.value for move in (self.motion, *self.then))


def resolve_motion(prompt: str, motion: str | None) -> tuple[tuple[Motion, ...], Intensity]:
    """The camera moves in order, and their strength (from the prompt).

    An explicit motion wins: one name, or several run in order ("zoom-out,pan-left");
    otherwise the prompt decides.
    """
    cue = motion_from_prompt(prompt)
    if motion is None:
        return cue.moves, cue.intensity
    names = [name for name in motion.split(",") if name.strip()] or [motion]
    if len(names) > MAX_MOVES:
        raise InvalidParameter(
            "motion", motion, f"at most {MAX_MOVES} camera moves in one clip, not {len(names)}"
        )
    return tuple(Motion.parse(name) for name in names), cue.intensity


def cover_path(video: Path) -> Path:
    """`OUT.cover.jpg`: never `IMAGE.jpg`, which `generate IMAGE.jpg -o IMAGE.mp4` would hit."""
    return video.with_suffix(".cover.jpg")


def check_destination(
    output: Path, inputs: Sequence[Path], *, overwrite: bool, also: Sequence[Path] = ()
) -> None:
    """Refuse, before any work, an output that is not an .mp4, cannot be written, is an input,
    or (without `overwrite`) exists, as does its cover or any of `also`."""
    check_writable(output)
    if output.suffix.lower() != ".mp4":
        raise InvalidParameter(
            "output", str(output), f"{output}: the output must be an .mp4 file (the cover is .jpg)"
        )
    check_outputs((output, cover_path(output), *also), inputs, replace=overwrite)


def encoder_settings(settings: Settings) -> EncoderSettings:
    return EncoderSettings(
        preset=settings.x264_preset,
        crf=settings.x264_crf,
        max_bitrate_kbps=settings.max_bitrate_kbps,
        gop_seconds=settings.gop_seconds,
    )


def write_cover(frame: NDArray[np.uint8], size: Size, dest: Path) -> None:
    """Save the NV12 `frame` as the cover JPEG at `dest`."""
    rgb = nv12_to_rgb(frame, size.width, size.height)
    Image.fromarray(rgb).save(dest, format="JPEG", quality=COVER_QUALITY, optimize=True)


@contextmanager
def _scratch(settings: Settings) -> Iterator[Path]:
    """A private folder under the data directory for this render, after sweeping dead runs'.

    Not the system temp folder: copies of users' images there outlived killed runs, and no
    one swept them.
    """
    root = scratch_root(settings)
    prefix = host_prefix("i2v-gen")
    sweep_scratch(root, prefix)
    folder = new_scratch_dir(root, prefix)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def generate_video(
    image_path: Path,
    output: Path,
    spec: RenderSpec,
    settings: Settings,
    on_progress: ProgressCallback,
    backend_name: str | Sequence[str] = DEFAULT_BACKEND,
    run_id: str | None = None,
    overwrite: bool = False,
    decode_gate: DecodeGate | None = None,
    *,
    prefer: str = "cost",
    breakers: Breakers | None = None,
    on_route: Callable[[RouteEvent], None] | None = None,
    db: Database | None = None,
    end_image_path: Path | None = None,
    output_check: Callable[[Path], None] | None = None,
    music_path: Path | None = None,
) -> GenerateResult:
    """Render `spec` from the image at `image_path` into `output` (and its .cover.jpg).

    `backend_name` is a backend, `auto` (routed here), or a route planned already (a job's,
    its spec prepared at submission), tried in order. `run_id` names this render for remote
    backends; give the same one when retrying it. Existing outputs are replaced only with
    `overwrite`; the input image never is. `decode_gate` is the process's pixel budget,
    shared with the API when they share one. `db` is the caller's app database, where
    remote backends keep their checkpoints (else they open one from the settings).
    `end_image_path` is the last frame to reach, for models that take one (`spec.end_frame`).
    `output_check` sees the finished video before it is put in place, and may refuse it.
    `music_path` is the music to put under the video (`spec.music_sha256` is its digest).
    """
    if spec.end_frame != (end_image_path is not None):
        raise ValueError("spec.end_frame and end_image_path go together")
    if (spec.music_sha256 is not None) != (music_path is not None):
        raise ValueError("spec.music_sha256 and music_path go together")
    started = time.perf_counter()
    if isinstance(backend_name, str):
        tripped = breakers.tripped() if breakers is not None and backend_name == AUTO else {}
        route = plan_route(settings, spec, backend_name, prefer, tripped=tripped)
        spec, backends = route.spec, route.backends
    else:
        backends = tuple(backend_name)
    inputs = (image_path,) if end_image_path is None else (image_path, end_image_path)
    check_destination(output, inputs, overwrite=overwrite)
    cover = cover_path(output)
    on_progress(Progress("load", 0, 1))
    zoom = max_zoom()
    limits = ImageLimits(max_pixels=settings.max_image_pixels, min_side=settings.min_image_side)
    needed = (math.ceil(spec.size.width * zoom), math.ceil(spec.size.height * zoom))
    image = load_image(image_path, limits, min_decode_size=needed, gate=decode_gate)
    end_image = None
    if end_image_path is not None:
        end_image = load_image(end_image_path, limits, min_decode_size=needed, gate=decode_gate)
    if music_path is not None:
        from i2v.media.music import probe_music  # the audio path loads only when used

        probe_music(music_path, settings.max_audio_mb * 1024 * 1024)
    on_progress(Progress("load", 1, 1))
    with (
        _scratch(settings) as workdir,
        atomic_outputs(output, cover, replace=overwrite) as (tmp_video, tmp_cover),
        ThreadPoolExecutor(1, thread_name_prefix="i2v-music") as aside,
    ):
        # Music is cut, faded and levelled while the backend prepares or generates.
        music = None
        if music_path is not None:
            from i2v.media.music import prepare_music

            music = aside.submit(prepare_music, music_path, spec.duration_s, workdir / "music.m4a")
        request = GenerationRequest(
            image=image,
            prompt=spec.prompt,
            seed=spec.seed,
            size=spec.size,
            fps=spec.fps,
            frame_count=spec.frame_count,
            motion=spec.motion,
            intensity=spec.intensity,
            fit=spec.fit,
            workflow=spec.workflow,
            workdir=workdir,
            run_id=run_id or uuid.uuid4().hex,
            model=spec.model,
            negative_prompt=spec.negative_prompt,
            resolution=spec.resolution,
            audio=spec.audio,
            duration_s=spec.duration_s,
            end_image=end_image,
            then=spec.then,
            focus=spec.focus,
            backdrop=spec.backdrop,
        )
        result, used = run_routed(
            settings,
            backends,
            request,
            on_progress,
            breakers=breakers,
            on_route=on_route,
            db=db,
        )
        cost = result.cost_usd if isinstance(result, EncodedClip) else Decimal(0)
        stream = (
            _publish_clip(result, spec, tmp_video, copy=music_path is None)
            if isinstance(result, EncodedClip)
            else result
        )
        framing = stream.framing if stream is not None else None
        if stream is not None:
            # A model's sound, where the job asked for it (and paid), rides along; music
            # (never with a model's sound) is cut, faded and levelled to the video first.
            sound = result.path if isinstance(result, EncodedClip) and spec.audio else None
            if music is not None:
                sound = music.result()
            cover_index = stream.cover_frame
            if spec.cover_at is not None:
                cover_index = round(spec.cover_at * stream.fps)
            cover_index = min(max(cover_index, 0), stream.frame_count - 1)
            _encode(
                stream,
                tmp_video,
                tmp_cover,
                encoder_settings(settings),
                on_progress,
                sound,
                cover_index,
            )
        info = probe_video(tmp_video)
        if isinstance(result, EncodedClip) and spec.cover_at is None:
            _subject_cover(tmp_video, tmp_cover, info.frames)
        if output_check is not None:
            output_check(tmp_video)
    return GenerateResult(
        video=output,
        cover=cover,
        info=info,
        motion=spec.motion,
        intensity=spec.intensity,
        elapsed_s=time.perf_counter() - started,
        cost_usd=cost,
        backend=used,
        model=spec.model,
        workflow=spec.workflow,
        framing=framing,
        then=spec.then,
    )


def _subject_cover(video: Path, cover: Path, frame_count: int) -> None:
    """A model's clip: its cover is the sampled frame where the subject is in view and
    largest (the camera was the model's, so there is no path to read it from)."""
    from i2v.framing.clip_cover import best_frame, sample_indices
    from i2v.framing.find import shared_finder

    frames = decoded_rgb(video, frame_threads=False, only=frozenset(sample_indices(frame_count)))
    chosen = best_frame(frames, shared_finder())
    if chosen is not None:
        Image.fromarray(chosen).save(cover, format="JPEG", quality=COVER_QUALITY, optimize=True)


def _publish_clip(
    clip: EncodedClip, spec: RenderSpec, video: Path, *, copy: bool = True
) -> FrameStream | None:
    """Copy a clip that already meets the preset (None); otherwise its frames, re-timed.

    Not copied with `copy` False (music to mux in) or a cover time to take from it.
    """
    ready = copy and spec.cover_at is None
    if ready and publish_ready(probe_video(clip.path), spec.size, spec.fps):
        shutil.copyfile(clip.path, video)  # its cover is chosen from it afterwards
        return None
    return retimed(clip.path, spec.size, spec.fps, spec.fit, spec.backdrop)


def _encode(
    stream: FrameStream,
    video: Path,
    cover: Path,
    settings: EncoderSettings,
    on_progress: ProgressCallback,
    audio_from: Path | None = None,
    cover_index: int = 0,
) -> None:
    def frames_then_cover() -> Iterator[NV12Frame]:
        # The cover is made on the render thread after the last frame, while the encoder
        # still works through the frames queued ahead of it and drains: made at the start
        # it would hold up the first frames, made after the video it would add its time.
        # Frames are never written to again once made, so keeping one costs no copy.
        chosen: NV12Frame | None = None
        for index, frame in enumerate(stream.frames()):
            if index == cover_index:
                chosen = frame
            yield frame
        if chosen is not None:
            write_cover(chosen, stream.size, cover)

    def frame_done(index: int, frame: NDArray[np.uint8]) -> None:
        on_progress(Progress("render", index + 1, stream.frame_count))

    written = encode_nv12(
        prefetch(frames_then_cover(), RENDER_AHEAD, RENDER_NICE),
        video,
        stream.size,
        stream.fps,
        settings,
        frame_done,
        audio_from,
    )
    if written != stream.frame_count:
        raise RenderError(f"backend produced {written} frames, expected {stream.frame_count}")
