"""The ASGI gate in front of every route: keys before bodies, hidden admin routes, capped bodies.

Routes read their body before FastAPI runs their dependencies, so authentication there came
too late: a caller with no key could make the server read and parse a 50 MB body. The gate
checks the key (and the admin role) from the headers alone, then counts the body as it
arrives, with or without a Content-Length, and answers 413 the moment it passes the cap.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from i2v.api.auth import authenticate_header
from i2v.api.problems import error_response
from i2v.api.state import ServiceState
from i2v.config import Settings
from i2v.errors import BodyTooLarge, Forbidden, I2VError, UploadTooLarge

API_PREFIX = "/v1"
HOOKS_PREFIX = "/hooks"  # vendors' webhooks: no key, their signatures are checked instead
MULTIPART_SLACK = 64 * 1024  # the boundaries and small form fields around the image
# fal's error deliveries echo the input, an inline image among it, so I2V_MAX_JSON_KB could
# refuse them; whatever the content type says, a hook's body gets this cap and no bigger.
HOOK_BODY_BYTES = 1024 * 1024
# The answer for a refusal on a path that is not the API's (the dashboard's HTML page), or
# None to answer problem+json as the API does.
Render = Callable[[I2VError, Scope], Response | None]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def body_limit(settings: Settings, headers: Headers, path: str = "") -> BodyTooLarge:
    """The refusal, carrying its limit, for a body of this request's path and content type."""
    if _under(path, HOOKS_PREFIX):
        return BodyTooLarge(HOOK_BODY_BYTES)
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return UploadTooLarge(settings.max_upload_mb * 1024 * 1024 + MULTIPART_SLACK)
    return BodyTooLarge(settings.max_json_kb * 1024)


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


class Gate:
    """Pure ASGI (not BaseHTTPMiddleware), so nothing buffers the body on the way through."""

    def __init__(
        self, app: ASGIApp, *, admin_prefixes: tuple[str, ...], render: Render | None = None
    ) -> None:
        self.app = app
        self.admin_prefixes = admin_prefixes
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        services: ServiceState = scope["app"].state.services
        headers = Headers(scope=scope)
        path: str = scope["path"]
        try:
            if _under(path, API_PREFIX):
                user = await anyio.to_thread.run_sync(
                    authenticate_header, services.app.db, headers.get("authorization")
                )
                if not user.is_admin and any(_under(path, p) for p in self.admin_prefixes):
                    raise Forbidden("not found")
                scope.setdefault("state", {})["user"] = user
            refusal = body_limit(services.app.settings, headers, path)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > refusal.limit:
                raise refusal
        except I2VError as exc:
            await _refuse(exc, headers, scope, receive, send, self.render)
            return
        capped = _CappedBody(self.app, refusal, unread=_has_body(headers), render=self.render)
        await capped(scope, receive, send)


async def _refuse(
    exc: I2VError,
    headers: Headers,
    scope: Scope,
    receive: Receive,
    send: Send,
    render: Render | None = None,
) -> None:
    response = render(exc, scope) if render is not None else None
    if response is None:
        response = error_response(exc)
    if _has_body(headers):
        response.headers["Connection"] = "close"  # see _CappedBody: the body stays unread
    await response(scope, receive, send)


class _CappedBody:
    """One request: its body counted as it arrives; past the limit, the answer is the 413.

    An answer sent before the whole body came (a 404, a refusal) closes the connection:
    otherwise the server reads and discards the rest to keep it alive, and the header would
    also tell an early refusal from a late one.
    """

    def __init__(
        self, app: ASGIApp, refusal: BodyTooLarge, *, unread: bool, render: Render | None
    ) -> None:
        self.app = app
        self.render = render
        self.refusal = refusal
        self.unread = unread
        self.received = 0
        self.over = False
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                self.unread = message.get("more_body", False)
                if self.received > self.refusal.limit:
                    self.over = True
            if self.over:
                raise self.refusal
            return message

        async def guarded(message: Message) -> None:
            # Whatever the framework made of the cut-off body (FastAPI turns it into a 400),
            # the answer is the 413.
            if self.over and not self.started:
                return
            if message["type"] == "http.response.start":
                self.started = True
                if self.unread:
                    headers = [*message.get("headers", []), (b"connection", b"close")]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not self.over or self.started:
                raise
        if self.over and not self.started:
            await _refuse(self.refusal, Headers(scope=scope), scope, receive, send, self.render)
