"""A fake fal.ai for tests: the queue, storage and CDN on loopback, with injectable faults.

Built from fal's own client (fal-ai/fal `fal_client/client.py`, fal-js `queue.ts`/`storage.ts`)
and its docs (inference-api queue, errors, request-errors, media expiration):

- ``POST /{endpoint_id}`` answers ``{request_id, response_url, status_url, cancel_url,
  queue_position}``; those URLs use only ``owner/app`` of the endpoint id (a sub-path such as
  ``/image-to-video`` is dropped), and point back at this fake.
- ``GET .../requests/{id}/status[?logs=1]`` answers 202 while IN_QUEUE (with
  ``queue_position``) or IN_PROGRESS, 200 once COMPLETED; a failed request is COMPLETED with
  ``error`` and ``error_type``. ``GET .../requests/{id}`` is the result, or the failure's own
  status and body. ``PUT .../requests/{id}/cancel`` answers 202 CANCELLATION_REQUESTED,
  400 ALREADY_COMPLETED or 404.
- ``POST /storage/auth/token?storage_type=fal-cdn-v3`` grants a token for ``POST
  {base_url}/files/upload``, which answers ``{access_url}``; files are served under ``/cdn/``.
- A submit with ``?fal_webhook=URL`` gets a signed delivery POSTed to URL once the request
  completes (`fal_webhooks.py`): OK with the result body, or ERROR with "Invalid status code:
  N" and the failure's body; none for a cancelled request. ``GET /.well-known/jwks.json``
  serves the public key; ``Script.webhook`` picks a delivery fault, ``finish(id)`` ends a
  request at once, without polls, and delivers its webhook before it returns.

A request advances one step per status poll (``Script``), so tests need no real waiting.
Outputs are real H.264 MP4s at the endpoint's native size and frame rate.

    with FakeFal() as fake:
        client = FalClient(fake.key, queue_url=fake.url, rest_url=fake.url)
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import anyio
import av
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.fal_webhooks import WEBHOOK_FAULTS, Sent, Signer, deliver, delivery_body
from tests.fakes.serving import Served, free_port

Json = dict[str, Any]
# Native output (width, height, fps) per endpoint family: Wan 832x480 at 16 fps, Kling 24 fps,
# LTX-2 1080p 16:9 at its default 25 fps, Veo 3.1 720p at 24 fps (their manifests). fal states
# none for Hailuo, which gets the default.
NATIVE = {
    "fal-ai/wan": (832, 480, 16),
    "fal-ai/wan-i2v": (832, 480, 16),
    "fal-ai/kling-video": (1280, 720, 24),
    "fal-ai/ltx-2": (1920, 1080, 25),
    "fal-ai/veo3.1": (1280, 720, 24),
}
DEFAULT_NATIVE = (832, 480, 16)
FRAMES = 8

# Every fault a Script can carry. The error bodies are fal's documented ones.
FAULTS = frozenset(
    {
        "submit_scheduling",  # submit: 503 runner_scheduling_failure
        "submit_rate_limited",  # submit: 429 with Retry-After
        "submit_malformed",  # submit: 200 with an HTML body
        "submit_bad_gateway",  # submit: nginx's 502 HTML page
        "content_policy",  # completes failed; result 422 content_policy_violation
        "validation",  # accepted and run, then result 422 with a validation detail
        "start_timeout",  # never starts; result 504 X-Fal-Request-Timeout-Type: user
        "startup_timeout",  # the runner did not boot; result 504 startup_timeout
        "stuck",  # IN_PROGRESS for ever
        "result_500",  # result: 500 without a retry hint
        "result_retryable",  # result: 500 with X-Fal-Retryable: true
        "status_malformed",  # status: 200 with a body that is not JSON
        "cdn_expired",  # the output link answers 404
        "cdn_forbidden",  # the output link answers 403
    }
)
VALIDATION_DETAIL = [
    {
        "loc": ["body", "num_frames"],
        "msg": "Input should be less than or equal to 161",
        "type": "less_than_equal",
        "input": 400,
        "ctx": {"le": 161},
    }
]
CONTENT_POLICY_DETAIL = [
    {
        "loc": ["body", "image_url"],
        "msg": "The content could not be processed because it contained material flagged by "
        "a content checker.",
        "type": "content_policy_violation",
        "url": "https://docs.fal.ai/errors#content_policy_violation",
        "input": "https://example.invalid/picture.png",
        "categories": ["violence"],
    }
]


@dataclass
class Script:
    """How one request behaves, poll by poll."""

    queue_polls: int = 1  # status polls answered IN_QUEUE, position counting down to 0
    run_polls: int = 2  # polls answered IN_PROGRESS, one more log line each
    fault: str | None = None
    webhook: str | None = None  # a delivery fault: bad_signature, stale, duplicate, lost
    # "adult": the clip shows a figure the content policy's classifier rates X, as a model
    # whose own checker let something through would answer.
    output: str | None = None

    def __post_init__(self) -> None:
        if self.output not in (None, "adult"):
            raise ValueError(f"unknown output {self.output!r}")
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}")
        if self.webhook is not None and self.webhook not in WEBHOOK_FAULTS:
            raise ValueError(f"unknown webhook fault {self.webhook!r}")


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class _Request:
    id: str
    endpoint_id: str
    owner_app: str
    arguments: Json
    script: Script
    polls: int = 0
    cancelled: bool = False
    output: str | None = None  # CDN path of the video, once made
    webhook_url: str | None = None
    finished: bool = False  # ended by FakeFal.finish, whatever the polls
    hooked: bool = False  # its delivery was made (or deliberately lost)

    @property
    def state(self) -> str:
        if self.cancelled or self.finished:
            return "COMPLETED"
        if self.script.fault == "stuck":
            return "IN_QUEUE" if self.polls <= self.script.queue_polls else "IN_PROGRESS"
        if self.polls <= self.script.queue_polls:
            return "IN_QUEUE"
        if self.polls <= self.script.queue_polls + self.script.run_polls:
            return "IN_PROGRESS"
        return "COMPLETED"

    @property
    def failure(self) -> tuple[int, Json, dict[str, str]] | None:
        """(status, body, headers) of the result call when the request failed."""
        fault = self.script.fault
        if self.cancelled:
            return 400, {"detail": "Request was cancelled"}, {}
        if fault == "content_policy":
            return 422, {"detail": CONTENT_POLICY_DETAIL}, {"X-Fal-Retryable": "false"}
        if fault == "validation":
            return 422, {"detail": VALIDATION_DETAIL}, {}
        if fault == "start_timeout":
            body = {"detail": "Request timed out", "error_type": "request_timeout"}
            return 504, body, {"X-Fal-Request-Timeout-Type": "user"} | _type("request_timeout")
        if fault == "startup_timeout":
            body = {"detail": "Runner failed to start in time", "error_type": "startup_timeout"}
            return 504, body, _type("startup_timeout")
        if fault == "result_500":
            return 500, {"detail": "Internal Server Error"}, {}
        if fault == "result_retryable":
            return 500, {"detail": "Runner crashed"}, {"X-Fal-Retryable": "true"}
        return None


def _type(error_type: str) -> dict[str, str]:
    return {"X-Fal-Error-Type": error_type}


SOUND_RATE = 44_100  # not the platforms' 48 kHz: publishing must resample it


def make_mp4(
    width: int,
    height: int,
    fps: int,
    frames: int = FRAMES,
    sound: bool = False,
    adult: bool = False,
) -> bytes:
    """A real, tiny H.264 MP4: a gradient that moves, `frames` frames at `fps`; with `sound`,
    a mono AAC tone as long as the video, as a model that makes audio answers; with `adult`,
    every frame shows tests/support/flagged.py's figure instead."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        audio = container.add_stream("aac", rate=SOUND_RATE) if sound else None
        if audio is not None:
            audio.codec_context.layout = "mono"
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        ramp = np.linspace(0, 255, width, dtype=np.uint8)
        flagged = _flagged(width, height) if adult else None
        for index in range(frames):
            row = np.roll(ramp, index * 8)
            rgb = np.repeat(np.repeat(row[None, :, None], height, 0), 3, 2)
            if flagged is not None:
                rgb = flagged
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio is not None:
            samples = round(SOUND_RATE * frames / fps)
            tone = np.sin(np.arange(samples) * 2 * np.pi * 440 / SOUND_RATE).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(tone[None, :], format="fltp", layout="mono")
            frame.sample_rate = SOUND_RATE
            for packet in audio.encode(frame):
                container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    return buffer.getvalue()


