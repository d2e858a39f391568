"""SafeFetcher against real HTTP(S) servers on 127.0.0.1 that the tests start; no outside network.

Host names such as ``images.test`` exist only in a fake resolver, so any connection that did not
go through the pinned, checked address would fail to resolve instead of succeeding by accident.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from i2v.errors import BlockedUrl, FetchFailed, FetchRefused, FetchTimeout, FetchTooLarge
from i2v.net.fetch import FetchPolicy, SafeFetcher
from i2v.net.ssrf import IPAddress
from i2v.net.webhooks import SIGNATURE_HEADER, WebhookEvent, sign, verify

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SECRET = b"whsec_test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- a tiny scripted HTTP/1.1 server --------------------------------------------------------


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_length: bool = True  # False: no Content-Length, the body ends when the socket closes
    stall_s: float = 0.0  # wait before answering (or until the client hangs up)
    stall_after_s: float = 0.0  # wait after the first half of the body
    repeat_body: int = 1  # send the body this many times (close-delimited streams)


Handler = Callable[[Seen], Reply]


@dataclass
class Server:
    port: int
    seen: list[Seen]

    def url(self, path: str = "/", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


async def _wait_or_hangup(reader: asyncio.StreamReader, seconds: float) -> None:
    """Sleep up to ``seconds``, returning early when the client closes the connection."""
    with suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(reader.read(1), timeout=seconds)


@asynccontextmanager
async def serve(
    handler: Handler, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[Server]:
    seen: list[Seen] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.rstrip("\r\n").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Seen(method, target, headers, body)
            seen.append(request)
            reply = handler(request)
            if reply.stall_s:
                await _wait_or_hangup(reader, reply.stall_s)
            out = [f"HTTP/1.1 {reply.status} X", "Connection: close"]
            out += [f"{name}: {value}" for name, value in reply.headers.items()]
            if reply.content_length:
                out.append(f"Content-Length: {len(reply.body) * reply.repeat_body}")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
            half = len(reply.body) // 2
            writer.write(reply.body[:half])
            await writer.drain()
            if reply.stall_after_s:
                await _wait_or_hangup(reader, reply.stall_after_s)
            writer.write(reply.body[half:])
            for _ in range(reply.repeat_body - 1):
                writer.write(reply.body)
                await writer.drain()
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    server = await asyncio.start_server(on_client, host, 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Server(port, seen)
    finally:
        server.close()
        await server.wait_closed()


class FakeResolver:
    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.calls.append(host)
        return [ipaddress.ip_address(text) for text in self.table[host]]


def ok(body: bytes = b"hello", content_type: str = "image/png") -> Handler:
    return lambda _request: Reply(body=body, headers={"Content-Type": content_type})


def loopback_fetcher(allow: list[str] | None = None, **policy: float) -> SafeFetcher:
    resolver = FakeResolver({"images.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    limits = FetchPolicy(allow=["127.0.0.1"] if allow is None else allow, timeout_s=3.0)
    return SafeFetcher(
        FetchPolicy(
            max_bytes=int(policy.get("max_bytes", limits.max_bytes)),
            timeout_s=policy.get("timeout_s", limits.timeout_s),
            max_redirects=int(policy.get("max_redirects", limits.max_redirects)),
            allow=limits.allow,
        ),
        resolver=resolver,
    )


# -- GET ----------------------------------------------------------------------------------


async def test_an_allowed_loopback_address_is_fetched() -> None:
    async with serve(ok(b"\x89PNG fake")) as server:
        body = await loopback_fetcher().get(server.url("/a.png?sig=1"))
    assert body.data == b"\x89PNG fake"
    assert (body.status, body.content_type) == (200, "image/png")
    assert body.url == body.final_url == server.url("/a.png?sig=1")
    [request] = server.seen
    assert (request.method, request.target) == ("GET", "/a.png?sig=1")
    assert request.headers["user-agent"].startswith("i2v/")


async def test_without_the_allow_list_loopback_is_refused_before_connecting() -> None:
    async with serve(ok()) as server:
        with pytest.raises(BlockedUrl, match="is a loopback address"):
            await loopback_fetcher(allow=[]).get(server.url())
    assert server.seen == []


async def test_a_name_connects_to_its_pinned_address_and_keeps_its_host_header() -> None:
    fetcher = loopback_fetcher(allow=["images.test"])
    async with serve(ok(b"pinned")) as server:
        body = await fetcher.get(server.url("/x", host="images.test"))
    assert body.data == b"pinned"
    assert server.seen[0].headers["host"] == f"images.test:{server.port}"
    assert isinstance(fetcher.resolver, FakeResolver)
    assert fetcher.resolver.calls == ["images.test"]  # resolved once, then pinned


async def test_the_next_pinned_address_is_tried_when_one_refuses() -> None:
    resolver = FakeResolver({"images.test": ["127.0.0.2", "127.0.0.1"]})  # nothing on .2
    fetcher = SafeFetcher(FetchPolicy(allow=["images.test"], timeout_s=3), resolver=resolver)
    async with serve(ok(b"second")) as server:
        assert (await fetcher.get(server.url(host="images.test"))).data == b"second"


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
async def test_ipv6_literals_and_names_are_pinned_too() -> None:
    resolver = FakeResolver({"v6.test": ["::1"]})
    fetcher = SafeFetcher(FetchPolicy(allow=["::1", "v6.test"], timeout_s=3), resolver=resolver)
    async with serve(ok(b"six"), host="::1") as server:
        assert (await fetcher.get(server.url(host="[::1]"))).data == b"six"
        assert (await fetcher.get(server.url(host="v6.test"))).data == b"six"
    assert server.seen[0].headers["host"] == f"[::1]:{server.port}"
    assert server.seen[1].headers["host"] == f"v6.test:{server.port}"


async def test_environment_proxies_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: would fail if used
    async with serve(ok(b"direct")) as server:
        assert (await loopback_fetcher().get(server.url())).data == b"direct"


async def test_redirects_are_followed_and_each_hop_is_checked() -> None:
    def handler(request: Seen) -> Reply:
        if request.target == "/start":
            return Reply(302, {"Location": "/middle"})
        if request.target == "/middle":
            return Reply(301, {"Location": f"http://images.test:{server.port}/final"})
        return Reply(body=b"final")

    fetcher = loopback_fetcher(allow=["127.0.0.1", "images.test"])
    async with serve(handler) as server:
        body = await fetcher.get(server.url("/start"))
    assert body.data == b"final"
    assert body.final_url == server.url("/final", host="images.test")
    assert [r.target for r in server.seen] == ["/start", "/middle", "/final"]
    assert server.seen[2].headers["host"] == f"images.test:{server.port}"


async def test_a_redirect_to_a_loopback_literal_is_refused_when_only_the_name_is_allowed() -> None:
    fetcher = loopback_fetcher(allow=["images.test"])
    async with serve(lambda _r: Reply(302, {"Location": f"http://127.0.0.1:{port}/"})) as server:
        port = server.port
        with pytest.raises(BlockedUrl) as caught:
            await fetcher.get(server.url("/", host="images.test"))
    assert caught.value.reason == f"127.0.0.1:{port} is a loopback address (127.0.0.0/8)"
    assert caught.value.address == "127.0.0.1"
    assert len(server.seen) == 1  # the redirect target was never contacted


async def test_a_name_rebound_to_a_private_address_between_hops_is_refused() -> None:
    class Rebinding(FakeResolver):
        async def resolve(self, host: str, port: int) -> list[IPAddress]:
            self.calls.append(host)
            return [ipaddress.ip_address("127.0.0.1" if len(self.calls) == 1 else "10.0.0.1")]

    resolver = Rebinding({})
    fetcher = SafeFetcher(FetchPolicy(allow=["127.0.0.1"], timeout_s=3), resolver=resolver)
    async with serve(lambda _r: Reply(302, {"Location": "/again"})) as server:
        with pytest.raises(BlockedUrl, match=r"resolves to 10\.0\.0\.1, a private address"):
            await fetcher.get(server.url("/", host="rebind.test"))
    assert resolver.calls == ["rebind.test", "rebind.test"]
    assert len(server.seen) == 1


async def test_a_redirect_to_another_scheme_is_refused() -> None:
    async with serve(lambda _r: Reply(307, {"Location": "file:///etc/passwd"})) as server:
        with pytest.raises(BlockedUrl, match="scheme 'file' is not allowed"):
            await loopback_fetcher().get(server.url())


async def test_too_many_redirects() -> None:
    def handler(request: Seen) -> Reply:
        hop = int(request.target.strip("/") or 0)
        return Reply(302, {"Location": f"/{hop + 1}"}) if hop < 10 else Reply(body=b"end")

    async with serve(handler) as server:
        with pytest.raises(FetchFailed, match=r"too many redirects \(more than 3\)") as caught:
            await loopback_fetcher().get(server.url("/0"))
        assert len(server.seen) == 4  # the first request and three redirects
        assert caught.value.status == 302
        assert not caught.value.retryable
        server.seen.clear()
        body = await loopback_fetcher(max_redirects=3).get(server.url("/7"))
        assert (body.data, len(server.seen)) == (b"end", 4)


async def test_a_body_declared_over_the_limit_is_refused_before_reading() -> None:
    async with serve(ok(b"x" * 1000)) as server:
        with pytest.raises(FetchTooLarge) as caught:
            await loopback_fetcher(max_bytes=999).get(server.url())
    assert (caught.value.limit, caught.value.size) == (999, 1000)
    assert "999 bytes" in str(caught.value)


async def test_a_body_without_length_is_cut_off_at_the_limit() -> None:
    endless = Reply(body=b"y" * 65536, content_length=False, repeat_body=200)
    async with serve(lambda _r: endless) as server:
        started = time.monotonic()
        with pytest.raises(FetchTooLarge) as caught:
            await loopback_fetcher(max_bytes=100_000).get(server.url())
    assert caught.value.size is None
    assert time.monotonic() - started < 2  # stopped early, not after 13 MB


async def test_a_body_exactly_at_the_limit_is_accepted() -> None:
    async with serve(lambda _r: Reply(body=b"z" * 4096, content_length=False)) as server:
        assert len((await loopback_fetcher(max_bytes=4096).get(server.url())).data) == 4096


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "GZIP", "identity, gzip"])
async def test_a_compressed_body_is_refused_before_it_is_decoded(encoding: str) -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = b"".join(bomb.compress(bytes(1 << 20)) for _ in range(64)) + bomb.flush()
    reply = Reply(body=body, headers={"Content-Encoding": encoding})
    async with serve(lambda _r: reply) as server:
        with pytest.raises(FetchRefused) as caught:
            await loopback_fetcher(max_bytes=len(body) * 2).get(server.url("/bomb.png?sig=1"))
    assert caught.value.url == server.url("/bomb.png")
    assert f"Content-Encoding {encoding.lower()!r}" in caught.value.reason
    assert server.seen[0].headers["accept-encoding"] == "identity"


async def test_an_identity_encoded_body_is_read_as_sent() -> None:
    reply = Reply(body=b"\x1f\x8b not decoded", headers={"Content-Encoding": "identity"})
    async with serve(lambda _r: reply) as server:
        assert (await loopback_fetcher().get(server.url())).data == b"\x1f\x8b not decoded"


@pytest.mark.parametrize("stall", ["before the headers", "in the middle of the body"])
async def test_a_stalled_server_is_a_quick_timeout(stall: str) -> None:
    reply = (
        Reply(body=b"late", stall_s=10)
        if stall == "before the headers"
        else Reply(body=b"x" * 100, stall_after_s=10)
    )
    async with serve(lambda _r: reply) as server:
        started = time.monotonic()
        with pytest.raises(FetchTimeout) as caught:
            await loopback_fetcher(timeout_s=0.3).get(server.url("/slow?token=secret"))
    assert time.monotonic() - started < 1.5
    assert caught.value.retryable
    assert str(caught.value) == f"{server.url('/slow')}: no complete answer within 0.3 s"


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (404, False)])
async def test_error_statuses_fail_with_the_status(status: int, retryable: bool) -> None:
    async with serve(lambda _r: Reply(status, body=b"oops")) as server:
        with pytest.raises(FetchFailed) as caught:
            await loopback_fetcher().get(server.url("/p"))
    assert caught.value.status == status
    assert caught.value.retryable is retryable
    assert str(caught.value) == f"{server.url('/p')}: answered {status}"


async def test_a_refused_connection_is_a_retryable_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchFailed, match="connection failed") as caught:
        await loopback_fetcher().get(f"http://127.0.0.1:{port}/")
    assert caught.value.status is None
    assert caught.value.retryable


# -- TLS: the pinned connection still verifies the certificate against the host name --------


@dataclass
class Pki:
    ca_pem: bytes
    chains: dict[str, tuple[Path, Path]]  # name -> (cert chain, key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    pem = serialization.Encoding.PEM

    def build(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: str,
        signer: ec.EllipticCurvePrivateKey,
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        build("i2v test CA", ca_key, "i2v test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("pki")
    chains = {}
    sans: dict[str, list[x509.GeneralName]] = {
        "images.test": [x509.DNSName("images.test")],
        # Valid for the pinned IP but not for the name: must NOT be accepted for images.test.
        "ip-only": [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))],
    }
    for name, alt_names in sans.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            build(name, key, "i2v test CA", ca_key)
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(pem))
        key_path.write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        chains[name] = (cert_path, key_path)
    return Pki(ca.public_bytes(pem), chains)


def server_tls(pki: Pki, name: str, sni_seen: list[str | None]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*pki.chains[name])
    context.sni_callback = lambda _obj, server_name, _ctx: sni_seen.append(server_name)
    return context


def tls_fetcher(pki: Pki) -> SafeFetcher:
    client = ssl.create_default_context(cadata=pki.ca_pem.decode("ascii"))
    resolver = FakeResolver({"images.test": ["127.0.0.1"]})
    policy = FetchPolicy(allow=["images.test"], timeout_s=3)
    return SafeFetcher(policy, resolver=resolver, ssl_context=client)


async def test_https_to_a_pinned_address_uses_the_name_for_sni_and_verification(pki: Pki) -> None:
    sni: list[str | None] = []
    async with serve(ok(b"secure"), tls=server_tls(pki, "images.test", sni)) as server:
        body = await tls_fetcher(pki).get(server.url("/s", host="images.test", scheme="https"))
    assert body.data == b"secure"
    assert sni == ["images.test"]
    assert server.seen[0].headers["host"] == f"images.test:{server.port}"


async def test_https_refuses_a_certificate_valid_only_for_the_pinned_ip(pki: Pki) -> None:
    sni: list[str | None] = []
    async with serve(ok(), tls=server_tls(pki, "ip-only", sni)) as server:
        with pytest.raises(FetchFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await tls_fetcher(pki).get(server.url(host="images.test", scheme="https"))
    assert sni == ["images.test"]
    assert server.seen == []


# -- webhooks -----------------------------------------------------------------------------


def receiver(secret: bytes) -> Handler:
    """Answers 204 when the signature verifies, 401 otherwise, like a customer's endpoint."""

    def handle(request: Seen) -> Reply:
        header = request.headers.get(SIGNATURE_HEADER.lower(), "")
        good = verify(secret, request.body, header, now=time.time())
        return Reply(204 if good else 401)

    return handle


