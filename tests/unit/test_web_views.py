"""The dashboard's pure helpers: formatting, the ETA, safe redirects, SSE frames, CSRF."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from starlette.datastructures import FormData, Headers
from starlette.requests import Request

from i2v.domain.job import JobState
from i2v.services.accounts import UserInfo
from i2v.services.job_view import JobView
from i2v.services.web_sessions import SessionInfo
from i2v.web import csrf, views
from i2v.web.paths import is_open, is_web, safe_next
from i2v.web.sessions import cookie_token
from i2v.web.stream import frame

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
JOB = JobView(
    id="job_1",
    owner_id="usr_1",
    state=JobState.RUNNING,
    backend="local",
    stage="generate",
    progress=0.25,
    spec={"render": {"prompt": "p", "size": "1080x1350", "duration_s": 5.0}, "rating": "PG"},
    created_at=NOW,
    started_at=NOW - timedelta(seconds=10),
    finished_at=None,
    error_code=None,
    error_message=None,
    artifacts=(),
)


def test_money_and_times_read_plainly() -> None:
    assert views.money(None) == "unknown"
    assert views.money(Decimal(0)) == "free"
    assert views.money(Decimal("0.4")) == "$0.40"
    assert views.money(Decimal("0.0035")) == "$0.0035"
    assert views.seconds_text(42.4) == "42 s"
    assert views.seconds_text(125) == "2 min 05 s"
    assert views.seconds_text(3 * 3600 + 60) == "3 h 01 min"
    assert views.when(NOW) == "2026-12-08 12:00 UTC"


def test_the_eta_follows_the_pace_so_far() -> None:
    assert views.eta_seconds(JOB, NOW) == pytest.approx(30)  # a quarter in 10 s
    assert views.eta_seconds(replace(JOB, progress=0.01), NOW) is None  # too early to tell
    assert views.eta_seconds(replace(JOB, state=JobState.SUCCEEDED), NOW) is None


def test_again_with_changes_carries_the_words_and_settings_never_the_picture() -> None:
    query = views.again_query(replace(JOB, spec={**JOB.spec, "captions": {"tiktok": "x"}}))
    assert query == "prompt=p&aspect=4%3A5&duration=5&rating=PG&caption=tiktok&from=job_1"
    assert views.advice("content_refused").startswith("Change the prompt")
    assert views.advice("anything else") == views.DEFAULT_ADVICE


def test_paths_and_redirects() -> None:
    assert all(is_web(p) for p in ("/", "/jobs/x", "/static/app.css", "/admin"))
    assert not any(is_web(p) for p in ("/v1/jobs", "/hooks/fal", "/healthz", "/docs", "/metrics"))
    assert all(is_open(p) for p in ("/invite/abc", "/signin", "/static/app.js"))
    assert not any(is_open(p) for p in ("/", "/library", "/signins", "/jobs/x"))
    for bad in (None, "", "https://evil.test/", "//evil.test", "/\\evil", "/\t/evil.test"):
        assert safe_next(bad) == "/", bad
    assert safe_next("/library?state=failed") == "/library?state=failed"


def test_sse_frames_carry_html_line_by_line() -> None:
    assert frame("status", "<p>a</p>\n<p>b</p>", 7) == (
        "id: 7\nevent: status\ndata: <p>a</p>\ndata: <p>b</p>\n\n"
    )
    assert frame("done", "") == "event: done\ndata: \n\n"


def test_csrf_tokens_belong_to_their_session() -> None:
    user = UserInfo("usr_1", "alice", False, False, NOW)
    session = SessionInfo("id", user, "a" * 64, NOW, NOW)
    other = replace(session, csrf_secret="b" * 64)
    token = csrf.token_for(session)
    request = Request({"type": "http", "headers": [], "method": "POST"})
    csrf.check(session, request, FormData({"csrf_token": token}))
    for form in (FormData({"csrf_token": csrf.token_for(other)}), FormData({}), None):
        with pytest.raises(csrf.CsrfRefused):
            csrf.check(session, request, form)
    header = Request({"type": "http", "headers": [(b"x-csrf-token", token.encode())]})
    csrf.check(session, header)


def test_the_session_cookie_is_found_among_malformed_ones() -> None:
    headers = Headers({"cookie": 'other="x; [odd]=1; i2v_session=tok; last=2'})
    assert cookie_token(headers) == "tok"
    assert cookie_token(Headers({})) is None
