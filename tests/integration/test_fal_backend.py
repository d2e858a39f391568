"""FalBackend against the fake fal: clips, JSON sent, refusals, faults, checkpoints, failover.

Our production backend and client are pointed at the fake on loopback. Only the registry's
fal entry is replaced, so that `generate_video` builds a FalBackend with the test's request
log and a client on a simulated clock: the fake moves one step per poll and a poll costs
no real waiting.
"""

from __future__ import annotations

import base64
import io
import json
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from i2v.api.problems import status_for
from i2v.backends import registry
from i2v.backends.base import FrameStream, GenerationRequest, Progress
from i2v.backends.comfyui.workflows.library import get_workflow
from i2v.backends.fal.backend import FalBackend
from i2v.backends.fal.checkpoint import MemoryRequestLog, RequestLog
from i2v.backends.fal.client import FalClient
from i2v.backends.fal.request_log import DbRequestLog
from i2v.backends.fal.values import FalRequest
from i2v.config import Settings
from i2v.db.engine import open_database
from i2v.db.migrate import upgrade
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import Fit, RenderSpec
from i2v.errors import (
    BackendError,
    BackendProtocolError,
    ConfigError,
    ContentRefused,
    HostedGone,
    HostedUnavailable,
    I2VError,
    InvalidParameter,
    RunTimedOut,
    StartTimeout,
)
from i2v.media.image import ImageLimits, load_image
from i2v.media.probe import probe_video
from i2v.services.breaker import Breakers
from i2v.services.generate import generate_video
from i2v.services.routing import RouteEvent, plan_route, run_routed
from tests.conftest import FfprobeJson, photo_pixels, save_image
from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.fal import (
    DEFAULT_NATIVE,
    FAULTS,
    FRAMES,
    FakeFal,
    Script,
    Seen,
    fake_fal_fixture,  # noqa: F401
)

pytestmark = pytest.mark.integration

KLING, WAN, HAILUO, LTX, VEO = (
    "kling-2.5-turbo-pro",
    "wan-2.2-14b",
    "hailuo-02",
    "ltx-2",
    "veo-3.1-fast",
)
PROMPT = "a slow push in on the lighthouse"
POLL_S = 0.5  # simulated seconds between polls
TIMEOUT_S = 10.0  # a request's whole run: 20 polls on the simulated clock
WAN_SIZE = Size(832, 480)


class Clock:
    """The client's monotonic clock; sleeping advances it instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Flaky(httpx.BaseTransport):
    """Real HTTP, except that the first `times` requests that `breaks` picks fail to connect."""

    def __init__(self, breaks: Callable[[httpx.Request], bool], times: int = 1) -> None:
        self._real = httpx.HTTPTransport()
        self._breaks = breaks
        self.times = times

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.times and self._breaks(request):
            self.times -= 1
            raise httpx.ConnectError("connection reset by peer", request=request)
        return self._real.handle_request(request)

    def close(self) -> None:
        self._real.close()


def fal_settings(fake: FakeFal, data_dir: Path, **changes: Any) -> Settings:
    options: dict[str, Any] = {
        "data_dir": data_dir,
        "fal_key": fake.key,
        "fal_queue_url": fake.url,
        "fal_rest_url": fake.url,
        "fal_request_timeout_s": 30,
        "fal_timeout_s": TIMEOUT_S,
        "fal_data_uri_max_kb": 10_240,  # inline unless a test says otherwise
    }
    return Settings(**(options | changes))


@dataclass
class Rig:
    """The fake, the settings that point at it, and FalBackends built from them."""

    fake: FakeFal
    settings: Settings
    log: RequestLog
    clock: Clock = field(default_factory=Clock)
    transport: httpx.BaseTransport | None = None

    def client(self) -> FalClient:
        return FalClient.from_settings(
            self.settings,
            poll_s=POLL_S,
            clock=self.clock,
            sleep=self.clock.sleep,
            transport=self.transport,
        )

    def backend(self, log: RequestLog | None = None) -> FalBackend:
        return FalBackend(
            self.settings, log=log if log is not None else self.log, client=self.client
        )

    def submits(self) -> list[Seen]:
        return [
            s
            for s in self.fake.seen
            if s.method == "POST" and not s.path.startswith(("/storage/", "/cdn/"))
        ]

    def cancels(self) -> list[Seen]:
        return [s for s in self.fake.seen if s.method == "PUT"]

    def sent(self) -> dict[str, Any]:
        """The JSON body of the last submit, as fal received it."""
        body: dict[str, Any] = json.loads(self.submits()[-1].body)
        return body


@pytest.fixture
def rig(fake_fal: FakeFal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Rig:
    made = Rig(fake_fal, fal_settings(fake_fal, tmp_path / "data"), MemoryRequestLog())
    monkeypatch.setitem(registry.BACKENDS, "fal", lambda _settings, _db: made.backend())
    return made


@pytest.fixture(scope="module")
def picture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small photo: its JPEG is about 100 KB, inline under the default 256 KB."""
    return save_image(photo_pixels(640, 400), tmp_path_factory.mktemp("fal") / "photo.jpg")


def job(
    picture: Path,
    workdir: Path,
    model: str | None = WAN,
    *,
    run_id: str = "run-1",
    duration_s: float = 5.0,
    size: Size = WAN_SIZE,
    fps: int = 24,
    **extra: Any,
) -> GenerationRequest:
    """What generate_video hands the backend, without the publishing around it."""
    workdir.mkdir(parents=True, exist_ok=True)
    return GenerationRequest(
        image=load_image(picture, ImageLimits(max_pixels=50_000_000, min_side=256)),
        prompt=PROMPT, seed=0, size=size, fps=fps, frame_count=round(duration_s * fps),
        motion=Motion.ZOOM_IN, intensity=Intensity.NORMAL, fit=Fit.COVER, workflow=None,
        workdir=workdir, run_id=run_id, model=model, duration_s=duration_s, **extra,
    )  # fmt: skip


def spec(model: str | None, **changes: Any) -> RenderSpec:
    base = RenderSpec(
        motion=Motion.ZOOM_IN,
        intensity=Intensity.NORMAL,
        size=Size(832, 480),
        fps=24,
        duration_s=5,
        prompt=PROMPT,
        model=model,
    )
    return replace(base, **changes)


def ignore(_: Progress) -> None:
    pass


def sqlite_url(folder: Path) -> str:
    """A migrated SQLite database under `folder`, as a URL: each user opens its own engine."""
    url = f"sqlite:///{folder / 'i2v.db'}"
    db = open_database(url)
    upgrade(db)
    db.dispose()
    return url


# -- a real clip per model ------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    model: str
    spec: dict[str, Any]  # the RenderSpec's changes: the model's native size and rate
    sent: dict[str, Any]  # fal's JSON, but for image_url
    native: tuple[int, int, int]  # the fake's clip: width, height, fps
    usd: Decimal


