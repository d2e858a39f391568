"""The one exception tree of i2v; every error carries a stable code and its data.

Hierarchy (HTTP status codes, where any, are assigned only at the API edge)::

    I2VError                      code, message, retryable
    ├── InvalidInput              the caller sent something we refuse
    │   ├── InvalidParameter      a job parameter is out of range or malformed (field, value)
    │   │   └── UnknownMotion     --motion names no known camera motion
    │   └── ImageError            the input image is unusable (path)
    │       ├── ImageNotFound
    │       ├── NotAnImage        not PNG, JPEG or WebP
    │       ├── CorruptImage      truncated or undecodable
    │       ├── ImageTooLarge     over the pixel limit; refused from the header, never decoded
    │       └── ImageTooSmall
    │   ├── BlockedUrl            a fetched URL is refused: scheme, userinfo, port, address
    │   ├── FetchTooLarge         a fetched body is over the size limit (url, limit, size)
    │   ├── FetchRefused          a fetched answer is refused as sent, e.g. compressed (url)
    │   ├── BodyTooLarge          a request body is over its size limit (limit)
    │   │   └── UploadTooLarge    a multipart upload is over I2V_MAX_UPLOAD_MB
    │   └── PolicyRefused         the content policy refuses the job (field, category,
    │                             rating); code content_refused, never the matched words
    ├── NotFound                  no such user, key or job (or not yours: never say which)
    ├── Conflict                  the request collides with existing state (e.g. a taken name)
    │   └── DailyBudgetExceeded   a hosted job would pass its owner's daily spend cap (limit,
    │                             committed, estimate)
    ├── Unauthenticated           missing, malformed, unknown or revoked API key
    │   └── WebhookRejected       a vendor's webhook whose signature or timestamp does not
    │                             verify (reason)
    ├── Forbidden                 authenticated, but not allowed (e.g. not an admin)
    ├── LlmError                  the chat model failed: timeout, 5xx, 429 (retryable), or
    │                             a refusal or unusable answer (status); callers fall back
    ├── ConfigError               a setting (I2V_* or .env) is invalid
    │   └── FleetOff              a fleet operation while I2V_FLEET_ENABLED is false
    ├── OutputError               the destination cannot be written (path)
    │   ├── OutputExists          it exists and replacing was not asked for (--force)
    │   └── OutputIsInput         it is an input file (same file, link, or name but for case)
    ├── RenderError               rendering or encoding failed (retryable depends on the cause)
    ├── FetchError                fetching a URL failed upstream (url); retryable by default
    │   ├── FetchTimeout          the whole-fetch deadline passed (timeout_s)
    │   └── FetchFailed           non-2xx (status), bad redirect or connection failure
    ├── StorageError              object storage failed (key, where one is involved)
    │   ├── InvalidBlobKey        a storage key or prefix breaks the key rules, or clashes
    │   ├── BlobNotFound
    │   ├── RangeNotSatisfiable   the byte range starts past the end (byte_range, size)
    │   ├── StorageAccessDenied   credentials refused (HTTP 403) or a local permission error
    │   ├── BucketNotFound
    │   └── StorageUnavailable    unreachable, timed out, throttled, 5xx or disk full; retryable
    ├── ProviderError             a GPU provider call failed (provider, instance_id, status)
    │   ├── ProviderAuthError     the API key was refused
    │   ├── ProviderRateLimited   429 (retry_after); retryable
    │   ├── ProviderUnavailable   5xx, timeout or connection failure; retryable
    │   ├── OfferUnavailable      the offer was taken between search and launch; retryable
    │   └── ProviderRequestError  the provider refused the request (4xx) or answered garbage
    ├── FleetError                the fleet cannot provide a machine (provider, instance_id)
    │   ├── NoCapacity            no provider has an offer meeting the requirements; retryable
    │   ├── BudgetExceeded        a launch would pass an instance, hourly or daily limit
    │   ├── InstanceNotReady      an instance missed its readiness deadline (destroyed)
    │   └── InstanceTaken         a launch held for one run went to another run; retryable
    └── BackendError              a generation backend failed (backend, server, prompt_id)
        ├── WorkflowInvalid       the server refused the workflow (node_errors: node, class,
        │                         input, message); a bad parameter, never retried
        ├── ModelNotInstalled     loaders name model files the server lacks (missing: folder
        │                         and file of each, server); retryable on another server
        ├── OutOfMemory           the GPU ran out of memory; retryable on a bigger GPU
        ├── ExecutionFailed       a node raised (node, node_type, exception_type); traceback
        │                         kept for the job's events, never shown to users
        ├── Interrupted           the run was interrupted (by a cancel or by the server)
        ├── ServerUnreachable     connection refused, timed out or 5xx; retryable elsewhere
        ├── BackendProtocolError  the server answered something we cannot parse
        ├── HostedUnavailable     a hosted API (fal) is busy or failing: 429, 5xx, no runner,
        │                         startup timeout, X-Fal-Retryable (error_type); retryable
        ├── ContentRefused        a hosted model's safety check refused an input (field,
        │                         categories); never retried
        ├── StartTimeout          the request did not start within our start timeout
        │                         (timeout_s); the host gave up on it
        ├── RunTimedOut           a hosted request was not done by our deadline, or a
        │                         download by its time limit (retryable) (timeout_s)
        ├── HostedGone            the host no longer has the request or output file (404, an
        │                         expired CDN link; url)
        └── OutputTooLarge        an output file is over the download limit (url, limit)

URLs in fetch errors never include the query string or userinfo (signed URLs carry secrets).

Each subclass sets a class-level ``code``; instances may override ``retryable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any


class I2VError(Exception):
    """Base of every error i2v raises on purpose."""

    code = "i2v_error"
    retryable = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message


class InvalidInput(I2VError):
    code = "invalid_input"


class InvalidParameter(InvalidInput):
    code = "invalid_parameter"

    def __init__(self, field: str, value: object, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class PolicyRefused(InvalidInput):
    """The content policy refused a job before anything ran or was paid for.

    `category` is an always-refused kind (minors, non_consent, real_person) or "mature" (rated
    above what the job, its account or its backend allows); the message never quotes the
    matched words.
    """

    code = "content_refused"

    def __init__(self, message: str, *, field: str, category: str, rating: str) -> None:
        super().__init__(message)
        self.field = field  # prompt, image, rating or backend
        self.category = category
        self.rating = rating


class LlmError(I2VError):
    """The chat model gave no usable answer; the enhancer and captions fall back to rules."""

    code = "llm_error"

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status


class UnknownMotion(InvalidParameter):
    code = "unknown_motion"


class BackendUnavailable(InvalidParameter):
    """A known backend that this deployment has nothing to run on (no server, no fleet)."""

    code = "backend_unavailable"


class ImageError(InvalidInput):
    code = "invalid_image"

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(message)
        self.path = str(path)


class ImageNotFound(ImageError):
    code = "image_not_found"


class NotAnImage(ImageError):
    code = "not_an_image"


class CorruptImage(ImageError):
    code = "corrupt_image"


class ImageTooLarge(ImageError):
    code = "image_too_large"


class ImageTooSmall(ImageError):
    code = "image_too_small"


class NotFound(I2VError):
    code = "not_found"


class Conflict(I2VError):
    code = "conflict"


class DailyBudgetExceeded(Conflict):
    code = "daily_budget_exceeded"

    def __init__(
        self, message: str, *, limit: Decimal, committed: Decimal, estimate: Decimal
    ) -> None:
        super().__init__(message)
        self.limit = limit  # USD per UTC day
        self.committed = committed  # today's hosted jobs: actual costs, else estimates
        self.estimate = estimate  # this job's


class Unauthenticated(I2VError):
    code = "unauthenticated"


class WebhookRejected(Unauthenticated):
    """A webhook we cannot trust: headers missing, timestamp stale, or no key verifies it."""

    code = "webhook_rejected"

    def __init__(self, reason: str) -> None:
        super().__init__(f"webhook refused: {reason}")
        self.reason = reason


class Forbidden(I2VError):
    code = "forbidden"


class ConfigError(I2VError):
    code = "invalid_config"


class FleetOff(ConfigError):
    code = "fleet_off"


class OutputError(I2VError):
    code = "output_not_writable"

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(message)
        self.path = str(path)


class OutputExists(OutputError):
    code = "output_exists"


class OutputIsInput(OutputError):
    code = "output_is_input"


class RenderError(I2VError):
    code = "render_failed"


class BlockedUrl(InvalidInput):
    """A user-supplied URL that i2v refuses to fetch: scheme, userinfo, port or address."""

    code = "url_blocked"

    def __init__(self, url: str, reason: str, *, address: str | None = None) -> None:
        super().__init__(f"refused {url}: {reason}")
        self.url = url
        self.reason = reason
        self.address = address


class FetchTooLarge(InvalidInput):
    """The body is over the limit, declared up front (Content-Length) or counted while reading."""

    code = "fetch_too_large"

    def __init__(self, url: str, limit: int, *, size: int | None = None) -> None:
        detail = f"{size} bytes declared" if size is not None else "body kept coming"
        super().__init__(f"{url}: the body is over the limit of {limit} bytes ({detail})")
        self.url = url
        self.limit = limit
        self.size = size


class FetchRefused(InvalidInput):
    """The answer is refused as sent: a compressed ``Content-Encoding`` (a gzip bomb) is one."""

    code = "fetch_refused"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class BodyTooLarge(InvalidInput):
    """A request body over its limit, declared (Content-Length) or counted as it arrives."""

    code = "body_too_large"
    what = "the request body"

    def __init__(self, limit: int) -> None:
        super().__init__(f"{self.what} is over the limit of {limit} bytes")
        self.limit = limit


class UploadTooLarge(BodyTooLarge):
    code = "upload_too_large"
    what = "the upload"


class MusicTooLarge(UploadTooLarge):
    what = "the audio file"


class FetchError(I2VError):
    """Network or upstream trouble while fetching a URL; retryable unless said otherwise."""

    code = "fetch_error"
    retryable = True

    def __init__(self, url: str, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message, retryable=retryable)
        self.url = url


class FetchTimeout(FetchError):
    code = "fetch_timeout"

    def __init__(self, url: str, timeout_s: float) -> None:
        super().__init__(url, f"{url}: no complete answer within {timeout_s:g} s")
        self.timeout_s = timeout_s


class FetchFailed(FetchError):
    """A non-2xx status (``status``), a refused or broken redirect, or a connection failure."""

    code = "fetch_failed"

    def __init__(
        self, url: str, reason: str, *, status: int | None = None, retryable: bool | None = None
    ) -> None:
        if retryable is None:
            retryable = status is None or status >= 500 or status in (408, 429)
        super().__init__(url, f"{url}: {reason}", retryable=retryable)
        self.reason = reason
        self.status = status


class StorageError(I2VError):
    code = "storage_error"

    def __init__(
        self, message: str, *, key: str | None = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.key = key


class InvalidBlobKey(StorageError):
    code = "invalid_blob_key"


class BlobNotFound(StorageError):
    code = "blob_not_found"


class RangeNotSatisfiable(StorageError):
    code = "range_not_satisfiable"

    def __init__(
        self, key: str, byte_range: tuple[int, int | None], size: int | None, message: str
    ) -> None:
        super().__init__(message, key=key)
        self.byte_range = byte_range
        self.size = size  # the blob's size where known, for a `Content-Range: bytes */size` reply


class StorageAccessDenied(StorageError):
    code = "storage_access_denied"


class BucketNotFound(StorageError):
    code = "bucket_not_found"


class StorageUnavailable(StorageError):
    code = "storage_unavailable"
    retryable = True


class BackendError(I2VError):
    """A generation backend failed; says where, so retries can go elsewhere."""

    code = "backend_error"

    def __init__(
        self,
        message: str,
        *,
        backend: str,
        server: str | None = None,
        prompt_id: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.backend = backend
        self.server = server
        self.prompt_id = prompt_id


@dataclass(frozen=True, slots=True)
class NodeError:
    """One validation failure the server reported for one input of one node."""

    node_id: str
    class_type: str
    input_name: str | None
    kind: str  # the server's own type, e.g. value_not_in_list, value_smaller_than_min
    message: str
    received: object = None


class WorkflowInvalid(BackendError):
    code = "workflow_invalid"

    def __init__(self, message: str, *, node_errors: tuple[NodeError, ...] = (), **where: Any):
        super().__init__(message, retryable=False, **where)
        self.node_errors = node_errors


class ModelNotInstalled(BackendError):
    code = "model_not_installed"
    retryable = True  # on a server that has it

    def __init__(self, missing: Sequence[tuple[str | None, str]], **where: Any) -> None:
        """`missing`: (models folder, file name) of every model the server lacks."""
        server = where.get("server") or "the server"
        names = [name for _, name in missing]
        if len(names) == 1:
            message = f"model {names[0]} is not installed on {server}"
        else:
            message = f"models {', '.join(names)} are not installed on {server}"
        super().__init__(message, **where)
        self.missing = tuple(missing)
        self.folder, self.model = self.missing[0]


class OutOfMemory(BackendError):
    code = "out_of_memory"
    retryable = True  # on a GPU with more memory


class ExecutionFailed(BackendError):
    code = "execution_failed"

    def __init__(
        self,
        message: str,
        *,
        node_id: str | None = None,
        node_type: str | None = None,
        exception_type: str | None = None,
        traceback: str | None = None,
        **where: Any,
    ) -> None:
        super().__init__(message, **where)
        self.node_id = node_id
        self.node_type = node_type
        self.exception_type = exception_type
        self.traceback = traceback  # for the job's events; never in a user-facing message


class Interrupted(BackendError):
    code = "interrupted"


class ServerUnreachable(BackendError):
    code = "server_unreachable"
    retryable = True  # on another server


class BackendProtocolError(BackendError):
    code = "backend_protocol_error"
    retryable = True


class HostedUnavailable(BackendError):
    code = "hosted_unavailable"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        retry_after_s: float | None = None,
        **where: Any,
    ) -> None:
        super().__init__(message, **where)
        self.error_type = error_type  # the host's own, e.g. runner_scheduling_failure
        self.retry_after_s = retry_after_s


class ContentRefused(BackendError):
    code = "content_refused"
    retryable = False

    def __init__(
        self, message: str, *, field: str, categories: Sequence[str] = (), **where: Any
    ) -> None:
        super().__init__(message, **where)
        self.field = field  # which input was refused, e.g. prompt or image_url
        self.categories = tuple(categories)


class StartTimeout(BackendError):
    code = "start_timeout"

    def __init__(self, message: str, *, timeout_s: float | None, **where: Any) -> None:
        super().__init__(message, **where)
        self.timeout_s = timeout_s


class RunTimedOut(BackendError):
    code = "run_timed_out"

    def __init__(self, message: str, *, timeout_s: float, **where: Any) -> None:
        super().__init__(message, **where)
        self.timeout_s = timeout_s


class HostedGone(BackendError):
    code = "hosted_gone"

    def __init__(self, message: str, *, url: str, **where: Any) -> None:
        super().__init__(message, **where)
        self.url = url


class OutputTooLarge(BackendError):
    code = "output_too_large"

    def __init__(self, message: str, *, url: str, limit: int, **where: Any) -> None:
        super().__init__(message, **where)
        self.url = url
        self.limit = limit


class ProviderError(I2VError):
    """A GPU provider's API failed; carries which provider and instance, for cleanup."""

    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        instance_id: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.provider = provider
        self.instance_id = instance_id
        self.status = status


class ProviderAuthError(ProviderError):
    code = "provider_auth_error"


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None, **where: Any) -> None:
        super().__init__(message, **where)
        self.retry_after_s = retry_after_s


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"
    retryable = True


class OfferUnavailable(ProviderError):
    code = "offer_unavailable"
    retryable = True  # another offer may do


class ProviderRequestError(ProviderError):
    code = "provider_request_error"


class FleetError(I2VError):
    code = "fleet_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        instance_id: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.provider = provider
        self.instance_id = instance_id


class NoCapacity(FleetError):
    code = "no_capacity"
    retryable = True


class BudgetExceeded(FleetError):
    code = "budget_exceeded"


class InstanceNotReady(FleetError):
    code = "instance_not_ready"
    retryable = True


class InstanceTaken(FleetError):
    """A launch held for one run was made ready by reconcile and went to another run."""

    code = "instance_taken"
    retryable = True
