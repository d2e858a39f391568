"""fal's error answers (statuses, headers, bodies) mapped to i2v's typed errors, in one table.

fal sends two kinds of body (docs: errors, request-errors): a model's validation error,
``{"detail": [{"loc", "msg", "type", "input"?, "categories"?}]}`` (HTTP 422), and a request
error, ``{"detail": "<text>", "error_type": "..."}`` with the same type in ``X-Fal-Error-Type``.
Branch on types and statuses, never on messages.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from i2v.errors import (
    BackendError,
    ConfigError,
    ContentRefused,
    HostedGone,
    HostedUnavailable,
    I2VError,
    InvalidParameter,
    StartTimeout,
)

BACKEND = "fal"
CONTENT_POLICY = "content_policy_violation"
# fal's request-error types that a later try may pass (request-errors page, reliability page).
RETRYABLE_TYPES = frozenset(
    {
        "request_timeout",
        "startup_timeout",
        "runner_scheduling_failure",
        "runner_connection_timeout",
        "runner_disconnected",
        "runner_connection_refused",
        "runner_connection_error",
        "runner_incomplete_response",
        "runner_server_error",
        "internal_error",
    }
)
RETRYABLE_STATUSES = frozenset({408, 409, 429, 502, 503, 504})  # fal_client's RETRY_CODES


@dataclass(frozen=True, slots=True)
class Issue:
    """One entry of a validation detail list."""

    field: str  # loc without its leading "body", dotted: image_url, or loras.0.path
    message: str
    type: str
    value: object = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed answer as fal gave it, for `error_for`."""

    url: str  # query string already stripped
    status: int | None  # None: a COMPLETED status that carries `error`
    message: str
    error_type: str | None = None
    issues: tuple[Issue, ...] = ()
    retryable_header: bool = False  # X-Fal-Retryable (older: X-Fal-Needs-Retry): true
    user_timeout: bool = False  # X-Fal-Request-Timeout-Type: user
    retry_after_s: float | None = None
    start_timeout_s: float | None = None
    request_id: str | None = None


def issues_of(detail: object) -> tuple[Issue, ...]:
    if not isinstance(detail, list):
        return ()
    found = []
    for item in detail:
        if not isinstance(item, Mapping):
            continue
        loc = item.get("loc")
        parts = [str(p) for p in loc if p != "body"] if isinstance(loc, list) else []
        categories = item.get("categories")
        found.append(
            Issue(
                field=".".join(parts) or "input",
                message=str(item.get("msg") or item.get("type") or "invalid"),
                type=str(item.get("type") or ""),
                value=item.get("input"),
                categories=tuple(str(c) for c in categories)
                if isinstance(categories, list)
                else (),
            )
        )
    return tuple(found)


def header_number(value: str | None) -> float | None:
    """A header's non-negative number (Retry-After in seconds, Content-Length), or None."""
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        number = float(value)
        return number if math.isfinite(number) and number >= 0 else None
    return None


def failure_of(
    status: int,
    headers: Mapping[str, str],
    body: object,
    *,
    url: str,
    reason: str,
    start_timeout_s: float | None,
    request_id: str | None,
) -> Failure:
    """A failed answer's facts: `headers` must look names up case-insensitively (httpx's)."""
    detail = body.get("detail") if isinstance(body, Mapping) else None
    error_type = headers.get("x-fal-error-type")
    if isinstance(body, Mapping) and isinstance(body.get("error_type"), str):
        error_type = body["error_type"]
    retry = headers.get("x-fal-retryable") or headers.get("x-fal-needs-retry") or ""
    message = detail if isinstance(detail, str) else reason
    return Failure(
        url=url,
        status=status,
        message=message[:500],
        error_type=error_type,
        issues=issues_of(detail),
        retryable_header=retry.strip().lower() in ("true", "1", "yes"),
        user_timeout=headers.get("x-fal-request-timeout-type") == "user",
        retry_after_s=header_number(headers.get("retry-after")),
        start_timeout_s=start_timeout_s,
        request_id=request_id,
    )


def _where(f: Failure) -> dict[str, str | None]:
    return {"backend": BACKEND, "server": f.url, "prompt_id": f.request_id}


def _refused(f: Failure) -> I2VError:
    issue = next(i for i in f.issues if i.type == CONTENT_POLICY)
    return ContentRefused(
        f"fal's content checker refused {issue.field}: {issue.message}",
        field=issue.field,
        categories=issue.categories,
        **_where(f),
    )


def _invalid(f: Failure) -> I2VError:
    issue = f.issues[0]
    return InvalidParameter(issue.field, issue.value, f"{issue.field}: {issue.message}")


def _bad_key(f: Failure) -> I2VError:
    return ConfigError(f"fal refused the key (HTTP {f.status}); check I2V_FAL_KEY")


def _start_timeout(f: Failure) -> I2VError:
    limit = f"{f.start_timeout_s:g} s" if f.start_timeout_s else "its start timeout"
    return StartTimeout(
        f"fal did not start the request within {limit}", timeout_s=f.start_timeout_s, **_where(f)
    )


def _gone(f: Failure) -> I2VError:
    return HostedGone(f"fal has no such request or file: {f.url}", url=f.url, **_where(f))


def _unavailable(f: Failure) -> I2VError:
    kind = f.error_type or (f"HTTP {f.status}" if f.status else "error")
    return HostedUnavailable(
        f"fal failed ({kind}): {f.message}",
        error_type=f.error_type,
        retry_after_s=f.retry_after_s,
        **_where(f),
    )


def _failed(f: Failure) -> I2VError:
    kind = f.error_type or (f"HTTP {f.status}" if f.status else "error")
    return BackendError(
        f"fal failed ({kind}): {f.message}",
        backend=BACKEND,
        server=f.url,
        prompt_id=f.request_id,
        retryable=False,
    )


def _retryable(f: Failure) -> bool:
    return f.retryable_header or f.error_type in RETRYABLE_TYPES or f.status in RETRYABLE_STATUSES


# The first rule that matches wins.
RULES: Sequence[tuple[str, Callable[[Failure], bool], Callable[[Failure], I2VError]]] = (
    ("content policy (422)", lambda f: any(i.type == CONTENT_POLICY for i in f.issues), _refused),
    ("validation detail (422)", lambda f: bool(f.issues), _invalid),
    ("user start timeout (504)", lambda f: f.user_timeout, _start_timeout),
    ("bad key (401, 403)", lambda f: f.status in (401, 403), _bad_key),
    ("no such request or file (404)", lambda f: f.status in (404, 410), _gone),
    ("retryable type, status or header", _retryable, _unavailable),
    ("anything else", lambda f: True, _failed),
)


def error_for(failure: Failure) -> I2VError:
    for _, matches, build in RULES:
        if matches(failure):
            return build(failure)
    raise AssertionError("the last rule matches everything")  # pragma: no cover
