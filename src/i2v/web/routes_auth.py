"""Sign-in with an API key, one-time invite links, and sign-out.

A key is only ever read from a POSTed form field: it never appears in a URL, is never echoed
into a page (a refused one is not put back in the form) and never logged.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from i2v.api.state import service_state
from i2v.errors import NotFound, Unauthenticated
from i2v.services import invites, web_sessions
from i2v.services.invites import InviteState
from i2v.web import csrf
from i2v.web.errors import error_page
from i2v.web.paths import safe_next
from i2v.web.sessions import Signed, clear_cookie, cookie_token, session_of, set_cookie
from i2v.web.templates import pages_of

router = APIRouter(include_in_schema=False)
MAX_KEY_CHARS = 256  # keys are 64 characters; anything much longer is not one


def _signed_in(request: Request, started: web_sessions.StartedSession, target: str) -> Response:
    response = RedirectResponse(safe_next(target), status_code=303)
    set_cookie(response, request, started)
    return response


@router.get("/signin")
def signin_page(request: Request, next_: Annotated[str, Query(alias="next")] = "/") -> Response:
    return pages_of(request).render(request, "signin.html", {"next": safe_next(next_)})


@router.post("/signin")
async def signin(
    request: Request,
    api_key: Annotated[str, Form(max_length=MAX_KEY_CHARS)] = "",
    next_: Annotated[str, Form(alias="next", max_length=2048)] = "/",
) -> Response:
    services = service_state(request)
    settings = services.app.settings
    try:
        started = await anyio.to_thread.run_sync(
            lambda: web_sessions.sign_in_with_key(
                services.app.db,
                api_key,
                hours=settings.web_session_hours,
                replacing=cookie_token(request.headers),
            )
        )
    except Unauthenticated:
        context = {"next": safe_next(next_), "error": "That key was not accepted."}
        return pages_of(request).render(request, "signin.html", context, status=401)
    return _signed_in(request, started, next_)


@router.post("/signout")
async def signout(request: Request, session: Signed) -> Response:
    await csrf.checked_form(session, request)
    services = service_state(request)
    await anyio.to_thread.run_sync(
        web_sessions.sign_out, services.app.db, cookie_token(request.headers)
    )
    response = RedirectResponse("/signin", status_code=303)
    clear_cookie(response, request)
    return response


INVITE_GONE = {
    InviteState.USED: "This sign-in link was already used. Ask whoever sent it for a new one.",
    InviteState.EXPIRED: "This sign-in link has expired. Ask whoever sent it for a new one.",
    InviteState.UNKNOWN: "This sign-in link is not valid. Check that it was copied whole.",
}


@router.get("/invite/{token}")
def invite_page(token: str, request: Request) -> Response:
    """Shows who the link signs in and a button; opening the link changes nothing, so a
    chat app's link preview does not use it up."""
    view = invites.invite_state(service_state(request).app.db, token)
    pages = pages_of(request)
    if view.state is not InviteState.VALID:
        status = 404 if view.state is InviteState.UNKNOWN else 410
        return error_page(
            pages, status, "Link not usable", INVITE_GONE[view.state], request=request
        )
    signed = session_of(request)
    context = {"invite": view, "token": token, "current": signed.user if signed else None}
    return pages.render(request, "invite.html", context)


@router.post("/invite/{token}")
async def accept_invite(token: str, request: Request) -> Response:
    services = service_state(request)
    try:
        started = await anyio.to_thread.run_sync(
            lambda: invites.accept_invite(
                services.app.db,
                token,
                hours=services.app.settings.web_session_hours,
                replacing=cookie_token(request.headers),
            )
        )
    except NotFound as exc:
        pages = pages_of(request)
        return error_page(pages, 410, "Link not usable", exc.message, request=request)
    return _signed_in(request, started, "/")
