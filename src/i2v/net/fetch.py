"""``SafeFetcher``: httpx, with every connection pinned to an address the SSRF policy checked.

How the pinning works
---------------------
httpx hands the network work to httpcore, and httpcore opens every TCP connection through one
call: ``AsyncNetworkBackend.connect_tcp(host, port, ...)``, with the host and port of the URL.
TLS comes afterwards, on the stream that call returned, through ``start_tls(server_hostname=
<the URL's host>)``. So ``PinnedNetworkBackend`` wraps httpcore's own anyio backend and
overrides only ``connect_tcp``: it looks ``(host, port)`` up in the pins that ``resolve_target``
produced for this fetch and dials those checked IP addresses, in order; a ``(host, port)`` with
no pin is refused (``BlockedUrl``), so nothing can connect around the check. Everything above
the socket is stock httpx/httpcore and still sees the original URL: the ``Host`` header, the TLS
SNI and certificate verification all use the host name, and DNS is asked exactly once per hop,
by the injected ``Resolver``. A rebinding DNS server gets no second question to answer.

httpx's own ``AsyncHTTPTransport`` takes no network backend (encode/httpx PR #3749 adds one), so
``PinnedTransport`` is a small ``httpx.AsyncBaseTransport`` over ``httpcore.AsyncConnectionPool
(network_backend=...)``, public API of both libraries. Rewriting the URL to the IP and passing
``Host`` plus the ``sni_hostname`` extension also works, but then the request, the pool keys
and the redirect base all carry the IP, and every layer has to be told the real name again.

Each ``get``/``post_json`` builds a fresh client, pool and pin table, closed at the end: no
connection, cookie or pin outlives a fetch, and concurrent fetches share nothing but the TLS
context. The client ignores the environment (``trust_env=False``): no proxy from
``HTTP(S)_PROXY``, which would resolve the name itself, and no ``.netrc`` credentials.

Limits
------
- ``timeout_s`` is one deadline for the whole call: every resolution, redirect, connection and
  the body (``anyio.fail_after``; httpx's per-operation timeouts are set to the same value).
- ``max_bytes`` is checked against ``Content-Length`` before reading and against the bytes
  received while streaming; the read stops at the first chunk over the limit.
- Bodies are read raw, never decoded: the request asks for ``Accept-Encoding: identity``, and
  an answer with any other ``Content-Encoding`` is refused (``FetchRefused``) before its body
  is read. A gzip body of a few hundred KB can inflate to gigabytes, and httpx decodes it in
  chunks of up to 64 MB before any limit could be checked; an image is compressed already, so
  a server has no reason to compress it again.
- ``get`` follows at most ``max_redirects`` redirects (301, 302, 303, 307, 308), each hop parsed,
  resolved and checked from scratch. ``post_json`` follows none: a 3xx answer is a failure.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import anyio
import httpcore
import httpx

from i2v import __version__
from i2v.config import Settings
from i2v.errors import BlockedUrl, FetchFailed, FetchRefused, FetchTimeout, FetchTooLarge
from i2v.net.ssrf import (
    AllowList,
    IPAddress,
    Resolver,
    SystemResolver,
    Target,
    display_url,
    parse_url,
    resolve_target,
)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = f"i2v/{__version__}"


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for fetching user-supplied URLs; ``allow`` admits private hosts (``AllowList``)."""

    max_bytes: int = 30 * 1024 * 1024  # as I2V_MAX_UPLOAD_MB: a URL is another way to upload
    timeout_s: float = 30.0
    max_redirects: int = 3
    allow: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {self.max_bytes}")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, not {self.timeout_s}")
        if self.max_redirects < 0:
            raise ValueError(f"max_redirects must be 0 or more, not {self.max_redirects}")
        AllowList.parse(self.allow)  # a malformed entry fails here, where it was written


@dataclass(frozen=True)
class FetchedBody:
    url: str  # as asked for
    final_url: str  # after redirects
    status: int
    content_type: str | None
    data: bytes


# -- the pinned connection layer ----------------------------------------------------------


class PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Dials only the checked addresses pinned for ``(host, port)``; see the module docstring."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()
        self._pins: dict[tuple[str, int], tuple[IPAddress, ...]] = {}

    def pin(self, target: Target) -> None:
        """Connections to ``target.host:target.port`` go to ``target.addresses`` from now on."""
        self._pins[(target.host.lower(), target.port)] = target.addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self._pins.get((host.lower(), port))
        if not addresses:
            raise BlockedUrl(f"{host}:{port}", "connection to a host that was not checked")
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedUrl(path, "Unix sockets are never used for fetching")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


