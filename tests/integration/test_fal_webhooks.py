"""fal's webhooks end to end: the fake signs and POSTs to a served app's /hooks/fal, which
stores each verified delivery once; FalBackend stops polling when one comes, and polling
still finishes the render when none does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from i2v.api.app import create_app
from i2v.api.gate import HOOK_BODY_BYTES
from i2v.backends.base import EncodedClip, GenerationRequest, Progress
from i2v.backends.fal.backend import FalBackend
from i2v.backends.fal.checkpoint import MemoryRequestLog
from i2v.backends.fal.client import FalClient
from i2v.backends.fal.request_log import DbRequestLog
from i2v.backends.fal.webhooks import accept
from i2v.config import Settings, load_settings, resolved_database_url
from i2v.db import fal as repo
from i2v.db.engine import Database, open_database
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import Fit
from i2v.media.image import NormalisedImage
from tests.fakes.fal import FakeFal, Script, fake_fal_fixture  # noqa: F401
from tests.fakes.fal_webhooks import Signer, delivery_body
from tests.fakes.serving import _Uvicorn
from tests.support.serve import free_port

pytestmark = pytest.mark.integration

WAN = "fal-ai/wan/v2.2-a14b/image-to-video"
KLING = "fal-ai/kling-video/v2.5-turbo/pro/image-to-video"
ARGS = {"prompt": "a slow push in", "image_url": "data:image/png;base64,AAAA"}


@dataclass
class Served:
    url: str
    settings: Settings
    db: Database

    @property
    def hook(self) -> str:
        return f"{self.url}/hooks/fal"


@dataclass
class Time:
    """A fake monotonic clock whose sleeps pass at once; `then` runs after each sleep."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    then: Callable[[], None] | None = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps.append(seconds)
        if self.then is not None:
            self.then()


def settings_for(fake: FakeFal, tmp_path: Path, **extra: object) -> Settings:
    defaults: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "database_url": f"sqlite:///{tmp_path / 'i2v.db'}",
        "fal_key": fake.key,
        "fal_queue_url": fake.url,
        "fal_rest_url": fake.url,
        "fal_jwks_url": f"{fake.url}/.well-known/jwks.json",
    }
    return load_settings(**(defaults | extra))


