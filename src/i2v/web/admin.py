"""What the admin pages share: who may see them, their sub-navigation, reading their forms,
and answering a form with a 303 and a one-shot message.

To anyone but an admin the pages do not exist: the guard answers every method on /admin with
the page an unknown route gets (404, never 403), and `Admin` refuses the same way behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from i2v.errors import Forbidden, I2VError
from i2v.services.web_sessions import SessionInfo
from i2v.web import csrf, flash
from i2v.web.sessions import signed_in
from i2v.web.templates import pages_of

SECTIONS = (
    ("/admin", "Overview"),
    ("/admin/users", "Users"),
    ("/admin/policy", "Policy audit"),
    ("/admin/fleet", "Fleet"),
    ("/admin/spend", "Spend"),
    ("/admin/health", "Health"),
)
MAX_FIELD_CHARS = 256


def admin_session(request: Request) -> SessionInfo:
    session = signed_in(request)
    if not session.user.is_admin:
        raise Forbidden("not found")  # the 404 page, as for a route that does not exist
    return session


Admin = Annotated[SessionInfo, Depends(admin_session)]


def section_of(path: str) -> str:
    """The sub-navigation entry a path is under (the longest prefix that matches)."""
    found = "/admin"
    for prefix, _ in SECTIONS:
        if (path == prefix or path.startswith(prefix + "/")) and len(prefix) > len(found):
            found = prefix
    return found


def render(
    request: Request,
    session: SessionInfo,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """An admin page, with the sub-navigation and the message a form left, shown once."""
    shown = flash.take(request, session)
    common = {"sections": SECTIONS, "section": section_of(request.url.path), "flash": shown}
    response = pages_of(request).render(request, name, {**common, **(context or {})}, status=status)
    if flash.COOKIE in request.cookies:
        flash.clear(response, request)
    return response


async def form_of(session: SessionInfo, request: Request) -> FormData:
    """The form, once its CSRF token is checked (403 otherwise)."""
    return await csrf.checked_form(session, request)


def field(form: FormData, name: str) -> str:
    """A text field, trimmed; a missing one (or a file) is empty."""
    value = form.get(name)
    return value.strip()[:MAX_FIELD_CHARS] if isinstance(value, str) else ""


async def act(
    request: Request, session: SessionInfo, back: str, work: Callable[[], str]
) -> Response:
    """Run `work` (a service call, on a worker thread) and go back to `back` saying what it
    returned, or the service's refusal as an error."""
    try:
        said = await anyio.to_thread.run_sync(work)
    except I2VError as exc:
        return flash.redirect(request, session, back, exc.message, error=True)
    return flash.redirect(request, session, back, said)