CASES = [
    Case(
        KLING,
        {"size": Size(1280, 720), "fps": 24, "duration_s": 5},
        {"prompt": PROMPT, "duration": "5"},  # no aspect, seed or safety input on Kling
        (1280, 720, 24),
        Decimal("0.35"),
    ),
    Case(
        WAN,  # 16 fps is under the platforms' 23: published at 24, the motion's length kept
        {"size": Size(832, 480), "fps": 24, "duration_s": 5},
        {
            "prompt": PROMPT,
            "num_frames": 81,  # 16 fps x 5 s + 1
            "frames_per_second": 16,
            "resolution": "720p",
            "aspect_ratio": "auto",  # 832x480 is no ratio Wan offers: the image decides
            "seed": 0,
            "interpolator_model": "film",  # one frame between each pair: 32 fps, for 24
            "num_interpolated_frames": 1,
            "adjust_fps_for_interpolation": True,
            "enable_safety_checker": True,
            "enable_output_safety_checker": True,
        },
        (832, 480, 16),
        Decimal("0.40"),
    ),
    Case(
        HAILUO,
        {"size": Size(832, 480), "fps": 24, "duration_s": 6, "resolution": "768p"},
        {"prompt": PROMPT, "duration": "6", "resolution": "768P"},  # fal's spelling
        DEFAULT_NATIVE,
        Decimal("0.270"),
    ),
    Case(
        LTX,
        {"size": Size(1920, 1080), "fps": 25, "duration_s": 6},
        {
            "prompt": PROMPT,
            "duration": 6,  # an integer, not "6"
            "resolution": "1080p",
            "aspect_ratio": "16:9",
            "generate_audio": False,  # sent off, never left to fal's default (on)
        },
        (1920, 1080, 25),
        Decimal("0.36"),
    ),
    Case(
        VEO,
        {
            "size": Size(1280, 720),
            "fps": 24,
            "duration_s": 4,
            "seed": 7,
            "negative_prompt": "blur, text",
        },
        {
            "prompt": PROMPT,
            "duration": "4s",
            "resolution": "720p",
            "aspect_ratio": "16:9",
            "negative_prompt": "blur, text",
            "seed": 7,
            "generate_audio": False,
            "safety_tolerance": "4",
        },
        (1280, 720, 24),
        Decimal("0.40"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.model for c in CASES])
def test_a_model_renders_a_publish_ready_clip(
    rig: Rig, picture: Path, tmp_path: Path, case: Case
) -> None:
    wanted = spec(case.model, **case.spec)
    notes: list[str] = []

    def progress(event: Progress) -> None:
        if event.stage == "generate" and event.note:
            notes.append(event.note)

    out = tmp_path / "out.mp4"
    result = generate_video(picture, out, wanted, rig.settings, progress, "fal", run_id="run-1")

    (submit,) = rig.submits()
    assert rig.backend().prepare(wanted).model == case.model
    endpoint = json.loads(submit.body)
    image_url = endpoint.pop("image_url")
    assert endpoint == case.sent
    assert image_url.startswith("data:image/jpeg;base64,")
    with Image.open(io.BytesIO(base64.b64decode(image_url.partition(",")[2]))) as sent:
        assert (sent.format, sent.size) == ("JPEG", (640, 400))
    assert (result.backend, result.model, result.cost_usd) == ("fal", case.model, case.usd)
    assert notes[:2] == ["submitting to fal", "0 ahead in fal's queue"]
    assert notes[-1] == "step 2/2"

    info = probe_video(out)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height) == (wanted.size.width, wanted.size.height)
    assert info.fps == wanted.fps
    assert info.faststart
    assert not info.edit_list
    # The fake's clip (FRAMES frames at its native rate) kept its length, re-timed.
    native_fps = case.native[2]
    assert info.frames == -(-FRAMES * wanted.fps // native_fps)
    assert out.with_suffix(".cover.jpg").stat().st_size > 0
    downloads = [s for s in rig.fake.seen if s.path.startswith("/cdn/files/out/")]
    assert len(downloads) == 1
    assert "authorization" not in downloads[0].headers  # the key never goes to the CDN


def test_a_models_sound_is_kept_as_the_platforms_aac_when_asked_for(
    rig: Rig, picture: Path, tmp_path: Path, ffprobe_json: FfprobeJson
) -> None:
    """Sound costs more: a job that asked for it gets it, re-timed video and all; one that
    did not gets a silent video, as before."""
    with_sound = tmp_path / "sound.mp4"
    wanted = spec(VEO, size=Size(720, 1280), fps=30, duration_s=4, audio=True)
    result = generate_video(picture, with_sound, wanted, rig.settings, ignore, "fal")
    assert json.loads(rig.submits()[-1].body)["generate_audio"] is True
    assert result.cost_usd == Decimal("0.60")  # Veo 3.1 fast with audio: $0.15/s
    streams = ffprobe_json(with_sound, "-show_streams")["streams"]
    video, audio = streams  # the video first, as players expect
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert audio["codec_type"] == "audio"
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "48000", 2)
    assert abs(float(audio["duration"]) - float(video["duration"])) < 0.1
    assert probe_video(with_sound).faststart

    silent = tmp_path / "silent.mp4"
    generate_video(picture, silent, replace(wanted, audio=False), rig.settings, ignore, "fal")
    assert json.loads(rig.submits()[-1].body)["generate_audio"] is False
    kinds = [s["codec_type"] for s in ffprobe_json(silent, "-show_streams")["streams"]]
    assert kinds == ["video"]


def test_the_fake_makes_each_models_native_clip(rig: Rig, picture: Path, tmp_path: Path) -> None:
    for index, case in enumerate(CASES):
        request = job(
            picture,
            tmp_path / case.model,
            case.model,
            run_id=f"run-{index}",
            duration_s=case.spec["duration_s"],
        )
        clip = rig.backend().generate(request, ignore)
        info = probe_video(clip.path)
        assert (info.width, info.height) == case.native[:2], case.model
        assert info.fps == case.native[2], case.model
        assert clip.path.parent == request.workdir


def test_a_small_picture_goes_inline_a_large_one_through_storage(
    rig: Rig, picture: Path, tmp_path: Path
) -> None:
    request = job(picture, tmp_path / "a")
    rig.backend().generate(request, ignore)
    inline = rig.sent()["image_url"]
    assert inline.startswith("data:image/jpeg;base64,")
    jpeg = base64.b64decode(inline.partition(",")[2])
    assert not rig.fake.uploads

    rig.settings = fal_settings(rig.fake, tmp_path / "data", fal_data_uri_max_kb=1)
    rig.backend().generate(replace(request, run_id="run-2"), ignore)
    (upload,) = rig.fake.uploads
    assert upload.body == jpeg  # the same picture either way
    assert upload.headers["content-type"] == "image/jpeg"
    assert upload.headers["authorization"].startswith("Bearer ")  # a storage token, not the key
    uploaded = rig.sent()["image_url"]
    assert uploaded.startswith(f"{rig.fake.url}/cdn/files/")
    assert uploaded.endswith("_in.jpg")
    assert httpx.get(uploaded).content == jpeg  # fal can read it back


# -- refused before anything is paid for -----------------------------------------------------

REFUSED = [
    (KLING, {"duration_s": 7}, "duration",
     "duration 7 s is not offered by kling-2.5-turbo-pro: 5 or 10"),
    (KLING, {"duration_s": 5.5}, "duration", "duration 5.5s: hosted models take whole seconds"),
    (VEO, {"duration_s": 5}, "duration", "duration 5 s is not offered by veo-3.1-fast: 4, 6 or 8"),
    (KLING, {"seed": 3}, "seed", "kling-2.5-turbo-pro does not support a seed"),
    (HAILUO, {"duration_s": 6, "seed": 3}, "seed", "hailuo-02 does not support a seed"),
    (HAILUO, {"duration_s": 6, "negative_prompt": "blur"}, "negative_prompt",
     "hailuo-02 does not support a negative prompt"),
    (KLING, {"audio": True}, "sound", "kling-2.5-turbo-pro does not support sound"),
    (KLING, {"focus": (0.5, 0.3)}, "focus",
     "kling-2.5-turbo-pro frames its own video; it takes no focus point"),
    (HAILUO, {"duration_s": 6, "resolution": "1080p"}, "resolution",
     "resolution 1080p is not offered by hailuo-02: 512P or 768P"),
    (KLING, {"prompt": "  "}, "prompt", "the prompt is empty"),
    ("wan-2.2-5b", {}, "model", "model wan-2.2-5b has no fal endpoint; it runs on: comfyui"),
    ("local", {}, "model", "model local has no fal endpoint; it runs on: local"),
    ("klingg-2.5-turbo-pro", {}, "model", "did you mean kling-2.5-turbo-pro"),
    (None, {}, "model", "backend fal needs a model, e.g. kling-2.5-turbo-pro"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "changes", "field_name", "message"),
    REFUSED,
    ids=[f"{m}-{f}-{i}" for i, (m, _, f, _) in enumerate(REFUSED)],
)
def test_prepare_refuses_what_the_endpoint_cannot_honour(
    rig: Rig,
    picture: Path,
    tmp_path: Path,
    model: str | None,
    changes: dict[str, Any],
    field_name: str,
    message: str,
) -> None:
    wanted = spec(model, **changes)
    with pytest.raises(InvalidParameter) as caught:
        rig.backend().prepare(wanted)
    assert caught.value.field == field_name
    assert message in caught.value.message
    assert status_for(caught.value) == 422
    out = tmp_path / "out.mp4"
    with pytest.raises(InvalidParameter) as again:  # and so is a job, at its submission
        generate_video(picture, out, wanted, rig.settings, ignore, "fal")
    assert again.value.field == field_name
    assert not rig.fake.seen  # nothing reached fal
    assert not out.exists()


def test_an_end_image_goes_to_the_models_end_frame_field_or_is_refused(
    rig: Rig, picture: Path, tmp_path: Path
) -> None:
    with Image.open(picture) as img:
        end = save_image(
            np.asarray(img.transpose(Image.Transpose.ROTATE_180)), tmp_path / "end.png"
        )
    out = tmp_path / "out.mp4"
    wanted = spec(KLING, size=Size(1280, 720), end_frame=True)
    generate_video(picture, out, wanted, rig.settings, ignore, "fal", end_image_path=end)
    sent = rig.sent()
    images = [sent["image_url"], sent["tail_image_url"]]  # Kling's name for the end frame
    first, last = (
        np.asarray(Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))))
        for url in images
    )
    assert first.shape == last.shape == (400, 640, 3)
    # The end frame is the end picture (the start one turned round), not the start again.
    assert np.abs(last.astype(int) - first[::-1, ::-1].astype(int)).mean() < 4
    assert np.abs(last.astype(int) - first.astype(int)).mean() > 20
    assert end.exists()
    assert picture.exists()

    rig.fake.seen.clear()
    for backend, model, message in (
        ("fal", LTX, "ltx-2 does not support an end image"),
        ("local", None, "the local renderer takes no end image"),
    ):
        refused = spec(model, end_frame=True, duration_s=6)
        with pytest.raises(InvalidParameter) as caught:
            generate_video(
                picture, tmp_path / "no.mp4", refused, rig.settings, ignore, backend,
                end_image_path=end,
            )  # fmt: skip
        assert (caught.value.field, caught.value.message) == ("end_image", message)
    assert not rig.fake.seen


