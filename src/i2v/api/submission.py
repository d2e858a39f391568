"""Read a job submission: multipart (an `image` file plus fields) or JSON with `image_url`.

An end image (a last frame, for models that take one) comes as an `end_image` file part or
an `end_image_url`. The gate has already capped the whole body, both pictures together; a
URL is fetched only after every other parameter has been checked (`fetch_image`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from i2v.api.state import ServiceState
from i2v.backends.registry import AUTO, BACKENDS, available_backends
from i2v.config import Settings
from i2v.domain.motion import Motion
from i2v.domain.size import ASPECT_PRESETS, output_size
from i2v.domain.spec import (
    DEFAULT_BACKDROP,
    MAX_DURATION_S,
    MAX_FPS,
    MAX_SEED,
    MIN_DURATION_S,
    MIN_FPS,
    Backdrop,
    Fit,
    RenderSpec,
    parse_focus,
)
from i2v.errors import InvalidParameter, MusicTooLarge, NotAnImage, UploadTooLarge
from i2v.models.catalog import default_duration
from i2v.net.fetch import SafeFetcher, policy_from_settings
from i2v.policy.base import Rating
from i2v.prompts.base import Platform
from i2v.services import jobs, policy
from i2v.services.accounts import UserInfo
from i2v.services.generate import resolve_motion
from i2v.services.routing import PREFERENCES
from i2v.services.words import parse_captions

READ_SLACK = 1  # read one byte past the cap to tell "exactly at" from "over"
_FILE_PARTS = ("image", "end_image", "audio")


# An even number of 360-1920: the sides yuv420p video at the platforms' sizes allows.
EVEN_SIDE = r"(36[02468]|3[7-9][02468]|[4-9][0-9][02468]|1[0-8][0-9][02468]|19[01][02468]|1920)"


class RenderFields(BaseModel):
    """What shapes a video on any backend, for a job and for a quote alike.

    The domain's bounds and choices are stated for the OpenAPI document only
    (`json_schema_extra`): the domain checks every value, with its own messages.
    """

    prompt: str = Field(default="", max_length=2000)
    duration: float | None = Field(
        default=None,
        description="Seconds; default 5, or the model's own where it makes no 5 s clip.",
        json_schema_extra={"minimum": MIN_DURATION_S, "maximum": MAX_DURATION_S},
    )
    fps: int = Field(default=30, json_schema_extra={"minimum": MIN_FPS, "maximum": MAX_FPS})
    size: str | None = Field(
        default=None,
        description="WIDTHxHEIGHT, even sides of 360-1920 px; not with aspect.",
        json_schema_extra={"pattern": rf"^{EVEN_SIDE}x{EVEN_SIDE}$"},
    )
    aspect: str | None = Field(default=None, json_schema_extra={"enum": [*ASPECT_PRESETS, None]})
    negative_prompt: str | None = Field(default=None, max_length=2000)
    resolution: str | None = Field(
        default=None, max_length=32, description="The model's own resolution, e.g. 720p."
    )
    sound: bool = Field(default=False, description="Sound, from models that make it.")


class JobFields(RenderFields):
    """The job parameters, the same for both encodings (form strings are coerced)."""

    model_config = ConfigDict(extra="forbid")

    motion: str | None = Field(
        default=None,
        max_length=200,
        description="A camera move, or several comma-separated, run in order "
        f"(zoom-out,pan-left); one of: {', '.join(Motion)}. Default: from the prompt.",
    )
    fit: str = Field(default="cover", json_schema_extra={"enum": [*Fit]})
    backdrop: str = Field(
        default=DEFAULT_BACKDROP.value,
        description="With fit contain: what fills the frame around the picture.",
        json_schema_extra={"enum": [*Backdrop]},
    )
    focus: str | None = Field(
        default=None,
        max_length=64,
        description="X,Y: frame around this point of the picture, as fractions (0.5,0.3). "
        "Default: the face or most salient part found.",
    )
    cover_at: float | None = Field(
        default=None,
        description="Seconds: take the cover from this moment. Default: where the subject is "
        "in view and largest.",
        json_schema_extra={"minimum": 0},
    )
    seed: int = Field(default=0, json_schema_extra={"minimum": 0, "maximum": MAX_SEED})
    model: str | None = Field(
        default=None,
        max_length=64,
        description="A video model (GET /v1/backends lists them); null: the local renderer.",
    )
    backend: str | None = Field(
        default=None,
        description="auto (the default with a model): the cheapest backend that runs it, "
        "failing over; or pin one. Without a model: local.",
        json_schema_extra={"enum": [AUTO, *BACKENDS, None]},
    )
    prefer: str = Field(default="cost", json_schema_extra={"enum": list(PREFERENCES)})
    workflow: str | None = Field(default=None, max_length=128)  # comfyui: e.g. wan2.2-ti2v-5b
    webhook_url: str | None = Field(default=None, max_length=2048)
    cache: bool = True  # False forces a new render
    enhance: bool = Field(
        default=True,
        description="Write the prompt the way the model's family reads it; false: as typed.",
    )
    rating: str | None = Field(
        default=None,
        description="The highest rating the job allows (default PG-13); R and X need an "
        "admin's mature grant and run on self-hosted backends only.",
        json_schema_extra={"enum": ["PG", "PG-13", "R", "X", None]},
    )
    caption: str | None = Field(
        default=None,
        description="Write a ready-to-post caption for instagram, tiktok or both.",
        json_schema_extra={"enum": ["instagram", "tiktok", "both", None]},
    )
    image_url: str | None = Field(default=None, max_length=4096)
    end_image_url: str | None = Field(
        default=None,
        max_length=4096,
        description="The last frame to reach, for models that take one (not with end_image).",
    )


def request_body_schema(settings: Settings) -> dict[str, object]:
    """POST /v1/jobs's two encodings as this deployment takes them, for the OpenAPI document.

    Only the JSON schema says "not size and aspect together": schemathesis 4.32 fails on a
    `not` beside a binary property.
    """
    fields = JobFields.model_json_schema()
    properties = dict(fields["properties"])
    image_url = properties.pop("image_url")
    properties["backend"] = {
        **properties["backend"],
        "enum": [AUTO, *available_backends(settings), None],
    }
    if settings.webhook_secret is None:
        del properties["webhook_url"]  # refused: webhooks are off here
    image = {"type": "string", "format": "binary", "description": "PNG, JPEG or WebP."}
    end_image = {**image, "description": "The last frame, for models that take one."}
    audio = {
        "type": "string",
        "format": "binary",
        "description": "Music to put under the video: looped or cut to its length, faded out, "
        f"levelled to about -14 LUFS; at most {settings.max_audio_mb} MB.",
    }
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image": image,
                        "end_image": end_image,
                        "audio": audio,
                        **properties,
                    },
                    "required": ["image"],
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {**properties, "image_url": image_url},
                    "required": ["image_url"],
                    "additionalProperties": False,
                    "not": {"required": ["size", "aspect"]},
                }
            },
        },
    }


@dataclass(frozen=True, slots=True)
class Submission:
    image: bytes | None  # None: fetch fields.image_url once the parameters are checked
    fields: JobFields
    end_image: bytes | None = None  # None: fields.end_image_url, if any, is fetched likewise
    music: bytes | None = None  # the `audio` part

    @property
    def has_end_image(self) -> bool:
        return self.end_image is not None or self.fields.end_image_url is not None


def job_fields(raw: dict[str, object]) -> JobFields:
    """The fields of a submission (empty values dropped); InvalidParameter names the field."""
    try:
        return JobFields.model_validate({k: v for k, v in raw.items() if v not in ("", None)})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidParameter(field, first.get("input"), f"{field}: {first['msg']}") from None


async def read_submission(request: Request, settings: Settings) -> Submission:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=len(_FILE_PARTS), max_fields=32)
        upload = form.get("image")
        if not isinstance(upload, StarletteUpload):
            raise InvalidParameter("image", None, "image: attach the picture as a file part")
        cap = settings.max_upload_mb * 1024 * 1024
        data = await read_capped(upload, cap)
        fields = job_fields({k: v for k, v in form.items() if k not in _FILE_PARTS})
        if fields.image_url is not None:
            raise InvalidParameter(
                "image_url", fields.image_url, "send image or image_url, not both"
            )
        end, music = form.get("end_image"), form.get("audio")
        if end is not None and not isinstance(end, StarletteUpload):
            raise InvalidParameter("end_image", None, "end_image: attach it as a file part")
        if music is not None and not isinstance(music, StarletteUpload):
            raise InvalidParameter(
                "audio",
                None,
                "audio: attach the music as a file part (for a model's own sound: sound=true)",
            )
        if end is not None and fields.end_image_url is not None:
            raise InvalidParameter(
                "end_image_url", fields.end_image_url, "send end_image or end_image_url, not both"
            )
        music_cap = settings.max_audio_mb * 1024 * 1024
        return Submission(
            data,
            fields,
            await read_capped(end, cap) if end is not None else None,
            None if music is None else await read_capped(music, music_cap, MusicTooLarge),
        )
    if kind == "application/json":
        try:
            body = await request.json()
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json allows
            raise InvalidParameter("body", None, "body: not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidParameter("body", None, "body: expected a JSON object")
        fields = job_fields(body)
        if fields.image_url is None:
            raise InvalidParameter("image_url", None, "image_url: required with a JSON body")
        return Submission(None, fields)
    raise NotAnImage("body", "send multipart/form-data with an image, or JSON with image_url")


@dataclass(frozen=True, slots=True)
class Planned:
    """A submission's fields as the services take them."""

    render: RenderSpec
    backend: str
    rating: Rating
    platforms: tuple[Platform, ...]


