"""What one fal.ai endpoint takes and costs, as data: the typed manifest and its loader."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from i2v.errors import ConfigError

# A value the mapping sends: fal's inputs are JSON scalars for everything i2v sets.
Scalar = str | int | bool


class _Strict(BaseModel):
    # A misspelt key in a user's manifest is an error, never silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Duration(_Strict):
    """How the endpoint takes a length, and which lengths (whole seconds) it offers.

    string: "5"; string_s: "5s"; integer: 5; frames: a frame count (fps * seconds + 1) and
    an fps field; none: the endpoint has no length input (allowed is then empty).
    """

    form: Literal["string", "string_s", "integer", "frames", "none"]
    field: str = "duration"
    allowed: tuple[PositiveInt, ...] = ()
    default: PositiveInt | None = None
    fps_field: str | None = None  # frames only: the field that takes frames per second
    fps: int | None = Field(default=None, gt=0)  # frames only: the rate i2v sends

    def frames(self, seconds: int) -> dict[str, int]:
        """The frame count and fps inputs for a length: 5 s at 16 fps is 81 frames."""
        if self.form != "frames" or self.fps is None or self.fps_field is None:
            raise ValueError(f"a duration of form {self.form!r} is not counted in frames")
        return {self.field: self.fps * seconds + 1, self.fps_field: self.fps}

    @model_validator(mode="after")
    def _consistent(self) -> Duration:
        if self.form == "none":
            if self.allowed or self.default is not None:
                raise ValueError("a duration of form 'none' has no allowed values or default")
            return self
        if not self.allowed:
            raise ValueError("allowed must list at least one duration")
        if self.default is not None and self.default not in self.allowed:
            raise ValueError(f"default {self.default} is not in allowed {list(self.allowed)}")
        if self.form == "frames" and (self.fps_field is None or self.fps is None):
            raise ValueError("a duration of form 'frames' needs fps_field and fps")
        return self


class Choice(_Strict):
    """An enumerated input (resolution, aspect ratio): its field, values and fal's default."""

    field: str
    allowed: tuple[str, ...] = Field(min_length=1)
    default: str | None = None

    @model_validator(mode="after")
    def _default_allowed(self) -> Choice:
        if self.default is not None and self.default not in self.allowed:
            raise ValueError(f"default {self.default!r} is not in allowed {list(self.allowed)}")
        return self


class Audio(_Strict):
    """A switch for generated sound; i2v always sends it, off unless asked for."""

    field: str = "generate_audio"
    default: bool  # fal's default when the field is absent, for the record


class Interpolation(_Strict):
    """A frame interpolator the endpoint runs on the frames its model made (Wan 2.2 A14B).

    i2v always sends all three fields, so fal's defaults (which may interpolate) never
    decide: `model` with the in-between frames a job's fps needs, or `off` with none. The
    fps-adjust field is sent true: the clip's rate is multiplied by frames + 1 and its length
    kept, rather than the same rate played slower.
    """

    model_field: str = "interpolator_model"
    model: str = Field(min_length=1)  # the interpolator i2v asks for, e.g. "film"
    off: str = Field(default="none", min_length=1)  # the model_field value for no interpolation
    frames_field: str = "num_interpolated_frames"
    max_frames: PositiveInt  # in-between frames per pair of generated frames: 0 to this
    adjust_fps_field: str = "adjust_fps_for_interpolation"

    @model_validator(mode="after")
    def _consistent(self) -> Interpolation:
        if self.model == self.off:
            raise ValueError(f"model {self.model!r} is the value that turns interpolation off")
        fields = [self.model_field, self.frames_field, self.adjust_fps_field]
        if len(set(fields)) != len(fields):
            raise ValueError(f"two interpolation inputs share a field name: {fields}")
        return self


class PerSecondRate(_Strict):
    resolution: str | None = None  # None: any resolution
    audio: bool | None = None  # None: with or without audio
    usd_per_second: Decimal = Field(gt=0)


class PerSecond(_Strict):
    kind: Literal["per_second"]
    rates: tuple[PerSecondRate, ...] = Field(min_length=1)


class PerVideoRate(_Strict):
    resolution: str | None = None
    duration: int | None = None  # None: any length
    audio: bool | None = None
    usd: Decimal = Field(gt=0)


class PerVideo(_Strict):
    kind: Literal["per_video"]
    rates: tuple[PerVideoRate, ...] = Field(min_length=1)