def test_seed_zero_is_no_seed_where_an_endpoint_takes_none(rig: Rig) -> None:
    """Every job has a seed (0 unless given): only one asked for is refused."""
    assert rig.backend().prepare(spec(KLING, seed=0)).model == KLING


# -- every fault of the fake, typed ----------------------------------------------------------

SUBMIT_FAULTS = {
    "submit_scheduling",
    "submit_rate_limited",
    "submit_malformed",
    "submit_bad_gateway",
}
FAULT_ERRORS: dict[str, tuple[type[I2VError], bool]] = {
    "submit_scheduling": (HostedUnavailable, True),
    "submit_rate_limited": (HostedUnavailable, True),
    "submit_malformed": (BackendProtocolError, True),
    "submit_bad_gateway": (HostedUnavailable, True),
    "content_policy": (ContentRefused, False),
    "validation": (InvalidParameter, False),
    "start_timeout": (StartTimeout, False),
    "startup_timeout": (HostedUnavailable, True),
    "stuck": (RunTimedOut, False),
    "result_500": (BackendError, False),
    "result_retryable": (HostedUnavailable, True),
    "status_malformed": (BackendProtocolError, True),
    "cdn_expired": (HostedGone, False),
    "cdn_forbidden": (HostedGone, False),
}
CANCELLED = {"stuck", "status_malformed"}  # given up on before fal finished it


def test_every_fault_of_the_fake_is_covered() -> None:
    assert set(FAULT_ERRORS) == FAULTS
    assert SUBMIT_FAULTS <= FAULTS


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_is_a_typed_error(rig: Rig, picture: Path, tmp_path: Path, fault: str) -> None:
    kind, retryable = FAULT_ERRORS[fault]
    rig.fake.next_scripts.append(Script(fault=fault))
    request = job(picture, tmp_path / "w")
    with pytest.raises(kind) as caught:
        rig.backend().generate(request, ignore)
    error = caught.value
    assert type(error) is kind
    assert error.retryable is retryable
    assert len(rig.submits()) == 1
    assert not list(request.workdir.iterdir())  # no partial download left behind
    checkpoint = rig.log.get(request.run_id)
    if fault in SUBMIT_FAULTS:
        # fal never answered with an id: a retry submits (the log counts the attempt).
        assert checkpoint is not None
        assert (checkpoint.request, checkpoint.attempts) == (None, 1)
        assert not rig.fake.requests
        return
    (made,) = rig.fake.requests.values()
    assert checkpoint is None  # the request ended or was given up on: a retry submits anew
    if isinstance(error, BackendError) and not isinstance(error, HostedGone | BackendProtocolError):
        assert error.prompt_id == made.id  # for the job's diagnostics
    cancels = [s.path for s in rig.cancels()]
    if fault in CANCELLED:
        assert cancels  # stuck: the client's at the deadline, then (ALREADY_COMPLETED) ours
        assert set(cancels) == {f"/fal-ai/wan/requests/{made.id}/cancel"}
        assert made.cancelled
    else:
        assert not cancels
    if isinstance(error, ContentRefused):
        assert (error.field, error.categories) == ("image_url", ("violence",))
    if isinstance(error, InvalidParameter):
        assert (error.field, error.value) == ("num_frames", 400)
    if isinstance(error, StartTimeout):
        assert error.timeout_s == 30
    if isinstance(error, RunTimedOut):
        assert error.timeout_s == TIMEOUT_S
    if isinstance(error, HostedGone):
        assert error.url.endswith(f"/cdn/files/out/{made.id}/output.mp4")
    if isinstance(error, HostedUnavailable) and fault == "startup_timeout":
        assert error.error_type == "startup_timeout"