async def test_a_signed_webhook_is_verified_by_the_receiver() -> None:
    event = WebhookEvent("evt_1", "job.succeeded", {"id": "job_1", "status": "succeeded"})
    body = event.to_json()
    headers = {SIGNATURE_HEADER: sign(SECRET, body, int(time.time())), "I2V-Event-Id": "evt_1"}
    async with serve(receiver(SECRET)) as server:
        status = await loopback_fetcher().post_json(server.url("/hook"), body, headers)
        assert status == 204
        [request] = server.seen
        assert (request.method, request.body) == ("POST", body)
        assert request.headers["content-type"] == "application/json"
        assert request.headers["i2v-event-id"] == "evt_1"

        wrong = {SIGNATURE_HEADER: sign(b"wrong secret", body, int(time.time()))}
        with pytest.raises(FetchFailed) as caught:
            await loopback_fetcher().post_json(server.url("/hook"), body, wrong)
    assert caught.value.status == 401
    assert not caught.value.retryable


async def test_a_webhook_answered_with_a_redirect_fails_and_is_not_followed() -> None:
    async with serve(receiver(SECRET)) as target:
        redirect = target.url("/hook")
        async with serve(lambda _r: Reply(302, {"Location": redirect})) as server:
            with pytest.raises(FetchFailed, match="redirects are not followed") as caught:
                await loopback_fetcher().post_json(server.url("/hook"), b"{}")
        assert target.seen == []
    assert caught.value.status == 302
    assert not caught.value.retryable


async def test_webhooks_get_the_same_address_checks() -> None:
    with pytest.raises(BlockedUrl, match="loopback"):
        await loopback_fetcher(allow=[]).post_json("http://images.test:9/hook", b"{}")
