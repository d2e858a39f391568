"""One-shot messages after a form: set on its 303 answer, shown once by the page it leads to.

The message rides in a short-lived cookie, HMAC-signed with the session's own secret, so no
other site, page or session can plant text in the dashboard. It never carries a secret: an
API key or an invite link is shown on the POST's own answer, and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from i2v.services.web_sessions import SessionInfo

COOKIE = "i2v_flash"
MAX_AGE_S = 120  # long enough for the redirect, short enough not to linger
MAX_CHARS = 600
_PURPOSE = b"i2v-web-flash-v1:"


@dataclass(frozen=True, slots=True)
class Flash:
    text: str
    error: bool = False


def _signature(session: SessionInfo, payload: str) -> str:
    message = _PURPOSE + payload.encode()
    return hmac.new(session.csrf_secret.encode(), message, hashlib.sha256).hexdigest()


def redirect(
    request: Request, session: SessionInfo, location: str, text: str, *, error: bool = False
) -> RedirectResponse:
    """303 to `location`, which then says `text` (as an error, with `error`)."""
    body = json.dumps({"t": text[:MAX_CHARS], "e": error}, separators=(",", ":"))
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    response = RedirectResponse(location, status_code=303)
    response.set_cookie(
        COOKIE,
        f"{payload}.{_signature(session, payload)}",
        max_age=MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def take(request: Request, session: SessionInfo) -> Flash | None:
    """The message this request carries for this session, if any (a forged one: none)."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    payload, _, signature = value.partition(".")
    if not hmac.compare_digest(signature.encode(), _signature(session, payload).encode()):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        return None
    return Flash(data["t"][:MAX_CHARS], bool(data.get("e")))


def clear(response: Response, request: Request) -> None:
    """Once shown, the message goes."""
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )
