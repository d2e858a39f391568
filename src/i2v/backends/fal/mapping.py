"""The unified request as one fal endpoint's input, validated against its manifest."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NoReturn

from i2v.backends.fal.manifest import Choice, EndpointManifest, Interpolation, Scalar
from i2v.errors import InvalidParameter
from i2v.models.request import ModelRequest


@dataclass(frozen=True, slots=True)
class FalInput:
    """What the client submits: the endpoint id and its JSON arguments."""

    endpoint: str
    arguments: dict[str, Scalar]


def _choices(values: tuple[int, ...] | tuple[str, ...]) -> str:
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def duration_for(manifest: EndpointManifest, request: ModelRequest) -> int | None:
    """The length in seconds the request gets: the asked one, checked, or the default."""
    spec = manifest.duration
    if request.duration_s is None:
        return spec.default
    if spec.form == "none":
        raise InvalidParameter(
            "duration",
            request.duration_s,
            f"{manifest.model} has no duration setting; leave duration unset",
        )
    if request.duration_s not in spec.allowed:
        raise InvalidParameter(
            "duration",
            request.duration_s,
            f"duration {request.duration_s} s is not offered by {manifest.model}: "
            f"{_choices(spec.allowed)}",
        )
    return request.duration_s


def _choice(manifest: EndpointManifest, name: str, spec: Choice | None, value: str | None) -> str:
    a = "an" if name[0] in "aeiou" else "a"
    if spec is None:
        raise InvalidParameter(name, value, f"{manifest.model} does not take {a} {name}")
    if value is None:
        if spec.default is None:
            raise InvalidParameter(
                name, None, f"{manifest.model} needs {a} {name}: {_choices(spec.allowed)}"
            )
        return spec.default
    # "768p" is Hailuo's "768P": fal's spelling varies, people's should not have to.
    for allowed in spec.allowed:
        if allowed.lower() == value.strip().lower():
            return allowed
    raise InvalidParameter(
        name, value, f"{name} {value} is not offered by {manifest.model}: {_choices(spec.allowed)}"
    )


def resolution_for(manifest: EndpointManifest, request: ModelRequest) -> str | None:
    if manifest.resolution is None and request.resolution is None:
        return None
    return _choice(manifest, "resolution", manifest.resolution, request.resolution)


def _refuse(manifest: EndpointManifest, field: str, value: object, what: str) -> NoReturn:
    raise InvalidParameter(field, value, f"{manifest.model} does not support {what}")


def interpolated_frames(manifest: EndpointManifest, target_fps: int | None) -> int:
    """In-between frames per generated pair that bring the clip to at least target_fps.

    16 fps at a 30 fps target is 1 (32 fps, which publishing re-times to 30); 0 where the
    endpoint has no interpolator, the model's rate already meets the target, or there is none.
    Capped at what the endpoint allows: the rest is left to publishing's repeated frames.
    """
    spec, base = manifest.interpolation, manifest.generated_fps
    if spec is None or base is None or target_fps is None or base >= target_fps:
        return 0
    return min(spec.max_frames, math.ceil(target_fps / base) - 1)


def _interpolation(spec: Interpolation, frames: int) -> dict[str, Scalar]:
    return {
        spec.model_field: spec.model if frames else spec.off,
        spec.frames_field: frames,
        spec.adjust_fps_field: True,
    }


def to_fal_input(
    manifest: EndpointManifest, request: ModelRequest, *, target_fps: int | None = None
) -> FalInput:
    """The endpoint's arguments for the request; InvalidParameter if it cannot be honoured.

    What would change the output is refused rather than dropped: a negative prompt, sound,
    an end frame or a seed the endpoint cannot take. target_fps is the rate the job publishes
    at: an endpoint with an interpolator is asked for the in-between frames that reach it.
    """
    if not request.prompt.strip():
        raise InvalidParameter("prompt", request.prompt, "the prompt is empty")
    args: dict[str, Scalar] = {manifest.image_field: request.image_url, "prompt": request.prompt}
    seconds = duration_for(manifest, request)
    spec = manifest.duration
    if seconds is not None:
        if spec.form == "frames":
            args.update(spec.frames(seconds))
        elif spec.form == "integer":
            args[spec.field] = seconds
        else:
            args[spec.field] = f"{seconds}s" if spec.form == "string_s" else str(seconds)
    resolution = resolution_for(manifest, request)
    if manifest.resolution is not None and resolution is not None:
        args[manifest.resolution.field] = resolution
    if manifest.aspect is not None or request.aspect is not None:
        aspect = _choice(manifest, "aspect", manifest.aspect, request.aspect)
        if manifest.aspect is not None:
            args[manifest.aspect.field] = aspect
    if request.negative_prompt:
        if not manifest.negative_prompt:
            _refuse(manifest, "negative_prompt", request.negative_prompt, "a negative prompt")
        args["negative_prompt"] = request.negative_prompt
    if request.seed is not None:
        if not manifest.seed:
            _refuse(manifest, "seed", request.seed, "a seed")
        args["seed"] = request.seed
    if manifest.audio is not None:
        args[manifest.audio.field] = request.audio
    elif request.audio:
        _refuse(manifest, "sound", True, "sound")
    if request.end_image_url is not None:
        if manifest.end_image_field is None:
            _refuse(manifest, "end_image", True, "an end image")
        args[manifest.end_image_field] = request.end_image_url
    if manifest.interpolation is not None:
        frames = interpolated_frames(manifest, target_fps)
        args.update(_interpolation(manifest.interpolation, frames))
    args.update(manifest.safety)
    return FalInput(manifest.endpoint, args)
