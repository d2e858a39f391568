"""RenderSpec: every parameter that shapes an output video, validated on creation."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import DEFAULT_SIZE, Size, parse_size, validate_size
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


class Backdrop(StrEnum):
    """What fills the frame around a picture shown whole (fit contain)."""

    BLUR = "blur"  # a soft, darkened blur of the picture's own colours
    COLOUR = "colour"  # a clean band of a colour taken from the picture
    MIRROR = "mirror"  # the picture mirrored outward and darkened

    @classmethod
    def parse(cls, name: str) -> Backdrop:
        key = name.strip().lower()
        try:
            return cls("colour" if key == "color" else key)
        except ValueError:
            known = ", ".join(b.value for b in cls)
            raise InvalidParameter(
                "backdrop", name, f"backdrop {name!r} is not one of: {known}"
            ) from None


DEFAULT_BACKDROP = Backdrop.BLUR


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
    # The local renderer's later camera moves, run in order after `motion`: "zoom out then
    # pan left" is ZOOM_OUT then (PAN_LEFT,).
    then: tuple[Motion, ...] = ()
    focus: tuple[float, float] | None = None  # where to frame, (x, y) fractions; None: found
    backdrop: Backdrop = DEFAULT_BACKDROP  # fit contain's fill
    cover_at: float | None = None  # seconds into the video; None: the subject's best frame
    music_sha256: str | None = None  # an audio track muxed in (its file's sha256)

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
        if self.focus is not None and not all(0.0 <= v <= 1.0 for v in self.focus):
            raise InvalidParameter(
                "focus",
                f"{self.focus[0]:g},{self.focus[1]:g}",
                "focus is X,Y as fractions of the picture, each from 0 to 1",
            )
        if self.audio and self.music_sha256 is not None:
            raise InvalidParameter(
                "audio", "music", "a music track replaces the model's sound: ask for one, not both"
            )
        if self.cover_at is not None and not 0.0 <= self.cover_at <= self.duration_s:
            raise InvalidParameter(
                "cover_at",
                self.cover_at,
                f"cover_at {self.cover_at:g} is not a time in the video (0-{self.duration_s:g}s)",
            )

    @property
    def frame_count(self) -> int:
        return round(self.duration_s * self.fps)

    @property
    def moves(self) -> tuple[Motion, ...]:
        """Every camera move, in the order they run."""
        return (self.motion, *self.then)


def parse_focus(text: str) -> tuple[float, float]:
    """ "X,Y" as fractions of the picture (0,0 its top left, 1,1 its bottom right)."""
    parts = text.replace(" ", "").split(",")
    try:
        x, y = (float(part) for part in parts)
    except ValueError:
        raise InvalidParameter(
            "focus", text, f"focus {text!r} is not X,Y (two fractions, e.g. 0.3,0.4)"
        ) from None
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):  # also refuses nan
        raise InvalidParameter(
            "focus", text, f"focus {text!r}: X and Y are fractions of the picture, from 0 to 1"
        )
    return x, y


# Fields added after specs were first stored, left out of a spec's JSON (and so of its hashes
# and cache key) while they hold their default: older jobs keep their keys.
_LATER_DEFAULTS: dict[str, object] = {
    "end_frame": False,
    "then": (),
    "focus": None,
    "backdrop": DEFAULT_BACKDROP,
    "cover_at": None,
    "music_sha256": None,
}


def render_json(render: RenderSpec) -> dict[str, Any]:
    """`render` as plain JSON values, its later fields only where they are set."""
    data = asdict(render)
    data["size"] = str(render.size)
    for name, default in _LATER_DEFAULTS.items():
        if data[name] == default:
            del data[name]
    if "then" in data:
        data["then"] = [move.value for move in render.then]
    if "focus" in data:
        data["focus"] = list(data["focus"])
    return data


def render_from_json(data: dict[str, Any]) -> RenderSpec:
    """The inverse of `render_json`."""
    focus = data.get("focus")
    cover_at = data.get("cover_at")
    return RenderSpec(
        motion=Motion(data["motion"]),
        intensity=Intensity(data["intensity"]),
        size=parse_size(data["size"]),
        duration_s=float(data["duration_s"]),
        fps=int(data["fps"]),
        fit=Fit(data["fit"]),
        seed=int(data["seed"]),
        prompt=str(data["prompt"]),
        workflow=data.get("workflow"),
        model=data.get("model"),
        negative_prompt=data.get("negative_prompt"),
        resolution=data.get("resolution"),
        audio=bool(data.get("audio", False)),
        end_frame=bool(data.get("end_frame", False)),
        then=tuple(Motion(m) for m in data.get("then", ())),
        focus=None if focus is None else (float(focus[0]), float(focus[1])),
        backdrop=Backdrop(data.get("backdrop", DEFAULT_BACKDROP)),
        cover_at=None if cover_at is None else float(cover_at),
        music_sha256=data.get("music_sha256"),
    )
