"""Errors as RFC 9457 problem+json, each with a stable `code`; statuses are decided only here."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from i2v import errors

PROBLEM_JSON = "application/problem+json"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

# The first matching class wins, so subclasses come before their parents.
STATUS: tuple[tuple[type[errors.I2VError], int], ...] = (
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 404),  # never reveal that an admin route exists
    (errors.NotFound, 404),
    (errors.BlobNotFound, 404),
    (errors.Conflict, 409),
    (errors.RangeNotSatisfiable, 416),
    (errors.BodyTooLarge, 413),
    (errors.NotAnImage, 415),
    (errors.ImageNotFound, 422),
    (errors.InvalidInput, 422),
    (errors.InvalidBlobKey, 422),
    (errors.WorkflowInvalid, 422),  # a bad parameter is refused before any GPU runs
    (errors.ContentRefused, 422),  # the user's picture or prompt; another try gets the same
    (errors.StartTimeout, 504),
    (errors.RunTimedOut, 504),
    (errors.HostedUnavailable, 503),
    (errors.HostedGone, 502),
    (errors.OutputTooLarge, 502),
    (errors.FetchError, 422),  # the client's image_url failed: 404, bad redirect, no such host
    (errors.StorageUnavailable, 503),
    (errors.BudgetExceeded, 409),
    (errors.NoCapacity, 503),
    (errors.InstanceNotReady, 503),
    (errors.ProviderRateLimited, 503),
    (errors.ProviderUnavailable, 502),
    (errors.ProviderError, 502),  # the provider refused or failed: a bad gateway for us
    (errors.FleetError, 503),
    (errors.FleetOff, 409),
    (errors.ConfigError, 500),
)


def status_for(exc: errors.I2VError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 503 if exc.retryable else 500


def problem(status: int, code: str, detail: str, **extra: object) -> JSONResponse:
    body = {
        "type": f"https://i2v.dev/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def error_response(exc: errors.I2VError) -> JSONResponse:
    if isinstance(exc, errors.Forbidden):  # indistinguishable from a route that isn't there
        return not_found()
    extra: dict[str, object] = {}
    if isinstance(exc, errors.InvalidParameter):
        extra["field"] = exc.field
    if isinstance(exc, errors.PolicyRefused):
        extra.update(field=exc.field, category=exc.category, rating=exc.rating)
    if isinstance(exc, errors.ContentRefused):  # a hosted model's own check
        extra.update(field=exc.field, categories=list(exc.categories))
    if isinstance(exc, errors.RangeNotSatisfiable) and exc.size is not None:
        response = problem(416, exc.code, exc.message)
        response.headers["Content-Range"] = f"bytes */{exc.size}"
        return response
    return problem(status_for(exc), exc.code, exc.message, **extra)


def not_found() -> JSONResponse:
    """The one answer for a missing route, a missing job and an admin route to a non-admin."""
    return problem(404, errors.NotFound.code, "not found")


def _allowed_methods(request: Request) -> str:
    """Every method some operation serves at this path (the router names one route's only)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern, _, _ = compile_path(template)
        if pattern.match(request.url.path):
            methods |= {method.upper() for method in operations if method in HTTP_METHODS}
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.I2VError)
    async def i2v_error(request: Request, exc: errors.I2VError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """The framework's own refusals: no such route, wrong method, unparsable body."""
        if exc.status_code == 404:
            return not_found()
        phrase = HTTPStatus(exc.status_code).phrase
        code = phrase.lower().replace(" ", "_").replace("-", "_")
        response = problem(exc.status_code, code, str(exc.detail or phrase))
        if exc.status_code == 405:
            response.headers["Allow"] = _allowed_methods(request)
        return response

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this answer; the client gets no internals.
        return problem(500, "internal_error", "the server failed; the error is logged")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":  # its loc is a character offset, not a field
            return problem(422, "invalid_request", "body: not valid JSON", field="body")
        field = ".".join(str(part) for part in first["loc"] if part not in ("body", "query"))
        return problem(422, "invalid_request", f"{field}: {first['msg']}", field=field)
