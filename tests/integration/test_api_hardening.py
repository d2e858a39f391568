"""The API's edge, on SQLite and PostgreSQL: keys before bodies, capped bodies, 4xx for bad input.

Every error is problem+json, the framework's own included, and nobody without the admin role
can tell an admin route from a missing one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from i2v.db.engine import Database
from tests.support.api import EXAMPLE, QUICK, Api, running_api

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


@pytest.fixture
def api(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    with running_api(db, tmp_path, monkeypatch, env={"I2V_MAX_JSON_KB": "16"}) as running:
        yield running


def _problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


# -- authentication comes before the body ---------------------------------------------------


def test_an_admin_route_refuses_a_caller_with_no_key_before_parsing_the_body(api: Api) -> None:
    malformed = api.client.post(
        "/v1/fleet/instances", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    _problem(malformed, 401, "unauthenticated")
    big = b'{"workflow": "' + b"x" * (64 * 1024) + b'"}'  # over the JSON cap, and no key
    _problem(
        api.client.post(
            "/v1/fleet/instances", content=big, headers={"Content-Type": "application/json"}
        ),
        401,
        "unauthenticated",
    )


def test_a_non_admin_cannot_tell_an_admin_route_from_a_missing_one(api: Api) -> None:
    def answers(who: dict[str, str], body: bytes) -> set[tuple[int, str, bytes, str]]:
        """Every answer to `body` sent to admin and missing paths, headers and all."""
        seen = set()
        for method, path in [
            ("POST", "/v1/fleet/instances"),
            ("GET", "/v1/admin/users"),
            ("DELETE", "/v1/admin/users"),  # a wrong method, on a real admin route
            ("GET", "/v1/fleet/nothing-here"),
            ("GET", "/v1/no-such-route"),
            ("POST", "/v1/no-such-route"),
        ]:
            headers = {**who, "Content-Type": "application/json"}
            response = api.client.request(method, path, content=body, headers=headers)
            lines = sorted(f"{k}: {v}" for k, v in response.headers.items() if k != "date")
            kind = response.headers["content-type"]
            seen.add((response.status_code, kind, response.content, "; ".join(lines)))
        return seen

    for body in (b"", b"{not json", b'{"workflow": "wan"}'):
        refused = answers(api.alice, body)
        assert len(refused) == 1, refused
        status, kind, content, _ = refused.pop()
        assert (status, kind) == (404, PROBLEM)
        assert b'"code":"not_found"' in content
        anonymous = answers({}, body)
        assert len(anonymous) == 1, anonymous
        assert next(iter(anonymous))[:2] == (401, PROBLEM)
    # The admin sees the real routes.
    assert api.client.get("/v1/admin/users", headers=api.admin).status_code == 200
    _problem(api.client.get("/v1/no-such-route", headers=api.admin), 404, "not_found")


# -- bodies are capped as they arrive ------------------------------------------------------


def test_a_json_body_over_the_cap_is_refused_declared_or_chunked(api: Api) -> None:
    body = b'{"image_url": "http://x.test/a.jpg", "prompt": "' + b"p" * (20 * 1024) + b'"}'
    headers = {**api.alice, "Content-Type": "application/json"}
    declared = api.client.post("/v1/jobs", content=body, headers=headers)
    assert _problem(declared, 413, "body_too_large")["detail"].endswith("16384 bytes")

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    chunked = api.client.post("/v1/jobs", content=chunks(), headers=headers)
    _problem(chunked, 413, "body_too_large")
    admin = {**api.admin, "Content-Type": "application/json"}
    launch = b'{"workflow": "' + b"w" * (20 * 1024) + b'"}'
    _problem(api.client.post("/v1/fleet/instances", content=launch, headers=admin), 413)


def test_a_chunked_upload_over_the_cap_is_refused(api: Api) -> None:
    """In-process the client sends the whole body; test_serve_limits measures the streaming."""
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(2 * 1024):  # 2 MB against a 1 MB cap
            yield b"\0" * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    response = api.client.post(
        "/v1/jobs",
        content=body(),
        headers={**api.alice, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    _problem(response, 413, "upload_too_large")


def test_multipart_parse_errors_and_limits_are_problems(api: Api) -> None:
    four_files = api.client.post(  # the image, an end image and music at most
        "/v1/jobs",
        headers=api.alice,
        files=[
            ("image", ("a.jpg", b"a", "image/jpeg")),
            ("end_image", ("b.jpg", b"b", "image/jpeg")),
            ("audio", ("c.mp3", b"c", "audio/mpeg")),
            ("other", ("d.jpg", b"d", "image/jpeg")),
        ],
    )
    assert "Too many files" in _problem(four_files, 400, "bad_request")["detail"]
    garbled = api.client.post(
        "/v1/jobs",
        content=b"--x\r\nno headers here",
        headers={**api.alice, "Content-Type": "multipart/form-data"},  # no boundary
    )
    _problem(garbled, 400, "bad_request")


# -- bad input is a 4xx, never a 500 -------------------------------------------------------


def test_event_ids_past_64_bits_are_refused(api: Api) -> None:
    job = api.submit(api.alice)
    url = f"/v1/jobs/{job['id']}/events"
    _problem(api.client.get(f"{url}?after={2**63}", headers=api.alice), 422, "invalid_request")
    header = {**api.alice, "Last-Event-ID": str(2**63)}
    assert _problem(api.client.get(url, headers=header), 422)["field"] == "Last-Event-ID"
    largest = api.client.get(f"/v1/jobs/job_0/events?after={2**63 - 1}", headers=api.alice)
    _problem(largest, 404, "not_found")  # the largest id is a valid one: looked up, not refused


def test_deeply_nested_json_is_a_client_error(api: Api) -> None:
    nested = b"[" * 5000 + b"]" * 5000
    headers = {**api.alice, "Content-Type": "application/json"}
    _problem(api.client.post("/v1/jobs", content=nested, headers=headers), 422)
    admin = {**api.admin, "Content-Type": "application/json"}
    deep = b'{"workflow": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = api.client.post("/v1/fleet/instances", content=deep, headers=admin)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == PROBLEM


@pytest.fixture
def origin() -> Iterator[tuple[str, list[str]]]:
    """A server with an image, a 404, a redirect loop and a 302 without Location; logs paths."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            if self.path == "/photo.jpg":
                body = EXAMPLE.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
            elif self.path == "/nowhere":
                self.send_response(302)
            else:
                self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def _allow_loopback(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    services = api.client.app.state.services  # type: ignore[attr-defined]
    monkeypatch.setattr(services.app.settings, "fetch_allow", ["127.0.0.1"])


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/missing.jpg", "answered 404"),
        ("/loop", "too many redirects"),
        ("/nowhere", "without a Location"),
    ],
)
def test_an_image_url_that_cannot_be_fetched_is_a_422(
    api: Api,
    origin: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    words: str,
) -> None:
    _allow_loopback(api, monkeypatch)
    base, _ = origin
    response = api.client.post("/v1/jobs", headers=api.alice, json={"image_url": base + path})
    assert words in _problem(response, 422, "fetch_failed")["detail"]