@pytest.mark.parametrize(
    ("fault", "error_type", "retry_after_s"),
    [
        ("submit_scheduling", "runner_scheduling_failure", None),
        ("submit_rate_limited", None, 7),
        ("submit_bad_gateway", None, None),
    ],
)
def test_a_busy_fal_says_why_and_when(
    rig: Rig,
    picture: Path,
    tmp_path: Path,
    fault: str,
    error_type: str | None,
    retry_after_s: float | None,
) -> None:
    rig.fake.next_scripts.append(Script(fault=fault))
    with pytest.raises(HostedUnavailable) as caught:
        rig.backend().generate(job(picture, tmp_path / "w"), ignore)
    assert (caught.value.error_type, caught.value.retry_after_s) == (error_type, retry_after_s)
    assert status_for(caught.value) == 503


def test_a_bad_key_is_a_config_error(rig: Rig, picture: Path, tmp_path: Path) -> None:
    rig.settings = fal_settings(rig.fake, tmp_path / "data", fal_key="wrong-id:wrong-secret")
    with pytest.raises(ConfigError) as caught:
        rig.backend().generate(job(picture, tmp_path / "w"), ignore)
    assert "I2V_FAL_KEY" in caught.value.message
    assert "wrong-secret" not in caught.value.message
    assert not caught.value.retryable
    assert not rig.fake.requests


def test_a_client_per_job_loads_the_ca_bundle_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading it took 20-45 ms, twice per job: more than all else i2v adds to a fal job."""
    FalClient("id:secret").close()  # the process's first, wherever it was made
    loads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args)
        real(context, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    for _ in range(3):
        with FalClient("id:secret") as client:
            verify = client._api._transport._pool._ssl_context  # type: ignore[attr-defined]
    assert loads == []
    assert verify.verify_mode is ssl.CERT_REQUIRED  # shared, and still verifying
    assert verify.check_hostname


# -- progress and cancelling -----------------------------------------------------------------


def test_progress_shows_the_queue_then_the_models_fraction(
    rig: Rig, picture: Path, tmp_path: Path
) -> None:
    rig.fake.next_scripts.append(Script(queue_polls=4, run_polls=4))
    seen: list[Progress] = []
    rig.backend().generate(job(picture, tmp_path / "w"), seen.append)
    assert {p.stage for p in seen} == {"generate"}
    assert [p.note for p in seen] == [
        "submitting to fal",
        "3 ahead in fal's queue",
        "2 ahead in fal's queue",
        "1 ahead in fal's queue",
        "0 ahead in fal's queue",
        "step 1/4",
        "step 2/4",
        "step 3/4",
        "step 4/4",
        "step 4/4",  # COMPLETED
        None,  # downloaded
    ]
    fractions = [round(p.fraction, 2) for p in seen]
    assert fractions == [0, 0, 0, 0, 0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert seen[-2].done < seen[-1].done == seen[-1].total  # full only once the file is here


class Cancelled(Exception):
    """What a job's progress callback raises once the job was cancelled."""


@pytest.mark.parametrize("when", ["1 ahead in fal's queue", "step 1/3"])
def test_a_cancelled_run_is_cancelled_on_fal(
    rig: Rig, picture: Path, tmp_path: Path, when: str
) -> None:
    rig.fake.next_scripts.append(Script(queue_polls=3, run_polls=3))

    def progress(event: Progress) -> None:
        if event.note == when:
            raise Cancelled

    request = job(picture, tmp_path / "w")
    with pytest.raises(Cancelled):
        rig.backend().generate(request, progress)
    (made,) = rig.fake.requests.values()
    assert [s.path for s in rig.cancels()] == [f"/fal-ai/wan/requests/{made.id}/cancel"]
    assert made.cancelled
    assert rig.log.get(request.run_id) is None  # a cancelled request never answers again
    assert not list(request.workdir.iterdir())


# -- checkpoints: follow, never submit twice -------------------------------------------------


class Crash(BaseException):
    """The process dying: none of the backend's handlers runs after it."""


class CrashingLog:
    """A RequestLog whose process dies just after (or just before) the request id is kept."""

    def __init__(self, log: RequestLog, *, before_id: bool = False) -> None:
        self._log, self._before_id = log, before_id

    def get(self, run_id: str) -> Any:
        return self._log.get(run_id)

    def intent(self, run_id: str, endpoint: str) -> int:
        return self._log.intent(run_id, endpoint)

    def submitted(self, run_id: str, request: FalRequest) -> None:
        if not self._before_id:
            self._log.submitted(run_id, request)
        raise Crash

    def forget(self, run_id: str) -> None:
        self._log.forget(run_id)


@pytest.mark.parametrize("kind", ["memory", "database"])
def test_a_crash_after_the_submit_is_followed_not_resubmitted(
    rig: Rig, picture: Path, tmp_path: Path, kind: str
) -> None:
    rig.fake.next_scripts.append(Script(queue_polls=2, run_polls=2))
    if kind == "database":
        settings = fal_settings(rig.fake, tmp_path / "data", database_url=sqlite_url(tmp_path))
        rig.settings = settings
        first: RequestLog = DbRequestLog(settings)
        after: RequestLog = DbRequestLog(settings)  # the restarted process's, same database
    else:
        first = after = MemoryRequestLog()
    request = job(picture, tmp_path / "w", run_id="render.job-1")
    with pytest.raises(Crash):
        rig.backend(CrashingLog(first)).generate(request, ignore)
    assert len(rig.submits()) == 1
    assert not rig.cancels()  # a dead process cancels nothing

    checkpoint = after.get(request.run_id)
    assert checkpoint is not None
    assert checkpoint.request is not None
    (made,) = rig.fake.requests.values()
    assert (checkpoint.request.request_id, checkpoint.attempts) == (made.id, 1)
    seen: list[Progress] = []
    clip = rig.backend(after).generate(request, seen.append)  # the same render, retried
    assert len(rig.submits()) == 1  # followed, never paid for twice
    assert made.polls > 0
    assert probe_video(clip.path).frames == FRAMES
    assert clip.cost_usd == Decimal("0.40")
    assert after.get(request.run_id) is not None  # a finished request is kept, for a retry
    assert "0 ahead in fal's queue" in [p.note for p in seen]


def test_a_crash_before_the_id_is_kept_submits_again(
    rig: Rig, picture: Path, tmp_path: Path
) -> None:
    """The one window fal leaves open (it takes no idempotency key): the log counts it."""
    request = job(picture, tmp_path / "w")
    with pytest.raises(Crash):
        rig.backend(CrashingLog(rig.log, before_id=True)).generate(request, ignore)
    rig.backend().generate(request, ignore)
    assert len(rig.submits()) == 2
    checkpoint = rig.log.get(request.run_id)
    assert checkpoint is not None
    assert checkpoint.attempts == 2


def test_jobs_starting_together_on_a_fresh_database(
    rig: Rig, picture: Path, tmp_path: Path
) -> None:
    """A worker builds a backend, and so a request log, per job; several start at once."""
    url = f"sqlite:///{tmp_path / 'fresh' / 'i2v.db'}"  # never migrated: the log does it
    rig.settings = fal_settings(rig.fake, tmp_path / "data", database_url=url)
    jobs = [job(picture, tmp_path / f"w{i}", run_id=f"render.job-{i}") for i in range(6)]
    together = threading.Barrier(len(jobs))

    def run(request: GenerationRequest) -> Path:
        backend = FalBackend(rig.settings, client=rig.client)  # its own DbRequestLog
        together.wait()
        return backend.generate(request, ignore).path

    with ThreadPoolExecutor(len(jobs)) as pool:
        clips = list(pool.map(run, jobs))
    assert all(clip.stat().st_size for clip in clips)
    assert len(rig.submits()) == len(jobs)
    log = DbRequestLog(rig.settings)
    assert all(log.get(request.run_id) is not None for request in jobs)


@pytest.mark.parametrize(
    "fault", ["content_policy", "validation", "start_timeout", "result_retryable"]
)
def test_a_failed_request_is_forgotten_so_a_retry_submits_anew(
    rig: Rig, picture: Path, tmp_path: Path, fault: str
) -> None:
    rig.fake.next_scripts += [Script(fault=fault), Script()]
    request = job(picture, tmp_path / "w")
    with pytest.raises(FAULT_ERRORS[fault][0]):
        rig.backend().generate(request, ignore)
    assert rig.log.get(request.run_id) is None
    clip = rig.backend().generate(request, ignore)
    assert probe_video(clip.path).frames == FRAMES
    assert len(rig.submits()) == 2


def test_a_request_given_up_on_a_broken_poll_is_not_followed_again(
    rig: Rig, picture: Path, tmp_path: Path
) -> None:
    """A retryable failure while following cancels the request on fal: a retry of the same
    render must then submit anew, not follow a request that can only answer "cancelled"."""
    rig.fake.next_scripts.append(Script(queue_polls=1, run_polls=2))
    rig.transport = Flaky(lambda r: r.url.path.endswith("/status"))
    request = job(picture, tmp_path / "w")
    with pytest.raises(HostedUnavailable):
        rig.backend().generate(request, ignore)
    (given_up,) = rig.fake.requests.values()
    assert given_up.cancelled
    rig.transport = None
    clip = rig.backend().generate(request, ignore)
    assert probe_video(clip.path).frames == FRAMES
    assert len(rig.submits()) == 2


