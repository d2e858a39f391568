"""The dashboard's ASGI layer, in front of the API's gate: the session before any body.

For every path the dashboard owns (everything outside the API, the hooks, health, metrics and
the API docs) it looks the session cookie up from the headers alone. Without a live session
a page (GET) is redirected to /signin, and anything else is refused (401) before a byte of
its body is read; only /signin, /invite/* and /static are open, and there a body without a
session must be a small urlencoded form (415 otherwise). Under /admin, a session that is not
an admin's gets the page an unknown route gets (404), whatever the method, its body unread.
A state-changing request whose Origin is another site is refused (403) too. Every dashboard
answer gets the strict Content-Security-Policy and its companion headers, and Server-Timing
(`app;dur=` ms, from here to the answer's headers). The gate behind it caps bodies.
"""

from __future__ import annotations

import time
from urllib.parse import quote, urlsplit

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from i2v.api.state import ServiceState
from i2v.errors import Unauthenticated
from i2v.services.web_sessions import SessionInfo, session_for
from i2v.web.errors import NOT_FOUND, TITLES, error_page
from i2v.web.paths import ADMIN_PREFIX, STATIC_PREFIX, is_open, is_web, under
from i2v.web.sessions import STATE_KEY, cookie_token
from i2v.web.templates import Pages

SAFE_METHODS = frozenset({"GET", "HEAD"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


def _form_encoded(headers: Headers) -> bool:
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/x-www-form-urlencoded" or not _has_body(headers)


def _cross_site(headers: Headers, public_url: str) -> bool:
    """A browser said the request comes from another site (Origin, or Sec-Fetch-Site).

    Our own origin is the Host the request names, or I2V_PUBLIC_URL's (a proxy in front may
    send its upstream's Host)."""
    if headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    ours = {headers.get("host", "").lower(), urlsplit(public_url).netloc.lower()}
    return origin == "null" or urlsplit(origin).netloc.lower() not in ours


class WebGuard:
    """Pure ASGI, so nothing buffers the body on the way through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not is_web(path):
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))  # pages are private
                # The time to the answer's headers (a page's whole render), for the browser's
                # developer tools and bench/web.py.
                spent_ms = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={spent_ms:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        headers = Headers(scope=scope)
        session = None
        if not under(path, STATIC_PREFIX):
            session = await self._session(scope, headers)
        scope.setdefault("state", {})[STATE_KEY] = session
        refusal = self._refusal(scope, headers, path, session)
        if refusal is not None:
            if _has_body(headers):
                refusal.headers["Connection"] = "close"  # the body stays unread
            await refusal(scope, receive, headed)
            return
        await self.app(scope, receive, headed)

    @staticmethod
    async def _session(scope: Scope, headers: Headers) -> SessionInfo | None:
        token = cookie_token(headers)
        if token is None:
            return None
        services: ServiceState = scope["app"].state.services
        try:
            return await anyio.to_thread.run_sync(session_for, services.app.db, token)
        except Unauthenticated:
            return None

    @staticmethod
    def _refusal(
        scope: Scope, headers: Headers, path: str, session: SessionInfo | None
    ) -> Response | None:
        method: str = scope["method"]
        pages: Pages = scope["app"].state.web_pages
        services: ServiceState = scope["app"].state.services
        if method not in SAFE_METHODS and _cross_site(headers, services.app.settings.public_url):
            return error_page(pages, 403, "Refused", "This form was sent from another site.")
        if session is not None:
            if under(path, ADMIN_PREFIX) and not session.user.is_admin:
                request = Request(scope)  # rendered as any 404 is, for the signed-in user
                return error_page(pages, 404, TITLES[404], NOT_FOUND, request=request)
            return None
        if is_open(path):
            if method in SAFE_METHODS or _form_encoded(headers):
                return None
            # Without a session only small forms come in (sign-in, invites): never an upload,
            # whose cap (I2V_MAX_UPLOAD_MB) is for signed-in users.
            return error_page(pages, 415, "Not a form", "Send the sign-in form as it is.")
        if method in SAFE_METHODS:
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + (f"?{query}" if query else "")
            location = "/signin" if target == "/" else f"/signin?next={quote(target, safe='')}"
            if headers.get("hx-request"):  # htmx: take the whole page there, not a fragment
                return Response(status_code=401, headers={"HX-Redirect": location})
            return RedirectResponse(location, status_code=303)
        return error_page(pages, 401, "Sign in first", "Your session has ended: sign in again.")
