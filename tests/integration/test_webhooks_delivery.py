"""Webhook delivery end to end: signed POSTs to a loopback receiver, retried after a 500."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from i2v.api.app import create_app
from i2v.bootstrap import open_app
from i2v.config import load_settings
from i2v.db.engine import Database
from i2v.net.webhooks import SIGNATURE_HEADER, verify
from i2v.services import accounts

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example.jpg"
SECRET = "test-webhook-secret"


class Receiver(ThreadingHTTPServer):
    """Answers 500 to the first `failures` POSTs, then 204; keeps what it was sent."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 500 if self.server.failures > 0 else 204
        self.server.failures -= 1
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append((headers, body, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_a_finished_job_is_posted_signed_and_retried_after_a_500(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("I2V_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("I2V_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("I2V_WEBHOOK_RETRY_BASE_S", "0.2")
    monkeypatch.setenv("I2V_FETCH_ALLOW", "127.0.0.1")  # the receiver is on loopback
    settings = load_settings()
    app = open_app(settings)
    accounts.create_user(app.db, "alice")
    headers = {"Authorization": f"Bearer {accounts.create_key(app.db, 'alice').token}"}
    app.close()
    port = receiver.server_address[1]
    with TestClient(create_app(settings)) as client:
        bad = client.post(
            "/v1/jobs",
            headers=headers,
            files={"image": ("p.jpg", EXAMPLE.read_bytes(), "image/jpeg")},
            data={"size": "360x640", "duration": "3", "webhook_url": "ftp://example.com/x"},
        )
        assert bad.status_code == 422
        assert bad.json()["field"] == "webhook_url"
        job = client.post(
            "/v1/jobs",
            headers=headers,
            files={"image": ("p.jpg", EXAMPLE.read_bytes(), "image/jpeg")},
            data={
                "size": "360x640",
                "duration": "3",
                "webhook_url": f"http://127.0.0.1:{port}/hooks/i2v",
            },
        ).json()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(s == 204 for *_, s in receiver.received):
            time.sleep(0.05)
    assert [status for *_, status in receiver.received] == [500, 204]
    for sent_headers, body, _ in receiver.received:
        signature = sent_headers[SIGNATURE_HEADER.lower()]
        assert verify(SECRET.encode(), body, signature, now=int(time.time()))
        assert not verify(b"wrong", body, signature, now=int(time.time()))
        event = json.loads(body)
        assert event["event_id"] == f"{job['id']}.job.succeeded"
        assert event["type"] == "job.succeeded"
        assert event["job"]["id"] == job["id"]
        assert event["job"]["state"] == "succeeded"
    assert receiver.received[0][1] == receiver.received[1][1]  # a retry sends the same event


@pytest.fixture
def punctual() -> Iterator[Receiver]:
    server = Receiver(failures=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_the_event_stream_carries_the_webhooks_outcome_to_its_end(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, punctual: Receiver
) -> None:
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("I2V_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("I2V_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("I2V_FETCH_ALLOW", "127.0.0.1")
    settings = load_settings()
    app = open_app(settings)
    accounts.create_user(app.db, "alice")
    headers = {"Authorization": f"Bearer {accounts.create_key(app.db, 'alice').token}"}
    app.close()
    hook = f"http://127.0.0.1:{punctual.server_address[1]}/hooks/i2v"
    with TestClient(create_app(settings)) as client:
        job = client.post(
            "/v1/jobs",
            headers=headers,
            files={"image": ("p.jpg", EXAMPLE.read_bytes(), "image/jpeg")},
            data={"size": "360x640", "duration": "3", "webhook_url": hook},
        ).json()
        with client.stream("GET", f"/v1/jobs/{job['id']}/events", headers=headers) as response:
            text = response.read().decode()
    blocks = [block for block in text.split("\n\n") if "event: " in block]
    kinds = [block.split("event: ", 1)[1].split("\n", 1)[0] for block in blocks]
    assert kinds[-1] == "webhook", kinds
    outcome = json.loads(blocks[-1].split("data: ", 1)[1])
    assert outcome["delivered"] is True
    assert outcome["type"] == "job.succeeded"
    assert [status for *_, status in punctual.received] == [204]