def test_a_finished_request_whose_download_broke_is_fetched_again_not_resubmitted(
    rig: Rig, picture: Path, tmp_path: Path
) -> None:
    """Its output is paid for: a retry of the render fetches it again; the error names it."""
    rig.transport = Flaky(lambda r: r.url.path.startswith("/cdn/files/out/"))
    request = job(picture, tmp_path / "w")
    with pytest.raises(HostedUnavailable) as broken:
        rig.backend().generate(request, ignore)
    (made,) = rig.fake.requests.values()
    assert broken.value.prompt_id == made.id  # the job's diagnostics name the request
    assert not made.cancelled
    checkpoint = rig.log.get(request.run_id)
    assert checkpoint is not None
    assert checkpoint.request is not None
    rig.transport = None
    clip = rig.backend().generate(request, ignore)
    assert probe_video(clip.path).frames == FRAMES
    assert len(rig.submits()) == 1


# -- routing: failover from fal --------------------------------------------------------------


def test_a_busy_fal_fails_over_to_the_local_backend(
    rig: Rig, picture: Path, tmp_path: Path
) -> None:
    db = open_database(sqlite_url(tmp_path))
    try:
        breakers = Breakers(db, threshold=3, open_s=60)
        rig.fake.next_scripts.append(Script(fault="submit_scheduling"))
        events: list[RouteEvent] = []
        request = job(picture, tmp_path / "w", KLING, size=Size(360, 640))
        result, used = run_routed(
            rig.settings,
            ("fal", "local"),
            request,
            ignore,
            breakers=breakers,
            on_route=events.append,
        )
        states = breakers.states()
    finally:
        db.dispose()
    assert used == "local"
    assert isinstance(result, FrameStream)
    assert (result.size, result.frame_count) == (request.size, request.frame_count)
    assert events[0] == RouteEvent("fal")
    assert (events[1].backend, events[1].moved_from) == ("local", "fal")
    assert events[1].reason is not None
    assert events[1].reason.startswith("hosted_unavailable: fal failed (runner_scheduling_failure)")
    assert len(events) == 2
    assert states["fal"].failures == 1
    assert "fal" in (states["fal"].last_error or "")


def test_a_refusal_does_not_fail_over(rig: Rig, picture: Path, tmp_path: Path) -> None:
    rig.fake.next_scripts.append(Script(fault="content_policy"))
    events: list[RouteEvent] = []
    with pytest.raises(ContentRefused):
        run_routed(
            rig.settings,
            ("fal", "local"),
            job(picture, tmp_path / "w", KLING),
            ignore,
            on_route=events.append,
        )
    assert events == [RouteEvent("fal")]  # another backend would be refused the same picture


def test_a_routed_job_moves_from_fal_to_comfyui(rig: Rig, picture: Path, tmp_path: Path) -> None:
    models: dict[str, list[str]] = {}
    for needed in get_workflow("wan22_i2v_14b").manifest.models:
        models.setdefault(needed.folder, []).append(needed.name)
    with FakeComfyUI(tmp_path / "comfy", installed_models=models) as comfy:
        rig.settings = fal_settings(rig.fake, tmp_path / "data", comfyui_urls=[comfy.url])
        route = plan_route(rig.settings, spec(WAN), "auto")
        assert set(route.backends) == {"fal", "comfyui"}
        rig.fake.next_scripts.append(Script(fault="submit_scheduling"))
        events: list[RouteEvent] = []
        out = tmp_path / "out.mp4"
        result = generate_video(
            picture,
            out,
            route.spec,
            rig.settings,
            ignore,
            ("fal", "comfyui"),  # fal first, as a job that prefers it plans
            run_id="render.job-2",
            on_route=events.append,
        )
        assert len(comfy.executed_prompts) == 1
    assert [(e.backend, e.moved_from) for e in events] == [("fal", None), ("comfyui", "fal")]
    assert (result.backend, result.cost_usd) == ("comfyui", Decimal(0))
    info = probe_video(out)
    assert (info.width, info.height) == (832, 480)
    assert info.fps == 24
    assert len(rig.submits()) == 1