@pytest.fixture
def served(fake_fal: FakeFal, tmp_path: Path, cli_env: Path) -> Iterator[Served]:
    """The app (no worker) behind uvicorn on loopback, with /hooks/fal on."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_for(fake_fal, tmp_path, fal_webhook_url=f"{url}/hooks/fal")
    config = uvicorn.Config(
        create_app(settings, run_worker=False), host="127.0.0.1", port=port, log_level="warning"
    )
    server = _Uvicorn(config)
    thread = threading.Thread(target=server.run, daemon=True, name="i2v-hooks")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the app did not start"
        assert time.monotonic() < deadline, "the app did not start in time"
        time.sleep(0.01)
    db = open_database(resolved_database_url(settings), pool_size=1)
    try:
        yield Served(url, settings, db)
    finally:
        db.dispose()
        server.stop()
        thread.join(30)


def submitted(served: Served, client: FalClient, endpoint: str = WAN) -> str:
    """Submit as FalBackend does: with the hook, checkpointed under a run id."""
    log = DbRequestLog(served.settings, served.db)
    run_id = f"run-{time.monotonic_ns()}"
    log.intent(run_id, endpoint)
    request = client.submit(endpoint, ARGS, webhook_url=served.hook)
    log.submitted(run_id, request)
    return request.request_id


def poll_to_the_end(client: FalClient, request_id: str, endpoint: str = WAN) -> None:
    client.wait(client.known(endpoint, request_id), timeout_s=60)


def stored(served: Served, request_id: str) -> repo.FalDelivery | None:
    with served.db.session() as session:
        return repo.delivery(session, request_id)


@pytest.fixture
def fal(fake_fal: FakeFal) -> Iterator[FalClient]:
    with FalClient(fake_fal.key, queue_url=fake_fal.url, rest_url=fake_fal.url, poll_s=0.01) as c:
        yield c


def test_a_signed_delivery_is_stored(served: Served, fake_fal: FakeFal, fal: FalClient) -> None:
    request_id = submitted(served, fal)
    submit = next(s for s in fake_fal.seen if s.method == "POST")
    assert submit.query["fal_webhook"] == served.hook
    poll_to_the_end(fal, request_id)
    [sent] = fake_fal.webhooks(request_id)
    assert sent.status == 200
    row = stored(served, request_id)
    assert row is not None
    assert row.status == "OK"
    assert row.payload is not None
    assert row.payload["video"]["url"] == fal.result(fal.known(WAN, request_id)).video.url
    # The key set was fetched from the fake, as from fal.
    assert any(s.path == "/.well-known/jwks.json" for s in fake_fal.seen)


def test_a_failed_request_is_delivered_as_error(
    served: Served, fake_fal: FakeFal, fal: FalClient
) -> None:
    fake_fal.scripts[WAN] = Script(fault="validation")
    request_id = submitted(served, fal)
    poll_to_the_end(fal, request_id)
    assert fake_fal.webhooks(request_id)[0].status == 200
    row = stored(served, request_id)
    assert row is not None
    assert (row.status, row.error) == ("ERROR", "Invalid status code: 422")
    assert row.payload is not None
    assert row.payload["detail"][0]["type"] == "less_than_equal"


def test_a_repeated_delivery_is_stored_once_and_answered_200(
    served: Served, fake_fal: FakeFal, fal: FalClient
) -> None:
    fake_fal.scripts[WAN] = Script(webhook="duplicate")
    request_id = submitted(served, fal)
    poll_to_the_end(fal, request_id)
    first, second = fake_fal.webhooks(request_id, count=2)
    assert (first.status, second.status) == (200, 200)
    with served.db.session() as session:
        assert session.query(repo.FalDelivery).count() == 1


@pytest.mark.parametrize("fault", ["bad_signature", "stale"])
def test_a_forged_or_stale_delivery_is_refused(
    served: Served, fake_fal: FakeFal, fal: FalClient, fault: str
) -> None:
    fake_fal.scripts[WAN] = Script(webhook=fault)
    request_id = submitted(served, fal)
    poll_to_the_end(fal, request_id)
    [sent] = fake_fal.webhooks(request_id)
    assert sent.status == 401
    assert stored(served, request_id) is None
    # The same delivery again, as fal's retry would send it, answers the problem body.
    response = httpx.post(served.hook, content=sent.body, headers=sent.headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "webhook_rejected"


def test_a_delivery_for_a_request_not_submitted_here_is_acknowledged_not_stored(
    served: Served, fake_fal: FakeFal, fal: FalClient
) -> None:
    # fal signs every customer's deliveries with the same keys: a valid one may not be ours.
    request = fal.submit(WAN, ARGS, webhook_url=served.hook)
    poll_to_the_end(fal, request.request_id)
    assert fake_fal.webhooks(request.request_id)[0].status == 200
    assert stored(served, request.request_id) is None


@pytest.mark.parametrize(
    ("body", "request_id"),
    [
        (b"not json", "req-1"),
        (b'{"request_id": "req-1", "status": "MAYBE"}', "req-1"),
        (delivery_body("req-2", payload={}), "req-1"),  # not the id the headers sign
    ],
)
def test_a_malformed_body_with_a_valid_signature_is_422(
    served: Served, fake_fal: FakeFal, body: bytes, request_id: str
) -> None:
    headers = fake_fal.signer.headers(request_id, body)
    response = httpx.post(served.hook, content=body, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_no_signature_and_oversized_bodies_are_refused(served: Served) -> None:
    response = httpx.post(served.hook, json={"request_id": "r", "status": "OK"})
    assert response.status_code == 401
    assert response.json()["code"] == "webhook_rejected"
    big = b"x" * (HOOK_BODY_BYTES + 1)
    for kind in ("application/json", "multipart/form-data; boundary=x"):
        response = httpx.post(served.hook, content=big, headers={"Content-Type": kind})
        assert response.status_code == 413
    # No API key is asked for, and /v1 still wants one.
    assert httpx.get(f"{served.url}/v1/jobs").status_code == 401


def test_without_the_setting_the_route_is_missing(
    fake_fal: FakeFal, tmp_path: Path, cli_env: Path
) -> None:
    with TestClient(create_app(settings_for(fake_fal, tmp_path), run_worker=False)) as client:
        for method in ("POST", "GET"):
            response = client.request(method, "/hooks/fal", content=b"{}")
            assert response.status_code == 404
            assert response.json()["code"] == "not_found"


def test_unreachable_keys_answer_503_so_fal_retries(
    fake_fal: FakeFal, tmp_path: Path, cli_env: Path
) -> None:
    settings = settings_for(
        fake_fal,
        tmp_path,
        fal_webhook_url="https://i2v.example/hooks/fal",
        fal_jwks_url=f"http://127.0.0.1:{free_port()}/jwks.json",
    )
    body = delivery_body("req-1", payload={})
    with TestClient(create_app(settings, run_worker=False)) as client:
        response = client.post(
            "/hooks/fal", content=body, headers=fake_fal.signer.headers("req-1", body)
        )
        operation = client.get("/openapi.json").json()["paths"]["/hooks/fal"]["post"]
    assert response.status_code == 503
    assert response.json()["code"] == "hosted_unavailable"
    # The document tells the truth: a body (so a 413), and no API key asked for.
    assert {"200", "401", "413", "422", "503"} <= set(operation["responses"])
    assert "security" not in operation


class OneKey:
    def __init__(self, signer: Signer) -> None:
        self.keys = [signer.key.public_key()]

    def current(self) -> list[Ed25519PublicKey]:
        return self.keys

    def refresh(self) -> bool:
        return False


def test_accept_stores_once_on_each_database(db: Database) -> None:
    signer, now = Signer(), 1_800_000_000
    with db.session() as session:
        repo.write_intent(session, "run-1", WAN)
        repo.write_submitted(session, "run-1", "req-1", "s", "r", "c")
    # NUL in text is what PostgreSQL refuses; the delivery is kept without it.
    raw = {"request_id": "req-1", "status": "ERROR", "payload": {"x": "a\x00"}, "error": "b\x00"}
    body = json.dumps(raw).encode()
    headers = signer.headers("req-1", body, timestamp=now)
    first = accept(db, OneKey(signer), headers, body, now=now)
    again = accept(db, OneKey(signer), headers, body, now=now + 60)
    assert (first.stored, again.stored) == (True, False)
    other = delivery_body("req-9", payload={})
    elsewhere = accept(
        db, OneKey(signer), signer.headers("req-9", other, timestamp=now), other, now=now
    )
    assert not elsewhere.stored
    with db.session() as session:
        row = repo.delivery(session, "req-1")
        assert row is not None
        assert (row.status, row.payload, row.error) == ("ERROR", None, "b")
        assert repo.delivery(session, "req-9") is None


# -- FalBackend ---------------------------------------------------------------------------


def generation(tmp_path: Path) -> GenerationRequest:
    rgb = np.full((72, 128, 3), 120, np.uint8)
    return GenerationRequest(
        image=NormalisedImage(rgb, "JPEG", "RGB", (128, 72)),
        prompt="a slow push in",
        seed=0,
        size=Size(1280, 720),
        fps=24,
        frame_count=120,
        motion=Motion.ZOOM_IN,
        intensity=Intensity.NORMAL,
        fit=Fit.COVER,
        workflow=None,
        workdir=tmp_path,
        run_id=f"render-{time.monotonic_ns()}",
        model="kling-2.5-turbo-pro",
        duration_s=5.0,
    )


def render(served: Served, clock: Time, tmp_path: Path) -> list[Progress]:
    settings = served.settings
    backend = FalBackend(
        settings,
        client=lambda: FalClient.from_settings(settings, clock=clock.clock, sleep=clock.sleep),
    )
    events: list[Progress] = []
    clip = backend.generate(generation(tmp_path), events.append)
    assert isinstance(clip, EncodedClip)
    assert clip.path.stat().st_size > 0
    return events


def status_polls(fake: FakeFal) -> int:
    return sum(1 for s in fake.seen if s.method == "GET" and s.path.endswith("/status"))


def test_the_backend_stops_polling_when_the_webhook_comes(
    served: Served, fake_fal: FakeFal, tmp_path: Path
) -> None:
    fake_fal.scripts[KLING] = Script(queue_polls=1, run_polls=1000)  # polls alone: hours
    clock = Time()

    def fal_finishes() -> None:
        if len(clock.sleeps) == 3:
            [request_id] = fake_fal.requests
            [sent] = fake_fal.finish(request_id)
            assert sent.status == 200

    clock.then = fal_finishes
    render(served, clock, tmp_path)
    [request] = fake_fal.requests.values()
    submit = next(s for s in fake_fal.seen if s.method == "POST" and "kling" in s.path)
    assert submit.query["fal_webhook"] == served.hook
    # One status at the start, one when the delivery is seen at the next 1 s check.
    assert status_polls(fake_fal) == 2
    assert clock.sleeps == [1.0] * 3
    assert stored(served, request.id) is not None


def test_a_lost_webhook_only_costs_time(served: Served, fake_fal: FakeFal, tmp_path: Path) -> None:
    fake_fal.scripts[KLING] = Script(queue_polls=1, run_polls=2, webhook="lost")
    clock = Time()
    events = render(served, clock, tmp_path)
    [request] = fake_fal.requests.values()
    assert stored(served, request.id) is None
    assert fake_fal.sent == []
    # The status every I2V_FAL_WEBHOOK_POLL_S (10 s), the database every second between.
    assert status_polls(fake_fal) == 4
    assert clock.sleeps == [1.0] * 30
    # Progress is still told every second, where the job checks for a cancel.
    assert len(events) >= 31


def test_without_a_webhook_url_the_backend_polls_as_before(
    fake_fal: FakeFal, tmp_path: Path, cli_env: Path
) -> None:
    settings = settings_for(fake_fal, tmp_path)
    fake_fal.scripts[KLING] = Script(queue_polls=1, run_polls=2)
    clock = Time()
    backend = FalBackend(
        settings,
        log=MemoryRequestLog(),
        client=lambda: FalClient.from_settings(settings, clock=clock.clock, sleep=clock.sleep),
    )
    backend.generate(generation(tmp_path), lambda _p: None)
    submit = next(s for s in fake_fal.seen if s.method == "POST" and "kling" in s.path)
    assert "fal_webhook" not in submit.query
    assert status_polls(fake_fal) == 4
    assert clock.sleeps == [1.0] * 3
    assert json.loads(submit.body)["prompt"] == "a slow push in"
