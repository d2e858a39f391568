"""The VideoBackend contract: typed requests in, frames or an encoded clip out, progress aside."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import DEFAULT_BACKDROP, Backdrop, Fit, RenderSpec
from i2v.media.image import NormalisedImage

# One NV12 frame, shape (height * 3 // 2, width): `height` rows of Y', then height / 2 rows of
# Cb and Cr interleaved (Cb, Cr, Cb, Cr...). x264 keeps 4:2:0 chroma interleaved too, so it
# takes NV12 as a plain copy; the video is the same 4:2:0 (decoders give yuv420p). Rows may
# be padded (strides[0] >= width, strides[1] == 1), so a backend can render in place.
NV12Frame = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Progress:
    stage: str
    done: int
    total: int
    note: str | None = None  # what a remote backend says while it waits: "3 ahead in fal's queue"

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    image: NormalisedImage
    prompt: str
    seed: int
    size: Size
    fps: int
    frame_count: int
    motion: Motion
    intensity: Intensity
    fit: Fit
    workflow: str | None  # resolved by `prepare`, for backends that run workflows
    workdir: Path  # scratch space of this run, removed afterwards; an EncodedClip goes here
    # Stable across retries of the same render (a crash, a recovered step): a remote backend
    # derives its own run ids from it, so it finds an earlier run instead of paying twice.
    run_id: str
    model: str | None = None  # a catalogue model, resolved by `prepare`
    negative_prompt: str | None = None
    resolution: str | None = None  # the model's own, e.g. "720p"
    audio: bool = False
    duration_s: float | None = None  # as asked; frame_count / fps rounds it
    end_image: NormalisedImage | None = None  # the last frame to reach, where one is given
    then: tuple[Motion, ...] = ()  # the local renderer's later camera moves, in order
    focus: tuple[float, float] | None = None  # the user's framing point; None: find the subject
    backdrop: Backdrop = DEFAULT_BACKDROP


@dataclass(frozen=True, slots=True)
class Framing:
    """Where a renderer aimed: the focus point (fractions of the picture) and its source."""

    focus: tuple[float, float]
    source: str  # a FocusSource: face, saliency, user or centre


@dataclass(frozen=True, slots=True)
class FrameStream:
    """Frames produced lazily, already at the requested size and rate, BT.709 limited range.

    Each frame is a new array that the backend never writes to again: the encoder and the
    cover read it without copying.
    """

    size: Size
    fps: int
    frame_count: int
    frames: Callable[[], Iterator[NV12Frame]]
    cover_frame: int = 0  # the backend's best cover: where the subject is in view and largest
    framing: Framing | None = None  # where the backend framed the picture, and why


@dataclass(frozen=True, slots=True)
class EncodedClip:
    """A finished video file from a backend that renders elsewhere (a GPU server, an API).

    Its size, rate and length are the model's: publishing re-times and re-frames it to the
    request's preset, or copies it unchanged where it already meets it.
    """

    path: Path
    cost_usd: Decimal = Decimal(0)  # GPU time this clip cost, where the backend rents it


GenerationResult = FrameStream | EncodedClip


@dataclass(frozen=True, slots=True)
class Capabilities:
    name: str
    max_frames: int
    needs_gpu: bool
    runs_locally: bool


class VideoBackend(Protocol):
    def capabilities(self) -> Capabilities: ...

    def prepare(self, spec: RenderSpec) -> RenderSpec:
        """Refuse a spec this backend cannot run (InvalidInput), and resolve its defaults.

        Called when a job is submitted, so a bad parameter is refused before anything is
        queued; the resolved spec (e.g. with the workflow's exact version) is what is cached.
        """
        ...

    def generate(
        self, request: GenerationRequest, on_progress: ProgressCallback
    ) -> GenerationResult:
        """Turn `request` into frames or a clip; long-running backends report progress."""
        ...
