"""The web dashboard against a real engine, on SQLite and PostgreSQL: sign-in by key and by
invite, sessions and CSRF, the session checked before any body, and one creator's whole flow
(submit, watch, result, library, cancel, delete) with nothing shown to another user.

Each test walks through many steps on one running app: starting it is most of the cost.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from i2v.bootstrap import open_app
from i2v.cli.app import run
from i2v.cli.serve import dashboard_url, welcome
from i2v.config import load_settings
from i2v.db.engine import Database
from i2v.db.tables import WebInvite, WebSession, utcnow
from i2v.services import accounts, invites
from i2v.web import routes_library
from i2v.web.sessions import COOKIE
from tests.support.api import EXAMPLE, QUICK, Api, running_api
from tests.support.web import check_page, key_of, sign_in

pytestmark = pytest.mark.integration
CREATE_PAGE_BUDGET = 150 * 1024  # bytes: its HTML, stylesheet and scripts, uncompressed


@pytest.fixture
def web(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    with running_api(db, tmp_path, monkeypatch) as running:
        yield running


def _client(api: Api, base_url: str = "http://testserver") -> TestClient:
    """Another browser on the same running app (its own cookies)."""
    return TestClient(api.client.app, base_url=base_url)


def _expire(db: Any, table: Any, row_id: str) -> None:
    with db.session() as session:
        session.execute(
            update(table).where(table.id == row_id).values(expires_at=utcnow() - timedelta(1))
        )


def test_sign_in_with_a_key_or_an_invite_sessions_and_sign_out(
    web: Api, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    db = web.client.app.state.services.app.db  # type: ignore[attr-defined]
    browser = _client(web)
    # Signed out: pages go to the sign-in page, which comes back after it.
    assert browser.get("/", follow_redirects=False).headers["location"] == "/signin"
    away = browser.get("/library?state=failed", follow_redirects=False)
    assert (away.status_code, away.headers["location"]) == (
        303,
        "/signin?next=%2Flibrary%3Fstate%3Dfailed",
    )
    form = browser.get("/signin")
    check_page(form)
    assert re.search(
        r'<input type="password" id="api_key" name="api_key" autocomplete="off"', form.text
    )

    key = key_of(web.alice)
    caplog.set_level(logging.DEBUG)
    wrong = key[:-4] + "AAAA"
    refused = browser.post("/signin", data={"api_key": wrong})
    assert refused.status_code == 401
    assert "not accepted" in refused.text
    assert wrong not in refused.text
    assert key not in refused.text
    assert COOKIE not in refused.headers.get("set-cookie", "")

    signed = browser.post(
        "/signin", data={"api_key": key, "next": "/library"}, follow_redirects=False
    )
    assert (signed.status_code, signed.headers["location"]) == (303, "/library")
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Max-Age=6047" in cookie
    assert "Secure" not in cookie
    first = browser.cookies[COOKIE]
    assert key not in cookie
    assert browser.post("/signin", data={"api_key": key, "next": "//evil.test"},
                        follow_redirects=False).headers["location"] == "/"  # fmt: skip
    second = browser.cookies[COOKIE]
    assert second != first  # rotated at every sign-in, and the old one is revoked
    with db.session() as session:
        rows = {row.revoked_at is None for row in session.scalars(select(WebSession))}
    assert rows == {True, False}
    old = _client(web)
    old.cookies[COOKIE] = first
    assert old.get("/", follow_redirects=False).status_code == 303
    page = browser.get("/")
    assert page.status_code == 200
    assert "alice" in page.text
    assert key not in caplog.text
    assert key not in page.text

    # Over TLS the cookie is Secure.
    tls = _client(web, base_url="https://testserver")
    assert (
        "Secure"
        in tls.post("/signin", data={"api_key": key}, follow_redirects=False).headers["set-cookie"]
    )

    # The server's expiry holds whatever the browser keeps.
    with db.session() as session:
        live = session.scalars(select(WebSession).where(WebSession.revoked_at.is_(None))).all()
        mine = [row.id for row in live]
    for session_id in mine:
        _expire(db, WebSession, session_id)
    assert browser.get("/", follow_redirects=False).headers["location"] == "/signin"

    # Sign-out needs the form's token, then revokes the session.
    token = sign_in(browser, key)
    current = browser.cookies[COOKIE]
    assert browser.post("/signout").status_code == 403
    out = browser.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/signin")
    assert "Max-Age=0" in out.headers["set-cookie"]
    replay = _client(web)
    replay.cookies[COOKIE] = current
    assert replay.get("/", follow_redirects=False).status_code == 303

    # An invite: printed by the CLI, opened (nothing used), confirmed once.
    assert run(["users", "invite", "alice"]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("http://127.0.0.1:8000/invite/")
    path = link.removeprefix("http://127.0.0.1:8000")
    guest = _client(web)
    for _ in range(2):  # a link preview's GET uses nothing up
        shown = guest.get(path)
        assert shown.status_code == 200
        assert "Continue as alice" in shown.text
        check_page(shown)
    joined = guest.post(path, follow_redirects=False)
    assert (joined.status_code, joined.headers["location"]) == (303, "/")
    assert "alice" in guest.get("/").text
    again = _client(web).post(path)
    assert again.status_code == 410
    assert "already used" in again.text
    assert _client(web).get(path).status_code == 410
    late = invites.create_invite(db, "bob", by="test")
    with db.session() as session:
        (row,) = session.scalars(select(WebInvite).where(WebInvite.used_at.is_(None))).all()
    _expire(db, WebInvite, row.id)
    assert "expired" in _client(web).get(f"/invite/{late.token}").text
    assert "expired" in _client(web).post(f"/invite/{late.token}").text
    assert _client(web).get("/invite/not-a-real-token-at-all-xx").status_code == 404


def test_the_session_is_checked_before_the_body_and_the_api_is_unchanged(web: Api) -> None:
    anonymous = _client(web)
    boundary = "b0undary"
    big = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + b"\0" * (2 * 1024 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    # Over the 1 MB cap and malformed too: refused for the missing session (401), never
    # read (a read would have answered 413 or 400), and the connection is closed.
    for body in (big, b"--not multipart at all"):
        refused = anonymous.post("/jobs", content=body, headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.headers["connection"] == "close"
        check_page(refused)
    assert anonymous.post("/create/enhance", data={"prompt": "x"}).status_code == 401
    assert anonymous.post("/signout").status_code == 401
    # The open forms take no upload from someone signed out: refused before the body too.
    upload = anonymous.post("/signin", content=big, headers=headers)
    assert upload.status_code == 415
    assert upload.headers["connection"] == "close"
    tab = anonymous.post("/signin", data={"api_key": key_of(web.alice), "next": "/\t/evil.test"})
    assert tab.url.path == "/"  # browsers drop the tab: "//evil.test" would leave the site

    browser = _client(web)
    token = sign_in(browser, key_of(web.alice))
    # Signed in, the body is capped as the API's are, and the refusal is a page.
    over = browser.post("/jobs", content=big, headers={**headers, "X-CSRF-Token": token})
    assert over.status_code == 413
    assert "text/html" in over.headers["content-type"]
    # Another site's form post is refused even with the cookie and a token.
    cross = browser.post(
        "/jobs/x/cancel",
        data={"csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    proxied = browser.post(  # behind a proxy that sends its upstream's Host: I2V_PUBLIC_URL
        "/jobs/x/cancel",
        data={"csrf_token": token},
        headers={"Origin": "http://127.0.0.1:8000", "Host": "upstream:8000"},
    )
    assert proxied.status_code == 404  # let through, to find no such job
    # The API still wants its key: a dashboard cookie is not one.
    api = browser.get("/v1/jobs")
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"
    assert "content-security-policy" not in api.headers
    assert browser.get("/v1/jobs", headers=web.alice).status_code == 200
    assert (
        browser.get("/openapi.json").json()["paths"].keys()
        == web.client.get("/openapi.json").json()["paths"].keys()
    )
    assert not any(p == "/" or p.startswith(("/jobs", "/library", "/signin"))
                   for p in browser.get("/openapi.json").json()["paths"])  # fmt: skip
    # Static files: long-cached when linked by hash, and no session needed.
    css = re.search(r'href="(/static/app\.css\?v=\w+)"', browser.get("/").text)
    assert css is not None
    static = anonymous.get(css.group(1))
    assert static.status_code == 200
    assert static.headers["cache-control"] == "public, max-age=31536000, immutable"
    check_page(static)


def _submit(browser: TestClient, token: str, **fields: str) -> Any:
    return browser.post(
        "/jobs",
        data={"csrf_token": token, **QUICK, **fields},
        files={"image": ("photo.jpg", EXAMPLE.read_bytes(), "image/jpeg")},
        follow_redirects=False,
    )


def _wait(api: Api, job_id: str) -> dict[str, Any]:
    return api.wait(api.alice, job_id)


def test_a_creator_submits_watches_reviews_and_tidies_up(
    web: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = web.client.app.state.services.app  # type: ignore[attr-defined]
    accounts.set_mature(app.db, "alice", allowed=True, by="test")
    browser = _client(web)
    token = sign_in(browser, key_of(web.alice))
    pages = []

    create = browser.get("/")
    pages.append(create)
    markup = check_page(create)
    assert 'accept="image/*"' in create.text
    assert 'capture="environment"' in create.text
    assert '<option value="X"' in create.text  # a mature grant offers R and X
    total = len(create.content) + sum(len(browser.get(url).content) for url in markup.assets)
    assert len(markup.assets) == 4
    assert total <= CREATE_PAGE_BUDGET, total
    quotes = browser.get("/create/quotes", params={"model": "wan-2.2-14b", "aspect": "9:16"})
    assert "no fal API key" in quotes.text
    assert 'value="fal"' in quotes.text
    enhanced = browser.post(
        "/create/enhance",
        data={"prompt": "slow zoom in", "model": "wan-2.2-14b"},
        headers={"X-CSRF-Token": token},
    )
    assert 'name="enhanced_prompt"' in enhanced.text
    assert "slow zoom in" in enhanced.text
    assert browser.post("/create/enhance", data={"prompt": "x"}).status_code == 403

    # A form post without its token is refused, and nothing is made.
    forged = browser.post(
        "/jobs", data=QUICK, files={"image": ("p.jpg", EXAMPLE.read_bytes(), "image/jpeg")}
    )
    assert forged.status_code == 403
    assert "text/html" in forged.headers["content-type"]
    assert web.client.get("/v1/jobs", headers=web.alice).json()["jobs"] == []
    # Errors come back next to their fields, with the API's status, the values kept.
    short = _submit(browser, token, duration="1", prompt="drift right")
    assert short.status_code == 422
    assert 'id="duration-error"' in short.text
    assert "drift right" in short.text
    assert "Pick the picture again" in short.text
    unpicked = browser.post("/jobs", data={"csrf_token": token, **QUICK})
    assert unpicked.status_code == 422
    assert 'id="image-error"' in unpicked.text
    pages += [short, unpicked]

    # A mature result: blurred until asked for.
    made = _submit(browser, token, prompt="topless on the beach", rating="R")
    assert made.status_code == 303, made.text
    mature = made.headers["location"].removeprefix("/jobs/")
    live = browser.get(f"/jobs/{mature}")
    pages.append(live)
    if "sse-connect" in live.text:
        assert '<meta http-equiv="refresh"' in live.text  # inside <noscript>
    done = _wait(web, mature)
    assert (done["state"], done["rating"]) == ("succeeded", "R"), done
    hidden = browser.get(f"/jobs/{mature}")
    assert "<video" not in hidden.text
    assert f'/jobs/{mature}/cover"' in hidden.text
    assert browser.get(f"/jobs/{mature}/cover").headers["x-i2v-preview"] == "blurred"
    shown = browser.get(f"/jobs/{mature}?reveal=true")
    assert "<video" in shown.text
    pages += [hidden, shown]

    # The main flow: submit with captions, watch it, get the result.
    made = _submit(browser, token, prompt="slow pan left across the lake", caption="both")
    job_id = made.headers["location"].removeprefix("/jobs/")
    with browser.stream("GET", f"/jobs/{job_id}/events") as events:
        lines = list(events.iter_lines())
    assert "event: status" in lines, lines
    assert lines[-3:] == ["event: done", "data: succeeded", ""], lines
    assert any(line.startswith('data: <p class="state state-succeeded') for line in lines)
    result = browser.get(f"/jobs/{job_id}")
    pages.append(result)
    for needle in ("<video controls playsinline", 'data-copy="caption-instagram"',
                   'data-copy="caption-tiktok"', "Download the video", "free"):  # fmt: skip
        assert needle in result.text, needle
    part = browser.get(f"/jobs/{job_id}/video", headers={"Range": "bytes=0-99"})
    assert (part.status_code, len(part.content)) == (206, 100)
    assert browser.get(f"/jobs/{job_id}/cover").headers["content-type"] == "image/jpeg"

    # The library: newest first, a page at a time, filtered; "again with changes".
    again = _submit(browser, token, prompt="slow pan left across the lake", caption="both")
    cached = again.headers["location"].removeprefix("/jobs/")  # the stored result answers it
    monkeypatch.setattr(routes_library, "PAGE_SIZE", 2)
    library = browser.get("/library")
    pages.append(library)
    order = re.findall(r'class="tile-link" href="/jobs/(\w+)"', library.text)
    assert order == [cached, job_id]
    more = re.search(r'hx-get="(/library\?[^"]+)"', library.text)
    assert more is not None
    rest = browser.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert re.findall(r'href="/jobs/(\w+)"', rest.text)[0] == mature
    assert '<nav id="library-more" aria-label="More jobs" hx-swap-oob="true">' in rest.text
    assert "<html" not in rest.text
    local = browser.get("/library", params={"model": "local", "state": "succeeded"}).text
    assert mature in browser.get(more.group(1).replace("&amp;", "&")).text
    assert job_id in local
    assert job_id not in browser.get("/library?model=wan-2.2-14b").text
    assert job_id not in browser.get("/library?state=failed").text
    link = re.search(rf'href="/\?([^"]+from={job_id})"', library.text)
    assert link is not None
    prefilled = browser.get("/?" + link.group(1).replace("&amp;", "&"))
    assert "slow pan left across the lake</textarea>" in prefilled.text
    assert "Pick the picture again" in prefilled.text
    pages.append(prefilled)

    # Another user sees none of it: every route answers 404.
    bob = _client(web)
    bob_token = sign_in(bob, key_of(web.bob))
    assert '<option value="X"' not in bob.get("/").text
    for method, path in [("GET", f"/jobs/{job_id}"), ("GET", f"/jobs/{job_id}/video"),
                         ("GET", f"/jobs/{job_id}/cover"), ("GET", f"/jobs/{job_id}/events"),
                         ("GET", f"/jobs/{job_id}/delete"), ("POST", f"/jobs/{job_id}/cancel"),
                         ("POST", f"/jobs/{job_id}/delete")]:  # fmt: skip
        data = {"csrf_token": bob_token} if method == "POST" else None
        answer = bob.request(method, path, data=data)
        assert answer.status_code == 404, (method, path, answer.text)
    assert job_id not in bob.get("/library").text
    pages.append(bob.get(f"/jobs/{job_id}"))

    # Cancel a long job; delete one after asking.
    long = _submit(browser, token, prompt="slow zoom in", duration="30")
    long_id = long.headers["location"].removeprefix("/jobs/")
    stopped = browser.post(f"/jobs/{long_id}/cancel", data={"csrf_token": token})
    assert "Cancelled" in stopped.text
    assert "This job was cancelled" in stopped.text
    ask = browser.get(f"/jobs/{job_id}/delete")
    pages.append(ask)
    assert browser.post(f"/jobs/{job_id}/delete").status_code == 403
    gone = browser.post(f"/jobs/{job_id}/delete", data={"csrf_token": token})
    assert gone.url.path == "/library"
    assert job_id not in gone.text
    assert browser.get(f"/jobs/{job_id}").status_code == 404
    assert browser.get("/admin").status_code == 404
    pages += [stopped, gone, browser.get("/nothing/here")]
    for page in pages:
        check_page(page)
    time.sleep(1)  # the cancelled render stops at its next progress report


def test_serve_prints_the_dashboard_and_a_sign_in_link_for_its_first_user(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("I2V_DATA_DIR", str(cli_env / "data"))
    monkeypatch.setenv("I2V_PUBLIC_URL", "https://video.example/")
    settings = load_settings()
    lines = welcome(settings, "127.0.0.1", 8123)
    assert lines[0].startswith("i2v dashboard: http://127.0.0.1:8123/ ")
    assert lines[1].startswith("invite links start with I2V_PUBLIC_URL=https://video.example;")
    assert lines[2] == "no users yet: made 'admin' (admin); sign in once with this link:"
    assert lines[3].startswith("  https://video.example/invite/")
    assert dashboard_url(settings, "0.0.0.0", 8000) == "https://video.example/"
    assert dashboard_url(settings, "::1", 8000) == "http://[::1]:8000/"
    app = open_app(settings)
    try:
        (first,) = accounts.list_users(app.db)
        assert (first.name, first.is_admin) == ("admin", True)
    finally:
        app.close()
    assert welcome(settings, "0.0.0.0", 8123) == [  # nothing more to make: just the address
        "i2v dashboard: https://video.example/  (REST API: /v1, /docs)"
    ]
