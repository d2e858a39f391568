"""The one file that speaks fal's HTTP: queue submit, status, result, cancel, storage, CDN.

A thin sync httpx client (the steps that use it run on worker threads, like ComfyUI's), whose
hosts come from its arguments, so tests point it at a loopback fake. The queue answers with
the request's status, result and cancel URLs; those are what we follow and checkpoint, since
for an endpoint with a sub-path they are not the endpoint id (``owner/app/requests/ID``).
The key goes only to the queue and REST hosts, never to the CDN, and never into a message.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import re
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from i2v.backends.fal.errors import BACKEND, error_for, failure_of, header_number
from i2v.backends.fal.values import (
    CancelOutcome,
    FalRequest,
    FalResult,
    Progress,
    ProgressFn,
    QueueState,
    Status,
    integer,
    progress_of,
    result_of,
)
from i2v.errors import (
    BackendProtocolError,
    ConfigError,
    HostedGone,
    HostedUnavailable,
    InvalidParameter,
    OutputExists,
    OutputTooLarge,
    RunTimedOut,
)

if TYPE_CHECKING:
    from i2v.config import Settings

Clock = Callable[[], float]
Sleep = Callable[[float], None]
JsonValue = str | int | float | bool | None | Sequence["JsonValue"] | Mapping[str, "JsonValue"]
Arguments = Mapping[str, JsonValue]
POLL_S = 1.0
LIFECYCLE = "X-Fal-Object-Lifecycle-Preference"
IDENTITY = {"Accept-Encoding": "identity"}  # bytes as stored: the size cap counts those
CHUNK = 1 << 16
# owner/app[/path...]: no empty, "." or ".." segment, nothing to escape.
_KEY = re.compile(r"[!-~]+")
_ENDPOINT = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*)+")


@functools.cache
def _tls() -> ssl.SSLContext:
    """The process's one TLS context for fal, made on first use: loading the CA bundle took
    20-45 ms, twice per job (a job builds a client, and a client two httpx clients)."""
    return httpx.create_ssl_context()


def _public(url: str) -> str:
    """A URL fit for a message: no query (signed links carry secrets), no userinfo."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