class BasePlusExtra(_Strict):
    """A price for the first base_seconds, and a rate for each second after (Kling)."""

    kind: Literal["base_plus_extra"]
    base_usd: Decimal = Field(gt=0)
    base_seconds: int = Field(gt=0)
    usd_per_extra_second: Decimal = Field(ge=0)


class PerToken(_Strict):
    """Seedance: tokens = width * height * fps * seconds / 1024, billed per million."""

    kind: Literal["per_token"]
    usd_per_million_tokens: Decimal = Field(gt=0)
    fps: int = Field(gt=0)
    frame_sizes: dict[str, tuple[PositiveInt, PositiveInt]]  # resolution -> (width, height) billed


PriceRule = Annotated[PerSecond | PerVideo | BasePlusExtra | PerToken, Field(discriminator="kind")]


class Price(_Strict):
    rule: PriceRule | None  # None: fal's price for this endpoint is not known to i2v
    read_on: dt.date  # when the numbers were read; fal changes them
    source: str


class EndpointManifest(_Strict):
    """One fal.ai image-to-video endpoint: its inputs, allowed values and price."""

    endpoint: str = Field(pattern=r"^[\w.-]+(/[\w.-]+)+$")  # fal's id, e.g. fal-ai/kling-video/...
    model: str = Field(pattern=r"[0-9A-Za-z]")  # the catalogue name, e.g. kling-2.5-turbo-pro
    title: str
    image_field: str = "image_url"
    end_image_field: str | None = None  # None: no end frame
    duration: Duration
    resolution: Choice | None = None  # None: no resolution input
    aspect: Choice | None = None  # None: no aspect input; the image decides
    native_fps: int | None = Field(default=None, gt=0)  # None: fal does not say
    audio: Audio | None = None  # None: the endpoint makes no sound
    negative_prompt: bool = False
    seed: bool = False
    # Safety-checker inputs and the values i2v always sends, so fal's defaults never decide.
    safety: dict[str, Scalar] = Field(default_factory=dict)
    interpolation: Interpolation | None = None  # None: no frame interpolator
    price: Price
    notes: str = ""

    @model_validator(mode="before")
    @classmethod
    def _legacy_interpolation(cls, data: object) -> object:
        # Earlier manifests described interpolation in free text, which i2v never acted on:
        # such a file still loads, its text moved to the notes.
        if isinstance(data, dict) and isinstance(data.get("interpolation"), str):
            text = data["interpolation"]
            notes = data.get("notes") or ""
            data = {**data, "interpolation": None}
            data["notes"] = f"{notes} Interpolation: {text}".strip() if text else notes
        return data

    @property
    def generated_fps(self) -> int | None:
        """The rate of the frames the model makes: the one i2v sends, else fal's native."""
        if self.duration.form == "frames":
            return self.duration.fps
        return self.native_fps

    @model_validator(mode="after")
    def _fields_distinct(self) -> EndpointManifest:
        # prompt, negative_prompt and seed are the same on every endpoint i2v knows.
        names = ["prompt", "negative_prompt", "seed", self.image_field, self.end_image_field]
        names += [self.duration.field, self.duration.fps_field]
        names += [c.field for c in (self.resolution, self.aspect) if c is not None]
        names += [self.audio.field] if self.audio else []
        names += list(self.safety)
        if self.interpolation is not None:
            i = self.interpolation
            names += [i.model_field, i.frames_field, i.adjust_fps_field]
            if self.generated_fps is None:
                raise ValueError("interpolation needs native_fps: the rate it multiplies")
        given = [n for n in names if n is not None]
        if len(given) != len(set(given)):
            raise ValueError(f"two inputs share a field name: {given}")
        priced = _priced_resolutions(self.price.rule)
        offered = set(self.resolution.allowed if self.resolution else ())
        if priced - offered:
            raise ValueError(
                f"price.rule names resolutions not offered: {sorted(priced - offered)}"
            )
        return self


def _priced_resolutions(rule: PriceRule | None) -> set[str]:
    if isinstance(rule, PerSecond | PerVideo):
        return {r.resolution for r in rule.rates if r.resolution is not None}
    if isinstance(rule, PerToken):
        return set(rule.frame_sizes)
    return set()


def parse_manifest(text: str, source: str) -> EndpointManifest:
    """The manifest in a JSON text; ConfigError naming the source and the bad field."""
    try:
        return EndpointManifest.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not JSON: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{source}: invalid fal endpoint manifest: {problems}") from None
