"""The dashboard's session cookie: read before any body (by the guard), set at sign-in,
cleared at sign-out. The sessions themselves live in `services.web_sessions`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.datastructures import Headers
from starlette.requests import cookie_parser

from i2v.errors import Unauthenticated
from i2v.services.web_sessions import SessionInfo, StartedSession

COOKIE = "i2v_session"
STATE_KEY = "web_session"  # where the guard leaves the session in the request's scope


def cookie_token(headers: Headers) -> str | None:
    """The session token the request's Cookie header carries, if any."""
    raw = headers.get("cookie")
    if not raw:
        return None
    # Starlette's parser, as browsers do: one malformed cookie of another app on this host
    # does not hide ours (http.cookies stops at it).
    return cookie_parser(raw).get(COOKIE) or None


def session_of(request: Request) -> SessionInfo | None:
    """The session the guard found for this request (None on public pages when signed out)."""
    found: SessionInfo | None = request.scope.get("state", {}).get(STATE_KEY)
    return found


def signed_in(request: Request) -> SessionInfo:
    """For routes behind the guard: it has already refused requests without a session."""
    session = session_of(request)
    if session is None:
        raise Unauthenticated("sign in to continue")
    return session


Signed = Annotated[SessionInfo, Depends(signed_in)]


def set_cookie(response: Response, request: Request, started: StartedSession) -> None:
    """HttpOnly, SameSite=Lax, Secure over TLS, for the whole site, until the session ends."""
    seconds = (started.info.expires_at - datetime.now(UTC)).total_seconds()
    response.set_cookie(
        COOKIE,
        started.token,
        max_age=max(0, int(seconds)),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )
