"""The REST API against a real engine, on SQLite and PostgreSQL: auth, scoping, files, errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from i2v.db.engine import Database
from i2v.services import accounts
from tests.conftest import png_header_only
from tests.support.api import EXAMPLE, QUICK, Api, running_api, sse_events

pytestmark = pytest.mark.integration


@pytest.fixture
def api(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    with running_api(db, tmp_path, monkeypatch) as running:
        yield running


def test_health_and_readiness(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "storage": "ok"}


def test_submit_run_and_download_with_ranges(api: Api) -> None:
    job = api.submit(api.alice, prompt="slow pan left across the lake")
    assert job["state"] == "queued"
    assert job["spec"]["motion"] == "pan-left"
    done = api.wait(api.alice, job["id"])
    assert done["state"] == "succeeded", done
    video = api.client.get(f"/v1/jobs/{job['id']}/video", headers=api.alice)
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.headers["accept-ranges"] == "bytes"
    size = len(video.content)
    assert size == {a["kind"]: a for a in done["artifacts"]}["video"]["size"]
    part = api.client.get(
        f"/v1/jobs/{job['id']}/video", headers={**api.alice, "Range": "bytes=100-199"}
    )
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    assert part.content == video.content[100:200]
    tail = api.client.get(
        f"/v1/jobs/{job['id']}/video", headers={**api.alice, "Range": "bytes=-10"}
    )
    assert tail.content == video.content[-10:]
    miss = api.client.get(
        f"/v1/jobs/{job['id']}/video", headers={**api.alice, "Range": f"bytes={size}-"}
    )
    assert miss.status_code == 416
    assert miss.headers["content-range"] == f"bytes */{size}"
    cover = api.client.get(f"/v1/jobs/{job['id']}/cover", headers=api.alice)
    assert cover.headers["content-type"] == "image/jpeg"
    assert cover.content[:3] == b"\xff\xd8\xff"


def test_another_users_job_is_not_found_on_every_route(api: Api) -> None:
    job = api.submit(api.alice)
    api.wait(api.alice, job["id"])
    routes = [
        ("GET", f"/v1/jobs/{job['id']}"),
        ("GET", f"/v1/jobs/{job['id']}/video"),
        ("GET", f"/v1/jobs/{job['id']}/cover"),
        ("POST", f"/v1/jobs/{job['id']}/cancel"),
        ("DELETE", f"/v1/jobs/{job['id']}"),
    ]
    for method, path in routes:
        response = api.client.request(method, path, headers=api.bob)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
    assert api.client.get("/v1/jobs", headers=api.bob).json()["jobs"] == []
    assert api.client.get(f"/v1/jobs/{job['id']}", headers=api.alice).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}, {"Authorization": ""}],
)
def test_requests_without_a_valid_key_are_refused(api: Api, headers: dict[str, str]) -> None:
    response = api.client.get("/v1/jobs", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthenticated"


def test_bad_uploads_get_precise_errors(api: Api) -> None:
    def post(content: bytes, **fields: str) -> Any:
        return api.client.post(
            "/v1/jobs",
            headers=api.alice,
            files={"image": ("x", content, "image/jpeg")},
            data=fields,
        )

    too_big = post(b"\xff\xd8" + b"\0" * (1024 * 1024))
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "upload_too_large"
    not_image = post(b"hello, world")
    assert (not_image.status_code, not_image.json()["code"]) == (415, "not_an_image")
    truncated = post(EXAMPLE.read_bytes()[:5000])
    assert (truncated.status_code, truncated.json()["code"]) == (422, "corrupt_image")
    bad_fps = post(EXAMPLE.read_bytes(), fps="500")
    assert bad_fps.status_code == 422
    assert bad_fps.json()["field"] == "fps"
    bad_motion = post(EXAMPLE.read_bytes(), motion="spin")
    assert bad_motion.json()["code"] == "unknown_motion"
    unknown_backend = post(EXAMPLE.read_bytes(), backend="sora")
    assert (unknown_backend.status_code, unknown_backend.json()["field"]) == (422, "backend")
    # Wan 2.2 5B makes about 5 s: refused before anything is queued or any GPU runs.
    too_long = post(EXAMPLE.read_bytes(), backend="comfyui", duration="30")
    assert (too_long.status_code, too_long.json()["field"]) == (422, "duration")
    assert "wan22_ti2v_5b" in too_long.json()["detail"]
    assert api.client.get("/v1/jobs", headers=api.alice).json()["jobs"] == []


def test_listing_pages_with_a_cursor_and_filters_by_state(api: Api) -> None:
    ids = [api.submit(api.alice)["id"] for _ in range(3)]
    for job_id in ids:
        api.wait(api.alice, job_id)
    first = api.client.get("/v1/jobs?limit=2", headers=api.alice).json()
    assert [j["id"] for j in first["jobs"]] == ids[::-1][:2]
    second = api.client.get(
        f"/v1/jobs?limit=2&cursor={first['next_cursor']}", headers=api.alice
    ).json()
    assert [j["id"] for j in second["jobs"]] == ids[:1]
    assert second["next_cursor"] is None
    assert api.client.get("/v1/jobs?state=queued", headers=api.alice).json()["jobs"] == []
    assert api.client.get("/v1/jobs?state=bogus", headers=api.alice).status_code == 422


def test_delete_removes_the_job_and_its_files(api: Api) -> None:
    job = api.submit(api.alice)
    api.wait(api.alice, job["id"])
    assert api.client.delete(f"/v1/jobs/{job['id']}", headers=api.alice).status_code == 204
    assert api.client.get(f"/v1/jobs/{job['id']}", headers=api.alice).status_code == 404
    assert api.client.get(f"/v1/jobs/{job['id']}/video", headers=api.alice).status_code == 404


def test_events_stream_until_done_and_resume_with_last_event_id(api: Api) -> None:
    job = api.submit(api.alice)
    with api.client.stream("GET", f"/v1/jobs/{job['id']}/events", headers=api.alice) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read().decode())
    states = [json.loads(e["data"])["state"] for e in events if e["event"] == "state"]
    assert states == ["queued", "running", "succeeded"]
    progress = [json.loads(e["data"])["progress"] for e in events if e["event"] == "progress"]
    assert progress
    assert progress == sorted(progress)
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids)
    middle = ids[len(ids) // 2]
    resumed = api.client.get(
        f"/v1/jobs/{job['id']}/events", headers={**api.alice, "Last-Event-ID": str(middle)}
    )
    assert [int(e["id"]) for e in sse_events(resumed.text)] == [i for i in ids if i > middle]
    # Resumed after the last event of a job that is over: the stream ends, it does not idle.
    started = time.monotonic()
    after_end = api.client.get(
        f"/v1/jobs/{job['id']}/events", headers={**api.alice, "Last-Event-ID": str(ids[-1])}
    )
    assert after_end.status_code == 200
    assert sse_events(after_end.text) == []
    assert time.monotonic() - started < 5
    other = api.client.get(f"/v1/jobs/{job['id']}/events", headers=api.bob)
    assert other.status_code == 404


def test_idempotency_key_replays_the_same_job_and_refuses_a_different_body(api: Api) -> None:
    def post(key: str, **fields: str) -> Any:
        return api.client.post(
            "/v1/jobs",
            headers={**api.alice, "Idempotency-Key": key},
            files={"image": ("photo.jpg", EXAMPLE.read_bytes(), "image/jpeg")},
            data={**QUICK, **fields},
        )

    first = post("retry-1", prompt="zoom in")
    assert first.status_code == 201
    again = post("retry-1", prompt="zoom in")
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    different = post("retry-1", prompt="pan left")
    assert different.status_code == 409
    assert different.json()["code"] == "conflict"
    # Keys are per user: Bob's identical key is a new job.
    bob = api.client.post(
        "/v1/jobs",
        headers={**api.bob, "Idempotency-Key": "retry-1"},
        files={"image": ("photo.jpg", EXAMPLE.read_bytes(), "image/jpeg")},
        data={**QUICK, "prompt": "zoom in"},
    )
    assert bob.status_code == 201
    assert len(api.client.get("/v1/jobs", headers=api.alice).json()["jobs"]) == 1


def test_metrics_count_jobs_by_state(api: Api) -> None:
    job = api.submit(api.alice)
    api.wait(api.alice, job["id"])
    text = api.client.get("/metrics").text
    assert 'i2v_jobs{state="succeeded"} 1.0' in text
    assert "i2v_queue_depth 0.0" in text
    assert 'i2v_job_duration_seconds_bucket{le="+Inf"} 1.0' in text
    assert "i2v_job_duration_seconds_count 1.0" in text


@pytest.fixture
def image_server() -> Iterator[str]:
    """Serves examples/example.jpg at http://127.0.0.1:PORT/photo.jpg."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = EXAMPLE.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/photo.jpg"
    server.shutdown()


