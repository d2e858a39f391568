"""The admin pages' pure helpers: SVG bar geometry, signed one-shot messages, amounts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from starlette.requests import Request

from i2v.services.accounts import UserInfo
from i2v.services.web_sessions import SessionInfo
from i2v.web import flash, plot, views
from i2v.web.admin import section_of

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


def test_bars_scale_to_the_largest_and_keep_small_ones_visible() -> None:
    chart = plot.bar_chart(
        "Per user",
        [("alice", Decimal("4")), ("bob", Decimal("1")), ("carol", Decimal("0.0001")),
         ("dan", Decimal(0)), ("x" * 60, Decimal("2"))],
        views.dollars,
    )  # fmt: skip
    lengths = [bar.length for bar in chart.bars]
    assert lengths == [plot.BAR_SPACE, plot.BAR_SPACE / 4, plot.MIN_BAR, 0.0, plot.BAR_SPACE / 2]
    assert [bar.bar_y for bar in chart.bars] == [plot.BAR_TOP + i * plot.ROW for i in range(5)]
    assert chart.height == 5 * plot.ROW
    assert chart.bars[4].label == "x" * 39 + "…"
    assert chart.bars[0].value_x == plot.BAR_SPACE + plot.VALUE_GAP
    assert chart.summary.startswith("alice: $4.00; bob: $1.00; carol: $0.0001; dan: $0")
    empty = plot.bar_chart("Per user", [], views.dollars)
    assert (empty.bars, empty.height) == ((), plot.ROW)


def _request(cookie: str | None = None, scheme: str = "http") -> Request:
    headers = [(b"cookie", f"{flash.COOKIE}={cookie}".encode())] if cookie else []
    scope = {"type": "http", "headers": headers, "method": "GET", "scheme": scheme, "path": "/"}
    return Request({**scope, "server": ("testserver", 80)})


def test_a_message_is_read_back_only_by_the_session_that_set_it() -> None:
    user = UserInfo("usr_1", "root", True, False, NOW)
    session = SessionInfo("id", user, "a" * 64, NOW, NOW)
    said = flash.redirect(_request(), session, "/admin/users", "Created <carol>", error=True)
    assert (said.status_code, said.headers["location"]) == (303, "/admin/users")
    cookie = said.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Max-Age=120" in cookie
    assert "SameSite=lax" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert flash.take(_request(value), session) == flash.Flash("Created <carol>", True)
    other = replace(session, csrf_secret="b" * 64)
    assert flash.take(_request(value), other) is None
    payload, _, signature = value.partition(".")
    assert flash.take(_request(f"{payload}x.{signature}"), session) is None
    assert flash.take(_request("not-even-signed"), session) is None
    assert flash.take(_request(), session) is None
    secure = flash.redirect(_request(scheme="https"), session, "/admin", "ok")
    assert "Secure" in secure.headers["set-cookie"]


def test_amounts_and_sections() -> None:
    assert [views.dollars(Decimal(x)) for x in ("2.5", "0.0042", "0", "12.345")] == [
        "$2.50",
        "$0.0042",
        "$0",
        "$12.35",
    ]
    assert views.dollars(None) == "none"
    assert section_of("/admin") == "/admin"
    assert section_of("/admin/users/carol") == "/admin/users"
    assert section_of("/admin/fleet/offers") == "/admin/fleet"
    assert section_of("/admin/fleetwood") == "/admin"
