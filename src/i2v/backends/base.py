"""The VideoBackend contract: typed requests in, frames or files out, progress on the side."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import Fit
from i2v.media.image import NormalisedImage

I420Frame = NDArray[np.uint8]  # shape (height * 3 // 2, width): Y', then Cb, then Cr planes


@dataclass(frozen=True, slots=True)
class Progress:
    stage: str
    done: int
    total: int

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


@dataclass(frozen=True, slots=True)
class FrameStream:
    """Frames produced lazily, already at the requested size and rate, BT.709 limited range."""

    size: Size
    fps: int
    frame_count: int
    frames: Callable[[], Iterator[I420Frame]]


@dataclass(frozen=True, slots=True)
class Capabilities:
    name: str
    max_frames: int
    needs_gpu: bool
    runs_locally: bool


class VideoBackend(Protocol):
    def capabilities(self) -> Capabilities: ...

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback) -> FrameStream:
        """Turn `request` into frames; long-running backends report through `on_progress`."""
        ...