def test_json_with_image_url_is_fetched_behind_the_ssrf_guard(
    api: Api, image_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"image_url": image_server, **QUICK}
    refused = api.client.post("/v1/jobs", headers=api.alice, json=body)
    assert refused.status_code == 422
    assert refused.json()["code"] == "url_blocked"
    assert "loopback" in refused.json()["detail"]
    # An operator can admit an internal host explicitly; settings are read per app, so
    # this test admits loopback through the running app's settings.
    services = api.client.app.state.services  # type: ignore[attr-defined]
    monkeypatch.setattr(services.app.settings, "fetch_allow", ["127.0.0.1"])
    accepted = api.client.post("/v1/jobs", headers=api.alice, json=body)
    assert accepted.status_code == 201, accepted.text
    assert api.wait(api.alice, accepted.json()["id"])["state"] == "succeeded"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"prompt": "no image"}}, 422, "invalid_parameter"),
        ({"json": {"image_url": "http://x.test/a.jpg", "colour": "red"}}, 422, "invalid_parameter"),
        ({"json": {"image_url": "file:///etc/passwd"}}, 422, "url_blocked"),
        ({"content": b"[1, 2]", "headers": {"Content-Type": "application/json"}}, 422, None),
        ({"content": b"raw", "headers": {"Content-Type": "text/plain"}}, 415, "not_an_image"),
    ],
)
def test_malformed_submissions_get_precise_errors(
    api: Api, kwargs: dict[str, Any], status: int, code: str | None
) -> None:
    kwargs = dict(kwargs)  # the parameter is shared by the sqlite and postgres runs
    headers = {**api.alice, **kwargs.pop("headers", {})}
    response = api.client.post("/v1/jobs", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if code is not None:
        assert response.json()["code"] == code


def test_an_end_image_is_checked_before_anything_is_fetched_or_stored(api: Api) -> None:
    picture = ("photo.jpg", EXAMPLE.read_bytes(), "image/jpeg")
    refusals = [
        # The local renderer has no end frame: refused, naming the field.
        (
            {"files": {"image": picture, "end_image": picture}, "data": QUICK},
            "end_image",
            "the local renderer takes no end image",
        ),
        (
            {
                "files": {"image": picture, "end_image": picture},
                "data": {**QUICK, "end_image_url": "https://x.test/end.jpg"},
            },
            "end_image_url",
            "send end_image or end_image_url, not both",
        ),
        (
            {"files": {"image": picture}, "data": {**QUICK, "end_image": "not a file"}},
            "end_image",
            "end_image: attach it as a file part",
        ),
        # Refused before either URL is fetched: no url_blocked for the loopback addresses.
        (
            {
                "json": {
                    "image_url": "http://127.0.0.1:9/a.jpg",
                    "end_image_url": "http://127.0.0.1:9/b.jpg",
                    **QUICK,
                }
            },
            "end_image",
            "the local renderer takes no end image",
        ),
    ]
    for kwargs, field, message in refusals:
        response = api.client.post("/v1/jobs", headers=api.alice, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 422, response.text
        problem = response.json()
        assert (problem["field"], problem["detail"]) == (field, message)
    assert api.client.get("/v1/jobs", headers=api.alice).json()["jobs"] == []


def test_cache_hit_miss_and_identical_submissions_render_once(api: Api) -> None:
    first = api.submit(api.alice, prompt="zoom in")
    api.wait(api.alice, first["id"])
    # A hit: same picture and parameters, answered at once as a finished job, even for Bob.
    hit = api.client.post(
        "/v1/jobs",
        headers=api.bob,
        files={"image": ("p.jpg", EXAMPLE.read_bytes(), "image/jpeg")},
        data={**QUICK, "prompt": "zoom in"},
    )
    assert hit.status_code == 200
    assert hit.headers["x-i2v-cache"] == "hit"
    assert hit.json()["state"] == "succeeded"
    video = {a["kind"]: a for a in hit.json()["artifacts"]}["video"]
    original = {a["kind"]: a for a in api.wait(api.alice, first["id"])["artifacts"]}["video"]
    assert video["sha256"] == original["sha256"]
    # cache=false renders again; a changed parameter misses.
    fresh = api.submit(api.alice, prompt="zoom in", cache="false")
    other = api.submit(api.alice, prompt="zoom out")
    for job in (fresh, other):
        assert api.wait(api.alice, job["id"])["state"] == "succeeded"
    # Deleting the first job keeps the shared files for the job that hit the cache.
    api.client.delete(f"/v1/jobs/{first['id']}", headers=api.alice)
    assert api.client.get(f"/v1/jobs/{hit.json()['id']}/video", headers=api.bob).status_code == 200
    # Identical submissions that arrive together share one render.
    together = [api.submit(api.alice, prompt="pan right") for _ in range(3)]
    done = [api.wait(api.alice, job["id"]) for job in together]
    assert {job["state"] for job in done} == {"succeeded"}
    assert len({job["artifacts"][0]["sha256"] for job in done}) == 1
    services = api.client.app.state.services  # type: ignore[attr-defined]
    renders = services.queue.render_ids([job["id"] for job in together])
    assert len(renders) == 1, renders


def test_admin_routes_are_invisible_to_other_users(api: Api) -> None:
    listed = api.client.get("/v1/admin/users", headers=api.admin)
    assert listed.status_code == 200
    assert {u["name"] for u in listed.json()["users"]} == {"alice", "bob", "root"}
    assert {u["daily_budget_usd"] for u in listed.json()["users"]} == {None}  # the default
    for who in (api.alice, api.bob):
        refused = api.client.get("/v1/admin/users", headers=who)
        assert refused.status_code == 404
        assert refused.json()["code"] == "not_found"
    assert api.client.get("/v1/admin/users").status_code == 401


def test_a_revoked_key_is_refused(api: Api) -> None:
    services = api.client.app.state.services  # type: ignore[attr-defined]
    created = accounts.create_key(services.app.db, "alice")
    headers = {"Authorization": f"Bearer {created.token}"}
    assert api.client.get("/v1/jobs", headers=headers).status_code == 200
    accounts.revoke_key(services.app.db, created.info.id)
    refused = api.client.get("/v1/jobs", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthenticated"


def test_a_decompression_bomb_is_refused_from_its_header(api: Api) -> None:
    bomb = png_header_only(40_000, 40_000)  # 1.6 gigapixels declared in a few bytes
    response = api.client.post(
        "/v1/jobs", headers=api.alice, files={"image": ("bomb.png", bomb, "image/png")}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "image_too_large"