def _flagged(width: int, height: int) -> np.ndarray:
    from PIL import Image

    from tests.support.flagged import figure

    side = min(width, height)
    canvas = np.full((height, width, 3), (120, 120, 126), np.uint8)
    picture = np.asarray(Image.fromarray(figure(512)).resize((side, side)))
    top, left = (height - side) // 2, (width - side) // 2
    canvas[top : top + side, left : left + side] = picture
    return canvas


class FakeFal:
    """fal's queue, storage and CDN on 127.0.0.1 (uvicorn in a thread)."""

    def __init__(self, *, key: str = "fake-key-id:fake-key-secret") -> None:
        self.key = key
        self.port = free_port()
        self.scripts: dict[str, Script] = {}  # per endpoint id
        self.next_scripts: list[Script] = []  # per request, in submit order; before the above
        self.seen: list[Seen] = []
        self.requests: dict[str, _Request] = {}
        self.files: dict[str, tuple[bytes, str]] = {}  # CDN path -> (bytes, content type)
        self.cdn_status: dict[str, int] = {}  # CDN path -> the status it answers instead
        self.uploads: list[Seen] = []
        # Crash tests: a submit queues its request, then answers only once this is set; the
        # CDN answers each download this much later.
        self.submit_gate: threading.Event | None = None
        self.cdn_delay_s = 0.0
        self.signer = Signer()
        self.sent: list[Sent] = []  # webhook POSTs made, in order
        self._sent_changed = threading.Condition()
        self._tokens: set[str] = set()
        self._videos: dict[tuple[int, int, int, bool, bool], bytes] = {}
        self._lock = threading.Lock()
        self._served: Served | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeFal:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/.well-known/jwks.json", self._jwks, methods=["GET"]),
                Route("/storage/auth/token", self._token, methods=["POST"]),
                Route("/cdn/files/upload", self._upload, methods=["POST"]),
                Route("/cdn/files/{path:path}", self._cdn, methods=["GET"]),
                Route("/{owner}/{app}/requests/{id}/status", self._status, methods=["GET"]),
                Route("/{owner}/{app}/requests/{id}/cancel", self._cancel, methods=["PUT"]),
                Route("/{owner}/{app}/requests/{id}", self._result, methods=["GET"]),
                Route("/{endpoint:path}", self._submit, methods=["POST"]),
            ]
        )
        self._served = Served(app, self.port, "fake fal")
        self._served.start()

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
        self._served = None

    def video(self, endpoint_id: str, sound: bool = False, adult: bool = False) -> bytes:
        owner_app = "/".join(endpoint_id.split("/")[:2])
        size = NATIVE.get(endpoint_id) or NATIVE.get(owner_app) or DEFAULT_NATIVE
        key = (*size, sound, adult)
        with self._lock:
            if key not in self._videos:
                self._videos[key] = make_mp4(*size, sound=sound, adult=adult)
            return self._videos[key]

    # -- plumbing ------------------------------------------------------------------------

    async def _record(self, request: Request) -> Seen:
        seen = Seen(
            request.method,
            request.url.path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
        )
        with self._lock:
            self.seen.append(seen)
        return seen

    def _authorized(self, seen: Seen) -> bool:
        return seen.headers.get("authorization") == f"Key {self.key}"

    @staticmethod
    def _unauthorized() -> JSONResponse:
        return JSONResponse({"detail": "No user found for Key ID and Secret"}, status_code=401)

    def _find(self, request: Request) -> _Request | None:
        found = self.requests.get(request.path_params["id"])
        owner_app = f"{request.path_params['owner']}/{request.path_params['app']}"
        return found if found is not None and found.owner_app == owner_app else None

    # -- queue ---------------------------------------------------------------------------

    async def _submit(self, request: Request) -> Response:
        seen = await self._record(request)
        if not self._authorized(seen):
            return self._unauthorized()
        endpoint_id = request.path_params["endpoint"].strip("/")
        if endpoint_id.count("/") < 1:
            return JSONResponse({"detail": "Application not found"}, status_code=404)
        try:
            arguments = json.loads(seen.body or b"{}")
        except ValueError:
            return JSONResponse({"detail": "Invalid JSON body"}, status_code=400)
        with self._lock:
            script = (
                self.next_scripts.pop(0)
                if self.next_scripts
                else self.scripts.get(endpoint_id, Script())
            )
        if script.fault == "submit_scheduling":
            body = {
                "detail": "Failed to schedule a runner",
                "error_type": "runner_scheduling_failure",
            }
            return JSONResponse(body, status_code=503, headers=_type("runner_scheduling_failure"))
        if script.fault == "submit_rate_limited":
            return JSONResponse(
                {"detail": "Too many requests"}, status_code=429, headers={"Retry-After": "7"}
            )
        if script.fault == "submit_bad_gateway":
            page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            return Response(page, status_code=502, media_type="text/html")
        if script.fault == "submit_malformed":
            return Response("<html><body>oops</body></html>", media_type="text/html")
        request_id = secrets.token_hex(16)
        owner_app = "/".join(endpoint_id.split("/")[:2])
        entry = _Request(request_id, endpoint_id, owner_app, arguments, script)
        entry.webhook_url = seen.query.get("fal_webhook")
        with self._lock:
            self.requests[request_id] = entry
            position = sum(1 for r in self.requests.values() if r.state == "IN_QUEUE") - 1
        base = f"{self.url}/{owner_app}/requests/{request_id}"
        gate = self.submit_gate
        while gate is not None and not gate.is_set():
            await anyio.sleep(0.01)  # queued (and billed) on fal; the answer is still to come
        return JSONResponse(
            {
                "request_id": request_id,
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
                "queue_position": position,
            }
        )

    async def _status(self, request: Request) -> Response:
        seen = await self._record(request)
        if not self._authorized(seen):
            return self._unauthorized()
        entry = self._find(request)
        if entry is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if entry.script.fault == "status_malformed":
            return Response("upstream connect error", status_code=200, media_type="text/plain")
        with self._lock:
            entry.polls += 1
            state = entry.state
        if state == "COMPLETED":
            self._hook_later(entry)
        script = entry.script
        response_url = f"{self.url}/{entry.owner_app}/requests/{entry.id}"
        body: Json = {"status": state, "request_id": entry.id, "response_url": response_url}
        if state == "IN_QUEUE":
            body["queue_position"] = max(script.queue_polls - entry.polls, 0)
        if state != "IN_QUEUE" and seen.query.get("logs") in ("1", "true"):
            steps = min(entry.polls - script.queue_polls, max(script.run_polls, 1))
            body["logs"] = [
                {
                    "message": f"step {n}/{max(script.run_polls, 1)}",
                    "level": "INFO",
                    "source": "USER",
                    "timestamp": "2026-12-04T12:00:00.000000",
                }
                for n in range(1, steps + 1)
            ]
        if state == "COMPLETED":
            body["metrics"] = {"inference_time": 1.5}
            failure = entry.failure
            if failure is not None:
                body["error"] = str(failure[1].get("detail"))[:200]
                body["error_type"] = failure[1].get("error_type") or (
                    failure[1]["detail"][0]["type"]
                    if isinstance(failure[1]["detail"], list)
                    else None
                )
        return JSONResponse(body, status_code=200 if state == "COMPLETED" else 202)

    async def _result(self, request: Request) -> Response:
        seen = await self._record(request)
        if not self._authorized(seen):
            return self._unauthorized()
        entry = self._find(request)
        if entry is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if entry.state != "COMPLETED":
            return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
        failure = entry.failure
        if failure is not None:
            status, body, headers = failure
            return JSONResponse(body, status_code=status, headers=headers)
        return JSONResponse(self._output(entry))

    def _output(self, entry: _Request) -> Json:
        """The result body of a request that succeeded; its video is stored on first use."""
        # Endpoints that make sound take it as generate_audio (Veo 3.1, Kling 2.6, LTX-2).
        data = self.video(
            entry.endpoint_id,
            sound=entry.arguments.get("generate_audio") is True,
            adult=entry.script.output == "adult",
        )
        width, height, fps = (
            NATIVE.get(entry.endpoint_id) or NATIVE.get(entry.owner_app) or DEFAULT_NATIVE
        )
        with self._lock:
            if entry.output is None:
                entry.output = f"files/out/{entry.id}/output.mp4"
                self.files[entry.output] = (data, "video/mp4")
                if entry.script.fault in ("cdn_expired", "cdn_forbidden"):
                    self.cdn_status[entry.output] = (
                        404 if entry.script.fault == "cdn_expired" else 403
                    )
        video = {
            "url": f"{self.url}/cdn/{entry.output}",
            "content_type": "video/mp4",
            "file_name": "output.mp4",
            "file_size": len(data),
            "width": width,
            "height": height,
            "fps": fps,
            "duration": FRAMES / fps,
            "num_frames": FRAMES,
        }
        return {"video": video, "seed": 42}

    async def _cancel(self, request: Request) -> Response:
        seen = await self._record(request)
        if not self._authorized(seen):
            return self._unauthorized()
        entry = self._find(request)
        if entry is None:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        with self._lock:
            if entry.state == "COMPLETED":
                return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
            entry.cancelled = True
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    # -- webhooks ------------------------------------------------------------------------

    async def _jwks(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse(self.signer.jwks())

    def finish(self, request_id: str) -> list[Sent]:
        """End a request now, as if its last poll had passed, and deliver its webhook."""
        entry = self.requests[request_id]
        with self._lock:
            entry.finished = True
        return self._hook(entry)

    def webhooks(self, request_id: str, count: int = 1, timeout_s: float = 10) -> list[Sent]:
        """The deliveries made for a request, once `count` of them were made."""
        deadline = time.monotonic() + timeout_s
        with self._sent_changed:
            while True:
                made = [s for s in self.sent if s.request_id == request_id]
                if len(made) >= count:
                    return made
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(made)} of {count} webhooks for {request_id}")
                self._sent_changed.wait(left)

    def _hook_later(self, entry: _Request) -> None:
        # Off the event loop: the receiver may be slow, and the status answer must not wait.
        threading.Thread(target=self._hook, args=(entry,), daemon=True).start()

    def _hook(self, entry: _Request) -> list[Sent]:
        with self._lock:
            if entry.hooked or entry.webhook_url is None or entry.cancelled:
                return []
            entry.hooked = True
        failure = entry.failure
        if failure is None:
            body = delivery_body(entry.id, payload=self._output(entry))
        else:
            status, payload, _ = failure
            body = delivery_body(entry.id, payload=payload, error=f"Invalid status code: {status}")
        sent = deliver(self.signer, entry.webhook_url, entry.id, body, entry.script.webhook)
        with self._sent_changed:
            self.sent.extend(sent)
            self._sent_changed.notify_all()
        return sent

    # -- storage and CDN -----------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        seen = await self._record(request)
        if not self._authorized(seen):
            return self._unauthorized()
        if seen.query.get("storage_type") != "fal-cdn-v3":
            return JSONResponse({"detail": "Invalid storage type"}, status_code=400)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
        return JSONResponse(
            {
                "token": token,
                "token_type": "Bearer",
                "base_url": f"{self.url}/cdn",
                "created_at": "2026-12-04T12:00:00.000000+00:00",
                "expires_at": "2027-01-03T12:00:00.000000+00:00",
            }
        )

    async def _upload(self, request: Request) -> Response:
        seen = await self._record(request)
        scheme, _, token = seen.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self._tokens:
            return JSONResponse({"detail": "Invalid token"}, status_code=401)
        name = seen.headers.get("x-fal-file-name") or "file.bin"
        path = f"files/b/{secrets.token_hex(4)}/{secrets.token_urlsafe(12)}_{name}"
        with self._lock:
            self.files[path] = (seen.body, seen.headers.get("content-type", ""))
            self.uploads.append(seen)
        return JSONResponse({"access_url": f"{self.url}/cdn/{path}", "uploaded": True})

    async def _cdn(self, request: Request) -> Response:
        await self._record(request)  # tests check that no key went to the CDN
        path = f"files/{request.path_params['path']}"
        waited = 0.0
        while waited < self.cdn_delay_s:  # re-read: a test ends the delay by setting it to 0
            await anyio.sleep(0.01)
            waited += 0.01
        status = self.cdn_status.get(path)
        if status is not None:
            return Response("<Error><Code>AccessDenied</Code></Error>", status_code=status)
        if path not in self.files:
            return Response("Not Found", status_code=404)
        data, content_type = self.files[path]
        return Response(data, media_type=content_type)


@pytest.fixture(name="fake_fal")
def fake_fal_fixture() -> Iterator[FakeFal]:
    with FakeFal() as fake:
        yield fake
