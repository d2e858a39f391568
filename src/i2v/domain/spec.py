"""RenderSpec: every parameter that shapes an output video, validated on creation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import DEFAULT_SIZE, Size, validate_size
from i2v.errors import InvalidParameter

MIN_DURATION_S = 3.0  # Instagram refuses shorter Reels
MAX_DURATION_S = 90.0
MIN_FPS = 23  # both platforms' floor
MAX_FPS = 60
DEFAULT_FPS = 30
MAX_SEED = 2**63 - 1


class Fit(StrEnum):
    COVER = "cover"
    CONTAIN = "contain"

    @classmethod
    def parse(cls, name: str) -> Fit:
        try:
            return cls(name.strip().lower())
        except ValueError:
            raise InvalidParameter(
                "fit", name, f"fit {name!r} is not one of: cover, contain"
            ) from None


@dataclass(frozen=True, slots=True)
class RenderSpec:
    """What to render; the motion is resolved already (from --motion or the prompt)."""

    motion: Motion
    intensity: Intensity
    size: Size = DEFAULT_SIZE
    duration_s: float = 5.0
    fps: int = DEFAULT_FPS
    fit: Fit = Fit.COVER
    seed: int = 0
    prompt: str = ""
    workflow: str | None = None  # a model backend's workflow, resolved to name.vN by it
    model: str | None = None  # a catalogue model (`i2v models list`); None: the backend's own
    negative_prompt: str | None = None  # for models that take one
    resolution: str | None = None  # the model's own output resolution, e.g. "720p"
    audio: bool = False  # hosted models that can make sound; refused by those that cannot
    end_frame: bool = False  # the job gives a last frame to reach (an end image)

    def __post_init__(self) -> None:
        if not MIN_DURATION_S <= self.duration_s <= MAX_DURATION_S:
            raise InvalidParameter(
                "duration",
                self.duration_s,
                f"duration {self.duration_s:g}s is outside {MIN_DURATION_S:g}-{MAX_DURATION_S:g}s",
            )
        if not MIN_FPS <= self.fps <= MAX_FPS:
            raise InvalidParameter(
                "fps", self.fps, f"fps {self.fps} is outside {MIN_FPS}-{MAX_FPS}"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise InvalidParameter("seed", self.seed, f"seed {self.seed} is outside 0-{MAX_SEED}")
        validate_size(self.size)

    @property
    def frame_count(self) -> int:
        return round(self.duration_s * self.fps)