def test_an_image_url_whose_host_does_not_resolve_is_a_422(api: Api) -> None:
    body = {"image_url": "http://no-such-host.invalid/a.jpg"}
    response = api.client.post("/v1/jobs", headers=api.alice, json=body)
    _problem(response, 422, "fetch_failed")


def test_parameters_are_checked_before_the_image_url_is_fetched(
    api: Api, origin: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _allow_loopback(api, monkeypatch)
    base, hits = origin
    for bad in ({"duration": 1}, {"fps": 500}, {"backend": "comfyui"}, {"webhook_url": "x"}):
        body = {"image_url": f"{base}/photo.jpg", **QUICK, **bad}
        response = api.client.post("/v1/jobs", headers=api.alice, json=body)
        _problem(response, 422)
    assert hits == []
    good = api.client.post(
        "/v1/jobs", headers=api.alice, json={"image_url": f"{base}/photo.jpg", **QUICK}
    )
    assert good.status_code == 201, good.text
    assert hits == ["/photo.jpg"]


# -- the framework's answers are problems too ----------------------------------------------


def test_a_wrong_method_is_a_problem_with_every_allowed_method(api: Api) -> None:
    response = api.client.options("/v1/jobs/job_0", headers=api.alice)
    _problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "DELETE, GET"
    put = api.client.put("/v1/jobs", headers=api.alice)
    _problem(put, 405)
    assert put.headers["allow"] == "GET, POST"


def test_unknown_routes_are_problems(api: Api) -> None:
    # Outside /v1 (and /hooks, health, metrics, docs) paths are the dashboard's: test_web.
    _problem(api.client.get("/v1/nothing", headers=api.alice), 404, "not_found")
    _problem(api.client.get("/hooks/nothing"), 404, "not_found")
    _problem(api.client.get("/v1/jobs/job_0/nothing", headers=api.alice), 404, "not_found")


# -- refuse early ---------------------------------------------------------------------------


def test_comfyui_with_no_server_and_the_fleet_off_is_refused_at_submission(api: Api) -> None:
    response = api.client.post(
        "/v1/jobs",
        headers=api.alice,
        files={"image": ("photo.jpg", EXAMPLE.read_bytes(), "image/jpeg")},
        data={**QUICK, "backend": "comfyui", "duration": "4"},
    )
    body = _problem(response, 422, "backend_unavailable")
    assert body["field"] == "backend"
    assert "I2V_COMFYUI_URLS" in body["detail"]
    assert api.client.get("/v1/jobs", headers=api.alice).json()["jobs"] == []


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_cancel_logs_no_error(api: Api) -> None:
    seen = Records()
    dbos = logging.getLogger("dbos")
    dbos.addHandler(seen)
    try:
        job = api.submit(api.alice, duration="30", prompt="slow pan left")
        deadline = time.monotonic() + 30
        while api.client.get(f"/v1/jobs/{job['id']}", headers=api.alice).json()["progress"] == 0:
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        cancel = api.client.post(f"/v1/jobs/{job['id']}/cancel", headers=api.alice)
        assert cancel.json()["state"] == "cancelled"
        time.sleep(2)  # the render stops at its next progress report, the workflows end
    finally:
        dbos.removeHandler(seen)
    loud = [r for r in seen.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]


# -- /metrics -------------------------------------------------------------------------------


def test_metrics_need_the_token_when_one_is_set(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"I2V_METRICS_TOKEN": "scrape-me"}
    with running_api(db, tmp_path, monkeypatch, env=env) as api:
        _problem(api.client.get("/metrics"), 401, "unauthenticated")
        _problem(api.client.get("/metrics", headers=api.admin), 401)  # a user key is not it
        scraped = api.client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        assert "i2v_queue_depth" in scraped.text


def test_metrics_are_closed_beyond_loopback_without_a_token(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_api(db, tmp_path, monkeypatch, host="0.0.0.0") as api:
        assert "I2V_METRICS_TOKEN" in _problem(api.client.get("/metrics"), 401)["detail"]
