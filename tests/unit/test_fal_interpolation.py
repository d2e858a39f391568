"""fal frame interpolation: an endpoint with an interpolator is asked for the in-between
frames that bring its model's rate up to the job's fps, always explicitly; one without is
sent nothing new; the manifest's interpolation block is validated naming the bad field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from i2v.backends.base import GenerationRequest
from i2v.backends.fal.backend import FalBackend
from i2v.backends.fal.checkpoint import Checkpoint
from i2v.backends.fal.library import load_manifests, shipped_manifests
from i2v.backends.fal.mapping import interpolated_frames, to_fal_input
from i2v.backends.fal.values import FalRequest
from i2v.config import load_settings
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import Fit, RenderSpec
from i2v.errors import ConfigError
from i2v.media.image import NormalisedImage
from i2v.models.request import ModelRequest

REQUEST = ModelRequest(image_url="https://example.com/in.png", prompt="the camera pushes in")
BY_MODEL = {m.model: m for m in shipped_manifests()}
WAN = BY_MODEL["wan-2.2-14b"]
FIELDS = ("interpolator_model", "num_interpolated_frames", "adjust_fps_for_interpolation")


def interpolation_sent(arguments: dict[str, Any]) -> tuple[object, ...]:
    return tuple(arguments.get(field) for field in FIELDS)


@pytest.mark.parametrize(
    ("fps", "frames"),
    [(23, 1), (25, 1), (30, 1), (32, 1), (33, 2), (48, 2), (50, 3), (60, 3)],
)
def test_wan_is_asked_for_the_frames_that_reach_the_job_s_fps(fps: int, frames: int) -> None:
    sent = to_fal_input(WAN, REQUEST, target_fps=fps).arguments
    assert interpolation_sent(sent) == ("film", frames, True)
    # fal multiplies the rate it generates at by frames + 1: at least the job's, never less.
    assert sent["frames_per_second"] == 16
    assert 16 * (frames + 1) >= fps > 16 * frames
    assert sent["num_frames"] == 81  # the length is the model's frames; interpolation adds


@pytest.mark.parametrize("fps", [None, 8, 16])
def test_no_interpolation_needed_is_still_sent_explicitly(fps: int | None) -> None:
    # fal's own default is film with one frame: left unset, it would decide for i2v.
    sent = to_fal_input(WAN, REQUEST, target_fps=fps).arguments
    assert interpolation_sent(sent) == ("none", 0, True)


@pytest.mark.parametrize(
    "model", sorted(m.model for m in shipped_manifests() if m.interpolation is None)
)
def test_an_endpoint_without_an_interpolator_gets_nothing_new(model: str) -> None:
    manifest = BY_MODEL[model]
    assert interpolated_frames(manifest, 60) == 0
    at_60 = to_fal_input(manifest, REQUEST, target_fps=60).arguments
    assert at_60 == to_fal_input(manifest, REQUEST).arguments
    assert not set(FIELDS) & set(at_60)


def test_only_wan_2_2_a14b_ships_an_interpolator() -> None:
    # The turbo endpoint has no interpolation inputs in fal's schema.
    assert [m.model for m in shipped_manifests() if m.interpolation is not None] == [WAN.model]
    assert WAN.interpolation is not None
    assert (WAN.interpolation.model, WAN.interpolation.off, WAN.interpolation.max_frames) == (
        "film",
        "none",
        4,
    )


# -- users' own manifests -----------------------------------------------------------------


def user_manifest(**changes: object) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(WAN.model_dump(mode="json")))
    body.update(endpoint="fal-ai/example/wan-like/image-to-video", model="wan-like")
    body.update(changes)
    return body


def load_one(tmp_path: Path, body: dict[str, Any]) -> Any:
    (tmp_path / "mine.json").write_text(json.dumps(body))
    return load_manifests(tmp_path)[-1]


def test_a_user_manifest_with_an_interpolator_parses_and_is_used(tmp_path: Path) -> None:
    # Field names default to fal's Wan names: the interpolator and its limit are enough.
    body = user_manifest(interpolation={"model": "rife", "max_frames": 1})
    manifest = load_one(tmp_path, body)
    assert manifest.interpolation.model_field == "interpolator_model"
    sent = to_fal_input(manifest, REQUEST, target_fps=60).arguments
    assert interpolation_sent(sent) == ("rife", 1, True)  # capped at what the endpoint allows


def test_a_user_manifest_with_other_field_names_and_rate(tmp_path: Path) -> None:
    body = user_manifest(
        duration={"form": "integer", "allowed": [5], "default": 5},
        native_fps=24,
        interpolation={
            "model_field": "interp",
            "model": "film",
            "off": "off",
            "frames_field": "interp_frames",
            "max_frames": 2,
            "adjust_fps_field": "scale_fps",
        },
    )
    manifest = load_one(tmp_path, body)
    at_30 = to_fal_input(manifest, REQUEST, target_fps=30).arguments
    assert (at_30["interp"], at_30["interp_frames"], at_30["scale_fps"]) == ("film", 1, True)
    at_24 = to_fal_input(manifest, REQUEST, target_fps=24).arguments
    assert (at_24["interp"], at_24["interp_frames"]) == ("off", 0)


def test_a_user_manifest_s_free_text_interpolation_still_loads(tmp_path: Path) -> None:
    # The manifest format before the typed block: the text was never acted on.
    body = user_manifest(interpolation="fal offers FILM; names unknown", notes="Mine.")
    manifest = load_one(tmp_path, body)
    assert manifest.interpolation is None
    assert manifest.notes == "Mine. Interpolation: fal offers FILM; names unknown"


@pytest.mark.parametrize(
    ("interpolation", "changes", "expected"),
    [
        ({"model": "film"}, {}, "interpolation.max_frames: Field required"),
        ({"model": "film", "max_frames": 0}, {},
         "interpolation.max_frames: Input should be greater than 0"),
        ({"model": "", "max_frames": 4}, {}, "interpolation.model: String should have at least"),
        ({"model": "none", "max_frames": 4}, {},
         "interpolation: Value error, model 'none' is the value that turns interpolation off"),
        ({"model": "film", "max_frames": 4, "modle": "rife"}, {},
         "interpolation.modle: Extra inputs are not permitted"),
        ({"model": "film", "max_frames": 4, "frames_field": "interpolator_model"}, {},
         "interpolation: Value error, two interpolation inputs share a field name"),
        ({"model": "film", "max_frames": 4, "frames_field": "num_frames"}, {},
         "two inputs share a field name"),
        ({"model": "film", "max_frames": 4, "model_field": "seed"}, {},
         "two inputs share a field name"),
        ({"model": "film", "max_frames": 4},
         {"duration": {"form": "string", "allowed": [5]}, "native_fps": None},
         "interpolation needs native_fps"),
        (4, {}, "interpolation: Input should be a valid dictionary"),
    ],
)  # fmt: skip
def test_a_bad_interpolation_block_is_refused_naming_the_field(
    tmp_path: Path, interpolation: object, changes: dict[str, object], expected: str
) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(user_manifest(interpolation=interpolation, **changes)))
    with pytest.raises(ConfigError) as caught:
        load_manifests(tmp_path)
    assert str(caught.value).startswith(f"{path}: invalid fal endpoint manifest: ")
    assert expected in str(caught.value)


# -- the backend passes the job's fps -----------------------------------------------------


class _Submitted(Exception):
    """Raised by the fake client once it has what i2v would submit: nothing to follow."""


class _FakeClient:
    def __init__(self) -> None:
        self.sent: dict[str, Any] = {}

    def __enter__(self) -> _FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def file_url(self, data: bytes, *, content_type: str, file_name: str) -> str:
        return "https://fal.example/in.jpg"

    def submit(
        self, endpoint: str, arguments: dict[str, Any], *, webhook_url: str | None = None
    ) -> FalRequest:
        self.sent = {"endpoint": endpoint, **arguments}
        raise _Submitted


class _NoLog:
    def get(self, run_id: str) -> Checkpoint | None:
        return None

    def intent(self, run_id: str, endpoint: str) -> int:
        return 1

    def submitted(self, run_id: str, request: FalRequest) -> None:
        raise AssertionError("the fake client never answers a submit")

    def forget(self, run_id: str) -> None:
        return None


@pytest.mark.parametrize(("fps", "frames"), [(24, 1), (30, 1), (60, 3)])
def test_the_fal_backend_asks_for_the_job_s_fps(cli_env: Path, fps: int, frames: int) -> None:
    client = _FakeClient()
    backend = FalBackend(
        load_settings(data_dir=cli_env / "data"),
        log=_NoLog(),
        client=lambda: client,  # type: ignore[arg-type, return-value]
    )
    spec = RenderSpec(
        Motion.ZOOM_IN, Intensity.NORMAL, fps=fps, prompt="waves", model="wan-2.2-14b"
    )
    assert backend.prepare(spec).model == "wan-2.2-14b"
    request = GenerationRequest(
        image=NormalisedImage(np.zeros((16, 16, 3), np.uint8), "png", "RGB", (16, 16)),
        prompt="the camera pushes in",
        seed=0,
        size=Size(1080, 1920),
        fps=fps,
        frame_count=5 * fps,
        motion=Motion.ZOOM_IN,
        intensity=Intensity.NORMAL,
        fit=Fit.COVER,
        workflow=None,
        workdir=cli_env,
        run_id="run-1",
        model="wan-2.2-14b",
        duration_s=5.0,
    )
    with pytest.raises(_Submitted):
        backend.generate(request, lambda progress: None)
    assert client.sent["endpoint"] == "fal-ai/wan/v2.2-a14b/image-to-video"
    assert interpolation_sent(client.sent) == ("film", frames, True)
    assert (client.sent["num_frames"], client.sent["frames_per_second"]) == (81, 16)
