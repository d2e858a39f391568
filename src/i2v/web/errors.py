"""Error pages: the dashboard answers its errors as HTML, with the status the API would give
the same error (`api.problems.status_for`); the API's own paths keep problem+json."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

from i2v import errors
from i2v.api.problems import status_for
from i2v.web.csrf import CsrfRefused
from i2v.web.paths import is_web

if TYPE_CHECKING:
    from i2v.web.templates import Pages

Handler = Callable[[Request, Any], Response | Awaitable[Response]]

TITLES = {
    401: "Sign in first",
    403: "Refused",
    404: "Not found",
    405: "Not allowed here",
    409: "Not possible now",
    413: "Too large",
    422: "Cannot do that",
    500: "Something broke",
    502: "A service failed",
    503: "Busy or unavailable",
    504: "Took too long",
}
NOT_FOUND = "There is nothing here, or it is not yours."


def error_page(
    pages: Pages,
    status: int,
    title: str,
    message: str,
    *,
    request: Request | None = None,
) -> HTMLResponse:
    """A plain page saying what went wrong and where to go next."""
    context = {"status": status, "title": title, "message": message}
    if request is not None:
        return pages.render(request, "error.html", context, status=status)
    common = {"user": None, "csrf_token": "", "path": ""}
    return HTMLResponse(pages.html("error.html", {**common, **context}), status_code=status)


def page_for(exc: Exception) -> tuple[int, str]:
    """The status and the message a user sees for an error."""
    if isinstance(exc, CsrfRefused):
        return 403, str(exc)
    if isinstance(exc, errors.Forbidden | errors.NotFound):
        return 404, NOT_FOUND if isinstance(exc, errors.Forbidden) else exc.message
    if isinstance(exc, errors.I2VError):
        status = status_for(exc)
        return status, exc.message if status < 500 else "The server failed; try again later."
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return 404, NOT_FOUND
        return exc.status_code, str(exc.detail or HTTPStatus(exc.status_code).phrase)
    if isinstance(exc, RequestValidationError):
        return 422, "The request is missing a value or has a wrong one."
    return 500, "The server failed; the error is logged. Try again later."


def refusal_page(exc: errors.I2VError, scope: Scope) -> Response | None:
    """The gate's refusal (a body over its cap) as a page, on the dashboard's paths."""
    if not is_web(scope.get("path", "")):
        return None
    status, message = page_for(exc)
    pages: Pages = scope["app"].state.web_pages
    return error_page(pages, status, TITLES.get(status, HTTPStatus(status).phrase), message)


def install(api: FastAPI, pages: Pages) -> None:
    """Answer errors on the dashboard's paths as pages; pass the rest to the API's handlers."""

    def wrap(original: Handler | None) -> Handler:
        async def handle(request: Request, exc: Exception) -> Response:
            if original is not None and not is_web(request.url.path):
                answer = original(request, exc)
                return await answer if inspect.isawaitable(answer) else answer
            status, message = page_for(exc)
            title = TITLES.get(status, HTTPStatus(status).phrase)
            return error_page(pages, status, title, message, request=request)

        return handle

    for kind in (errors.I2VError, HTTPException, RequestValidationError, Exception):
        api.add_exception_handler(kind, wrap(api.exception_handlers.get(kind)))
    api.add_exception_handler(CsrfRefused, wrap(None))