class FalClient:
    """fal's queue and storage, for one key; every call has a timeout, every wait a deadline."""

    def __init__(
        self,
        key: SecretStr | str,
        *,
        queue_url: str = "https://queue.fal.run",
        rest_url: str = "https://rest.fal.ai",
        start_timeout_s: float | None = None,
        timeout_s: float = 30.0,
        data_uri_max_bytes: int = 256 * 1024,
        upload_lifetime_s: int = 86_400,
        output_lifetime_s: int | None = 86_400,
        max_output_bytes: int = 500 * 1024 * 1024,
        download_timeout_s: float = 300.0,
        poll_s: float = POLL_S,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if start_timeout_s is not None and start_timeout_s <= 1:
            raise ValueError("fal needs a start timeout over 1 s")
        secret = key.get_secret_value() if isinstance(key, SecretStr) else key
        if not _KEY.fullmatch(secret):  # else it fails only when sent, as a network error
            raise ConfigError("I2V_FAL_KEY is not a fal key (printable ASCII, no spaces)")
        self._queue_url = queue_url.rstrip("/")
        self._rest_url = rest_url.rstrip("/")
        self.start_timeout_s = start_timeout_s
        self.data_uri_max_bytes = data_uri_max_bytes
        self.upload_lifetime_s = upload_lifetime_s
        self.output_lifetime_s = output_lifetime_s
        self.max_output_bytes = max_output_bytes
        self.download_timeout_s = download_timeout_s
        self._poll_s = poll_s
        self._clock = clock
        self._sleep = sleep
        # Redirects are never followed: they could carry the key to another host.
        self._api = httpx.Client(
            headers={"Authorization": f"Key {secret}", "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
            verify=_tls(),
        )
        self._plain = httpx.Client(
            timeout=timeout_s, transport=transport, follow_redirects=False, verify=_tls()
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> FalClient:
        """The client the I2V_FAL_* settings describe; `overrides` for clock, sleep, transport."""
        if settings.fal_key is None or not settings.fal_key.get_secret_value():
            raise ConfigError("backend fal needs an API key: set I2V_FAL_KEY")
        options: dict[str, Any] = {
            "queue_url": settings.fal_queue_url,
            "rest_url": settings.fal_rest_url,
            "start_timeout_s": settings.fal_request_timeout_s,
            "timeout_s": settings.fal_http_timeout_s,
            "data_uri_max_bytes": settings.fal_data_uri_max_kb * 1024,
            "upload_lifetime_s": settings.fal_upload_lifetime_s,
            "output_lifetime_s": settings.fal_output_lifetime_s,
            "max_output_bytes": settings.fal_max_output_mb * 1024 * 1024,
            "download_timeout_s": settings.fal_download_timeout_s,
            "poll_s": settings.fal_poll_s,
        }
        return cls(settings.fal_key, **(options | overrides))

    def __repr__(self) -> str:
        return f"FalClient(queue_url={self._queue_url!r})"

    def close(self) -> None:
        self._api.close()
        self._plain.close()

    def __enter__(self) -> FalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queue ---------------------------------------------------------------------------

    def submit(
        self, endpoint_id: str, arguments: Arguments, *, webhook_url: str | None = None
    ) -> FalRequest:
        """Queue a request; checkpoint the answer at once, before anything else can fail.

        A connection that breaks here is ambiguous (fal may have queued the request), so the
        HostedUnavailable it raises is retryable at the risk of a second, billed run.
        """
        _check_endpoint(endpoint_id)
        headers = {}
        if self.start_timeout_s is not None:
            headers["X-Fal-Request-Timeout"] = f"{self.start_timeout_s:g}"
        if self.output_lifetime_s is not None:  # fal deletes the output files after this
            headers[LIFECYCLE] = _lifetime(self.output_lifetime_s)
        params = {"fal_webhook": webhook_url} if webhook_url else None
        url = f"{self._queue_url}/{endpoint_id}"
        body = self._json(self._call("POST", url, json=arguments, headers=headers, params=params))
        request_id = body.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise self._garbage(url, "no request_id in the submit answer")
        urls = {}
        for name in ("status_url", "response_url", "cancel_url"):
            value = body.get(name)
            if not isinstance(value, str) or _origin(value) != _origin(self._queue_url):
                raise self._garbage(url, f"{name} is missing or not on the queue host")
            urls[name] = value
        return FalRequest(endpoint_id, request_id, **urls)

    def known(self, endpoint_id: str, request_id: str) -> FalRequest:
        """A request from its id alone, as fal_client rebuilds it: URLs under owner/app only."""
        _check_endpoint(endpoint_id)
        owner_app = "/".join(endpoint_id.split("/")[:2])
        base = f"{self._queue_url}/{owner_app}/requests/{quote(request_id, safe='')}"
        return FalRequest(endpoint_id, request_id, f"{base}/status", base, f"{base}/cancel")

    def status(self, request: FalRequest, *, logs: bool = True) -> Status:
        params = {"logs": "1"} if logs else None
        response = self._call("GET", request.status_url, params=params, request=request)
        body = self._json(response)
        try:
            state = QueueState(str(body.get("status")))
        except ValueError:
            raise self._garbage(
                request.status_url, f"unknown status {body.get('status')!r}"
            ) from None
        lines = body.get("logs")
        messages = tuple(
            str(line.get("message", ""))
            for line in (lines if isinstance(lines, list) else ())
            if isinstance(line, Mapping)
        )
        failed = state is QueueState.COMPLETED and bool(body.get("error"))
        return Status(state, integer(body.get("queue_position")), messages, failed)

    def wait(
        self,
        request: FalRequest,
        *,
        timeout_s: float,
        on_progress: ProgressFn | None = None,
        done: Callable[[], bool] | None = None,
        status_every_s: float | None = None,
    ) -> Status:
        """Follow a request until COMPLETED, reporting progress; cancel it past `timeout_s`.

        A failed request also ends COMPLETED; its result call says why, so `result` raises.
        `done` is checked every `poll_s` and the status only every `status_every_s` (default:
        every `poll_s`); once `done` says the request ended (its webhook came), the status is
        asked at once, so the answer is still the queue's own.
        """
        ends = self._clock() + timeout_s
        every = self._poll_s if status_every_s is None else status_every_s
        due = self._clock()
        last: Progress | None = None
        while True:
            # At the deadline the status is asked once more, as at every poll before it.
            if self._clock() >= min(due, ends) or (done is not None and done()):
                status = self.status(request)
                last = progress_of(status)
                # Every poll, news or not: a caller checks for a cancel in its callback.
                if on_progress is not None:
                    on_progress(last)
                if status.state is QueueState.COMPLETED:
                    return status
                due = self._clock() + every
            elif on_progress is not None and last is not None:
                on_progress(last)  # between status polls too: a cancel is seen within poll_s
            if self._clock() >= ends:
                with contextlib.suppress(HostedUnavailable, HostedGone, BackendProtocolError):
                    self.cancel(request)
                raise RunTimedOut(
                    f"fal request {request.request_id} not done within {timeout_s:g} s",
                    timeout_s=timeout_s,
                    backend=BACKEND,
                    server=_public(request.status_url),
                    prompt_id=request.request_id,
                )
            self._sleep(min(self._poll_s, max(ends - self._clock(), 0.0)))

    def result(self, request: FalRequest) -> FalResult:
        """The output of a COMPLETED request, or the typed error of a failed one."""
        body = self._json(self._call("GET", request.response_url, request=request))
        result = result_of(body)
        if result is None:
            raise self._garbage(request.response_url, "the result has no video.url")
        return result

    def cancel(self, request: FalRequest) -> CancelOutcome:
        """Remove a queued request, or signal a running one; every documented answer is data."""
        try:
            response = self._api.put(request.cancel_url)
        except httpx.HTTPError as exc:
            raise self._unreachable(request.cancel_url, exc, request) from exc
        if response.status_code == 404:
            return CancelOutcome.NOT_FOUND
        if response.status_code in (200, 202, 400):
            value = self._json(response).get("status")
            with contextlib.suppress(ValueError):
                return CancelOutcome(str(value))
            raise self._garbage(request.cancel_url, f"unknown cancel answer {value!r}")
        raise self._error(response, request)

    # -- storage and CDN -----------------------------------------------------------------

    def file_url(self, data: bytes, *, content_type: str, file_name: str) -> str:
        """A URL the model can read `data` from: a data: URI when small, else an upload."""
        if len(data) <= self.data_uri_max_bytes:
            return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"
        return self.upload(data, content_type=content_type, file_name=file_name)

    def upload(self, data: bytes, *, content_type: str, file_name: str) -> str:
        """Store `data` on fal's CDN (token, then one POST), kept `upload_lifetime_s`."""
        token_url = f"{self._rest_url}/storage/auth/token"
        grant = self._json(
            self._call("POST", token_url, params={"storage_type": "fal-cdn-v3"}, json={})
        )
        token, base = grant.get("token"), grant.get("base_url")
        if not isinstance(token, str) or not isinstance(base, str) or not token:
            raise self._garbage(token_url, "no token or base_url in the storage grant")
        upload_url = f"{base.rstrip('/')}/files/upload"
        lifecycle = _lifetime(self.upload_lifetime_s)
        headers = {
            "Authorization": f"{grant.get('token_type') or 'Bearer'} {token}",
            "Content-Type": content_type,
            "X-Fal-File-Name": file_name,
            "X-Fal-Object-Lifecycle": lifecycle,
            LIFECYCLE: lifecycle,
        }
        try:
            response = self._plain.post(upload_url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise self._unreachable(upload_url, exc) from exc
        if not response.is_success:
            raise self._error(response)
        access_url = self._json(response).get("access_url")
        if not isinstance(access_url, str) or not access_url.startswith(("https://", "http://")):
            raise self._garbage(upload_url, "no access_url in the upload answer")
        return access_url

    def download(
        self,
        url: str,
        dest: Path,
        *,
        max_bytes: int | None = None,
        timeout_s: float | None = None,
    ) -> int:
        """Stream an output file to `dest` (which must not exist), capped in size and time.

        The key is not sent: CDN links need none. A partial file is removed on any failure.
        """
        max_bytes = self.max_output_bytes if max_bytes is None else max_bytes
        timeout_s = self.download_timeout_s if timeout_s is None else timeout_s
        ends = self._clock() + timeout_s
        public = _public(url)
        where = {"backend": BACKEND, "server": public}
        over = f"{public} is over the download limit of {max_bytes} bytes"
        try:
            out = dest.open("xb")
        except FileExistsError:
            raise OutputExists(dest, f"{dest} exists; fal output never replaces it") from None
        written = 0
        try:
            with out, self._plain.stream("GET", url, headers=IDENTITY) as response:
                if response.status_code in (403, 404, 410):  # an expired or deleted link
                    message = f"fal's CDN no longer has {public} (HTTP {response.status_code})"
                    raise HostedGone(message, url=public, **where)
                if not response.is_success:
                    response.read()
                    raise self._error(response)
                declared = integer(header_number(response.headers.get("content-length")))
                if declared is not None and declared > max_bytes:
                    raise OutputTooLarge(over, url=public, limit=max_bytes, **where)
                for chunk in response.iter_raw(CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise OutputTooLarge(over, url=public, limit=max_bytes, **where)
                    if self._clock() > ends:
                        message = f"downloading {public} took over {timeout_s:g} s"
                        raise RunTimedOut(message, timeout_s=timeout_s, retryable=True, **where)
                    out.write(chunk)
        except httpx.HTTPError as exc:
            dest.unlink(missing_ok=True)
            raise self._unreachable(url, exc) from exc
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return written

    # -- plumbing ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        *,
        request: FalRequest | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        try:
            response = self._api.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unreachable(url, exc, request) from exc
        if not response.is_success:
            raise self._error(response, request)
        return response

    def _error(self, response: httpx.Response, request: FalRequest | None = None) -> Exception:
        try:
            body = response.json()
        except ValueError:
            body = None
        return error_for(
            failure_of(
                response.status_code,
                response.headers,
                body,
                url=_public(str(response.request.url)),
                reason=response.reason_phrase,
                start_timeout_s=self.start_timeout_s,
                request_id=request.request_id if request else None,
            )
        )

    def _json(self, response: httpx.Response) -> Mapping[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, Mapping):
            raise self._garbage(str(response.request.url), "the answer is not a JSON object")
        return body

    def _garbage(self, url: str, reason: str) -> BackendProtocolError:
        return BackendProtocolError(
            f"{_public(url)}: {reason}", backend=BACKEND, server=_public(url)
        )

    def _unreachable(
        self, url: str, exc: httpx.HTTPError, request: FalRequest | None = None
    ) -> HostedUnavailable:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        return HostedUnavailable(
            f"{_public(url)} {kind}: {type(exc).__name__}",
            backend=BACKEND,
            server=_public(url),
            prompt_id=request.request_id if request else None,
        )


def _check_endpoint(endpoint_id: str) -> None:
    if not _ENDPOINT.fullmatch(endpoint_id):
        raise InvalidParameter("endpoint_id", endpoint_id, f"{endpoint_id!r} is no fal app id")


def _lifetime(seconds: int) -> str:
    return json.dumps({"expiration_duration_seconds": seconds})