_HTTPCORE_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as httpx's, as httpx's own transport raises them."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise httpx.TimeoutException(str(exc)) from exc
    except _HTTPCORE_ERRORS as exc:
        raise httpx.TransportError(str(exc) or type(exc).__name__) from exc


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if closer is not None:
            with _httpx_errors():
                await closer()


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool whose every connection is pinned."""

    def __init__(self, backend: PinnedNetworkBackend, ssl_context: ssl.SSLContext) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, network_backend=backend, http1=True, http2=False, retries=0
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = await self._pool.handle_async_request(core_request)
        assert isinstance(response.stream, typing.AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


# -- the fetcher --------------------------------------------------------------------------


class SafeFetcher:
    """Fetches user-supplied URLs under the SSRF policy; safe to share between tasks."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy if policy is not None else FetchPolicy()
        self.allow = AllowList.parse(self.policy.allow)  # ValueError on a malformed entry
        self.resolver: Resolver = resolver if resolver is not None else SystemResolver()
        self._ssl_context = ssl_context

    async def check(self, url: str | httpx.URL) -> Target:
        """Parse, resolve and check ``url`` without connecting (e.g. when a webhook is saved)."""
        return await resolve_target(parse_url(url), allow=self.allow, resolver=self.resolver)

    async def get(self, url: str) -> FetchedBody:
        """GET ``url``, following checked redirects; the whole body, at most ``max_bytes``."""
        first = current = parse_url(url)
        async with self._session(current) as session:
            for hop in range(self.policy.max_redirects + 1):
                response = await session.send("GET", current)
                try:
                    status = response.status_code
                    if status in REDIRECT_STATUSES:
                        current = self._redirect_target(current, response, hop)
                        continue
                    if not 200 <= status < 300:
                        raise FetchFailed(display_url(current), f"answered {status}", status=status)
                    data = await self._read_body(current, response)
                    return FetchedBody(
                        url=str(first),
                        final_url=str(current),
                        status=status,
                        content_type=response.headers.get("content-type"),
                        data=data,
                    )
                finally:
                    await response.aclose()
        raise AssertionError("unreachable: the last hop returns or raises")  # pragma: no cover

    async def post_json(
        self, url: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> int:
        """POST ``body`` as JSON (webhooks); returns the 2xx status, raises on anything else.

        Redirects are not followed: a 3xx is a non-retryable ``FetchFailed``.
        """
        target = parse_url(url)
        sent = {"content-type": "application/json"}
        sent.update({name.lower(): value for name, value in (headers or {}).items()})
        async with self._session(target) as session:
            response = await session.send("POST", target, content=body, headers=sent)
            await response.aclose()
        status = response.status_code
        shown = display_url(target)
        if 300 <= status < 400:
            reason = f"answered {status}; redirects are not followed for webhooks"
            raise FetchFailed(shown, reason, status=status, retryable=False)
        if not 200 <= status < 300:
            raise FetchFailed(shown, f"answered {status}", status=status)
        return status

    # -- internals ------------------------------------------------------------------------

    @asynccontextmanager
    async def _session(self, first: httpx.URL) -> AsyncIterator[_Session]:
        """One client, pool and pin table under one deadline; maps every failure to ours."""
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context(trust_env=False)
        session = _Session(self, first, self._ssl_context)
        try:
            with anyio.fail_after(self.policy.timeout_s):
                async with session.client:
                    yield session
        except (TimeoutError, httpx.TimeoutException):
            raise FetchTimeout(display_url(session.url), self.policy.timeout_s) from None
        except httpx.RequestError as exc:
            reason = str(exc) or type(exc).__name__
            raise FetchFailed(display_url(session.url), f"connection failed: {reason}") from None

    def _redirect_target(self, current: httpx.URL, response: httpx.Response, hop: int) -> httpx.URL:
        shown = display_url(current)
        status = response.status_code
        if hop >= self.policy.max_redirects:
            reason = f"too many redirects (more than {self.policy.max_redirects})"
            raise FetchFailed(shown, reason, status=status, retryable=False)
        location = response.headers.get("location")
        if not location:
            reason = f"answered {status} without a Location"
            raise FetchFailed(shown, reason, status=status, retryable=False)
        try:
            following = current.join(location)
        except httpx.InvalidURL as exc:
            reason = f"answered {status} with an invalid Location ({exc})"
            raise FetchFailed(shown, reason, status=status, retryable=False) from None
        return parse_url(following)

    async def _read_body(self, url: httpx.URL, response: httpx.Response) -> bytes:
        limit = self.policy.max_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise FetchTooLarge(display_url(url), limit, size=int(declared))
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            reason = f"answered with Content-Encoding {encoding!r}; only identity is accepted"
            raise FetchRefused(display_url(url), reason)
        data = bytearray()
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) > limit:
                raise FetchTooLarge(display_url(url), limit)
        return bytes(data)


class _Session:
    """One call's client and pinned backend, and the hop in flight (for error messages)."""

    def __init__(self, fetcher: SafeFetcher, first: httpx.URL, context: ssl.SSLContext) -> None:
        self.fetcher = fetcher
        self.url = first
        self.backend = PinnedNetworkBackend()
        self.timeout = httpx.Timeout(fetcher.policy.timeout_s)
        self.client = httpx.AsyncClient(
            transport=PinnedTransport(self.backend, context),
            trust_env=False,
            follow_redirects=False,
            timeout=self.timeout,
        )

    async def send(
        self,
        method: str,
        url: httpx.URL,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Check ``url`` (resolving it once), pin it, and send; the response body streams."""
        self.url = url
        self.backend.pin(await self.fetcher.check(url))
        request = httpx.Request(
            method,
            url,
            content=content,
            headers={
                "user-agent": USER_AGENT,
                "accept": "*/*",
                "accept-encoding": "identity",
                **(headers or {}),
            },
            extensions={"timeout": self.timeout.as_dict()},
        )
        return await self.client.send(request, stream=True)


def policy_from_settings(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        max_bytes=settings.max_upload_mb * 1024 * 1024,
        timeout_s=settings.fetch_timeout_s,
        max_redirects=settings.fetch_max_redirects,
        allow=list(settings.fetch_allow),
    )