def plan(fields: JobFields, settings: Settings, *, end_frame: bool) -> Planned:
    """The render, backend, rating and caption platforms the fields ask for (each value
    checked by the domain, InvalidParameter naming the field)."""
    moves, intensity = resolve_motion(fields.prompt, fields.motion)
    render = RenderSpec(
        motion=moves[0],
        then=moves[1:],
        intensity=intensity,
        size=output_size(fields.size, fields.aspect),
        duration_s=(
            fields.duration
            if fields.duration is not None
            else default_duration(settings, fields.model)
        ),
        fps=fields.fps,
        fit=Fit.parse(fields.fit),
        backdrop=Backdrop.parse(fields.backdrop),
        focus=None if fields.focus is None else parse_focus(fields.focus),
        cover_at=fields.cover_at,
        seed=fields.seed,
        prompt=fields.prompt,
        workflow=fields.workflow,
        model=fields.model,
        negative_prompt=fields.negative_prompt,
        resolution=fields.resolution,
        audio=fields.sound,
        end_frame=end_frame,
    )
    backend = fields.backend or (AUTO if fields.model else "local")
    return Planned(
        render, backend, policy.parse_rating(fields.rating), parse_captions(fields.caption)
    )


def submit_planned(
    services: ServiceState,
    user: UserInfo,
    fields: JobFields,
    planned: Planned,
    image: bytes,
    end_image: bytes | None = None,
    idempotency_key: str | None = None,
    music: bytes | None = None,
) -> jobs.Submitted:
    """Submit the job (blocking: database, storage, queue; run it off the event loop)."""
    return jobs.submit(
        services.app,
        services.queue,
        services.blobs,
        user,
        image,
        planned.render,
        planned.backend,
        idempotency_key,
        fields.webhook_url,
        fields.cache,
        fields.prefer,
        jobs.Extras(end_image, fields.enhance, planned.rating, planned.platforms, music),
    )


async def fetch_image(url: str, settings: Settings) -> bytes:
    """The image at `url`, fetched behind the SSRF guard and the size and time limits."""
    fetched = await SafeFetcher(policy_from_settings(settings)).get(url)
    return fetched.data


async def read_capped(
    upload: StarletteUpload, cap: int, too_large: type[UploadTooLarge] = UploadTooLarge
) -> bytes:
    data = await upload.read(cap + READ_SLACK)
    if len(data) > cap:
        raise too_large(cap)
    return data
