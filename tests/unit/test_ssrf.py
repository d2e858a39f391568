"""The SSRF policy: schemes, userinfo, every refused address class, the allow-list, pinning.

No test here opens a connection: the resolver is a fake and addresses are only classified.
"""

from __future__ import annotations

import ipaddress
import ssl

import httpx
import pytest

from i2v.errors import (
    BlockedUrl,
    FetchError,
    FetchFailed,
    FetchTimeout,
    FetchTooLarge,
    I2VError,
    InvalidInput,
)
from i2v.net.fetch import FetchPolicy, PinnedNetworkBackend, PinnedTransport, SafeFetcher
from i2v.net.ssrf import (
    AllowList,
    IPAddress,
    SystemResolver,
    address_verdict,
    display_url,
    embedded_ipv4,
    parse_url,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeResolver:
    """Answers from a table and records every question."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.calls.append((host, port))
        if host not in self.table:
            raise OSError(f"no such host {host}")
        return [ipaddress.ip_address(text) for text in self.table[host]]


def fetcher_for(*addresses: str, allow: list[str] | None = None) -> SafeFetcher:
    resolver = FakeResolver({"victim.test": list(addresses)})
    return SafeFetcher(FetchPolicy(allow=allow or []), resolver=resolver)


REFUSED = [
    ("127.0.0.1", "a loopback address (127.0.0.0/8)"),
    ("::1", "a loopback address (::1)"),
    ("10.0.0.1", "a private address (RFC 1918, 10.0.0.0/8)"),
    ("172.16.0.1", "a private address (RFC 1918, 172.16.0.0/12)"),
    ("192.168.1.1", "a private address (RFC 1918, 192.168.0.0/16)"),
    (
        "169.254.169.254",
        "a cloud metadata address (169.254.169.254, AWS, GCP, Azure, OpenStack and others)",
    ),
    ("169.254.1.1", "a link-local address (169.254.0.0/16)"),
    ("fd00:ec2::254", "a cloud metadata address (fd00:ec2::254, AWS IPv6)"),
    ("100.100.100.200", "a cloud metadata address (100.100.100.200, Alibaba Cloud)"),
    (
        "::ffff:127.0.0.1",
        "an IPv4-mapped IPv6 address of 127.0.0.1, a loopback address (127.0.0.0/8)",
    ),
    (
        "::127.0.0.1",
        "an IPv4-compatible IPv6 address of 127.0.0.1, a loopback address (127.0.0.0/8)",
    ),
    ("64:ff9b::7f00:1", "a NAT64 address of 127.0.0.1, a loopback address (127.0.0.0/8)"),
    ("2002:a00:1::1", "a 6to4 address of 10.0.0.1, a private address (RFC 1918, 10.0.0.0/8)"),
    (
        "::ffff:169.254.169.254",
        "an IPv4-mapped IPv6 address of 169.254.169.254, a cloud metadata address "
        "(169.254.169.254, AWS, GCP, Azure, OpenStack and others)",
    ),
    ("0.0.0.0", "the unspecified address (0.0.0.0)"),
    ("0.1.2.3", "a 'this network' address (0.0.0.0/8)"),
    ("::", "the unspecified address (::)"),
    ("fe80::1", "a link-local address (fe80::/10)"),
    ("fc00::1", "a unique local address (RFC 4193, fc00::/7)"),
    ("fd12:3456::1", "a unique local address (RFC 4193, fc00::/7)"),
    ("100.64.0.1", "a carrier-grade NAT address (RFC 6598, 100.64.0.0/10)"),
    ("224.0.0.1", "a multicast address (224.0.0.0/4)"),
    ("ff02::1", "a multicast address (ff00::/8)"),
    ("240.0.0.1", "a reserved address (240.0.0.0/4)"),
    ("255.255.255.255", "the broadcast address (255.255.255.255)"),
    ("192.0.2.1", "a documentation address (TEST-NET-1, 192.0.2.0/24)"),
    ("2001:db8::1", "a documentation address (2001:db8::/32)"),
    ("2001::1", "a Teredo tunnel address (2001::/32)"),
    ("198.18.0.1", "a benchmarking address (198.18.0.0/15)"),
    ("5f00::1", "a reserved address (outside global unicast 2000::/3)"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
async def test_every_refused_address_class_has_a_precise_message(address: str, reason: str) -> None:
    with pytest.raises(BlockedUrl) as caught:
        await fetcher_for(address).check("http://victim.test:8080/img.png?sig=secret")
    error = caught.value
    shown = str(ipaddress.ip_address(address))  # e.g. ::ffff:127.0.0.1 prints as ::ffff:7f00:1
    assert error.reason == f"victim.test:8080 resolves to {shown}, {reason}"
    assert str(error) == f"refused http://victim.test:8080/img.png: {error.reason}"
    assert error.address == shown
    assert error.code == "url_blocked"
    assert isinstance(error, InvalidInput)
    assert not error.retryable


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "127.0.0.1:80 is a loopback address (127.0.0.0/8)"),
        ("https://[::1]:8443/", "[::1]:8443 is a loopback address (::1)"),
        (
            "http://[::ffff:127.0.0.1]/",
            "[::ffff:127.0.0.1]:80 is an IPv4-mapped IPv6 address of 127.0.0.1, "
            "a loopback address (127.0.0.0/8)",
        ),
        ("http://[fe80::1%25eth0]/", "[fe80::1%25eth0]:80 is an IPv6 address with a zone index"),
    ],
)
async def test_ip_literals_are_checked_without_asking_dns(url: str, reason: str) -> None:
    resolver = FakeResolver({})
    fetcher = SafeFetcher(resolver=resolver)
    with pytest.raises(BlockedUrl) as caught:
        await fetcher.check(url)
    assert caught.value.reason == reason
    assert resolver.calls == []


async def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(BlockedUrl, match=r"resolves to 10\.0\.0\.7, a private address"):
        await fetcher_for("93.184.215.14", "10.0.0.7").check("https://victim.test/")


async def test_a_public_host_passes_with_every_address_resolved_once() -> None:
    resolver = FakeResolver({"cdn.example.": ["93.184.215.14", "2606:2800:21f:cb07::1"]})
    target = await SafeFetcher(resolver=resolver).check("https://CDN.example./a.jpg?x=1")
    assert resolver.calls == [("cdn.example.", 443)]
    assert target.host == "cdn.example."
    assert target.port == 443
    assert [str(a) for a in target.addresses] == ["93.184.215.14", "2606:2800:21f:cb07::1"]


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_and_their_ipv6_forms_pass(address: str) -> None:
    assert address_verdict(ipaddress.ip_address(address)) is None


def test_ipv6_and_ipv6_loopback_carry_no_ipv4() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("::1")) is None
    assert embedded_ipv4(ipaddress.IPv6Address("::")) is None
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700::1")) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.png", "scheme 'ftp' is not allowed (only http and https)"),
        ("file:///etc/passwd", "scheme 'file' is not allowed (only http and https)"),
        ("gopher://example.com:70/_x", "scheme 'gopher' is not allowed (only http and https)"),
        ("javascript:alert(1)", "scheme 'javascript' is not allowed (only http and https)"),
        ("http://user:pw@example.com/", "credentials in the URL (user:password@) are not allowed"),
        ("http://user@example.com/", "credentials in the URL (user:password@) are not allowed"),
        ("http://@example.com/", "credentials in the URL (user:password@) are not allowed"),
        (
            "http://example.com\\@127.0.0.1/",
            "credentials in the URL (user:password@) are not allowed",
        ),
        ("http:///path", "the URL has no host"),
        ("http://example.com:99999/", "port 99999 is out of range"),
    ],
)
def test_urls_refused_before_any_lookup(url: str, reason: str) -> None:
    with pytest.raises(BlockedUrl) as caught:
        parse_url(url)
    assert caught.value.reason == reason
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize("url", ["http://u:pw@[::1/x?k=pw", "http://u:pw@example.com:8x/?pw"])
def test_malformed_urls_are_refused_without_echoing_secrets(url: str) -> None:
    with pytest.raises(BlockedUrl, match="malformed URL") as caught:
        parse_url(url)
    assert "pw" not in caught.value.url


def test_display_url_drops_userinfo_query_and_fragment() -> None:
    url = httpx.URL("https://u:secret@Host.example:8443/a/b.png?X-Amz-Signature=abc#frag")
    assert display_url(url) == "https://host.example:8443/a/b.png"
    assert display_url(httpx.URL("http://[::1]/x")) == "http://[::1]/x"


# -- the allow-list -----------------------------------------------------------------------


async def test_an_allowed_name_admits_its_private_and_loopback_addresses() -> None:
    resolver = FakeResolver({"comfy.internal": ["10.1.2.3"], "images.test": ["127.0.0.1"]})
    fetcher = SafeFetcher(FetchPolicy(allow=["comfy.internal", "Images.Test."]), resolver=resolver)
    assert (await fetcher.check("http://comfy.internal:8188/view")).addresses == (
        ipaddress.IPv4Address("10.1.2.3"),
    )
    assert (await fetcher.check("http://images.test/")).port == 80
    other = SafeFetcher(FetchPolicy(allow=["images.test"]), resolver=resolver)
    with pytest.raises(BlockedUrl, match="private"):
        await other.check("http://comfy.internal/")


async def test_wildcards_admit_subdomains_only() -> None:
    resolver = FakeResolver({"a.svc.local": ["10.0.0.2"], "svc.local": ["10.0.0.3"]})
    fetcher = SafeFetcher(FetchPolicy(allow=["*.svc.local"]), resolver=resolver)
    await fetcher.check("http://a.svc.local/")
    with pytest.raises(BlockedUrl):
        await fetcher.check("http://svc.local/")


async def test_a_network_admits_addresses_inside_it_whatever_the_name() -> None:
    fetcher = fetcher_for("10.9.8.7", allow=["10.0.0.0/8", "127.0.0.1"])
    await fetcher.check("http://victim.test/")
    await fetcher.check("http://127.0.0.1:9000/")
    await fetcher.check("http://[::ffff:127.0.0.1]:9000/")  # the same address, IPv6 form
    with pytest.raises(BlockedUrl, match="loopback"):
        await fetcher.check("http://127.0.0.2/")
    with pytest.raises(BlockedUrl, match="loopback"):
        await fetcher.check("http://[::1]/")


async def test_loopback_needs_the_allow_list_even_when_private_networks_are_allowed() -> None:
    fetcher = fetcher_for("127.0.0.1", allow=["10.0.0.0/8", "192.168.0.0/16", "fc00::/7"])
    with pytest.raises(BlockedUrl, match="loopback"):
        await fetcher.check("http://victim.test/")


@pytest.mark.parametrize(
    ("address", "allow"),
    [
        ("169.254.169.254", ["169.254.0.0/16"]),
        ("169.254.169.254", ["0.0.0.0/0"]),
        ("169.254.169.254", ["victim.test"]),
        ("::ffff:169.254.169.254", ["::/0", "0.0.0.0/0"]),
        ("fd00:ec2::254", ["fc00::/7"]),
        ("100.100.100.200", ["100.64.0.0/10"]),
        ("0.0.0.0", ["0.0.0.0/8", "victim.test"]),
        ("224.0.0.1", ["224.0.0.0/4"]),
    ],
)
async def test_metadata_unspecified_and_multicast_are_never_admitted(
    address: str, allow: list[str]
) -> None:
    with pytest.raises(BlockedUrl):
        await fetcher_for(address, allow=allow).check("http://victim.test/")


@pytest.mark.parametrize("entry", ["not a host", "http://x.test/", "-bad.test", "a..b", "*."])
def test_malformed_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="allow-list entry"):
        AllowList.parse([entry])
    with pytest.raises(ValueError, match="allow-list entry"):
        FetchPolicy(allow=[entry])


def test_allow_list_parsing() -> None:
    allow = AllowList.parse([" images.test ", "*.Internal.", "10.0.0.1/8", "::1", ""])
    assert allow.names == frozenset({"images.test"})
    assert allow.suffixes == (".internal",)
    assert [str(n) for n in allow.networks] == ["10.0.0.0/8", "::1/128"]
    assert allow.admits_host("IMAGES.TEST.")
    assert allow.admits_host("x.y.internal")
    assert not allow.admits_host("internal")


# -- resolution failures, policy, errors ---------------------------------------------------


async def test_the_system_resolver_resolves_localhost_which_is_then_refused() -> None:
    addresses = await SystemResolver().resolve("localhost", 80)  # /etc/hosts, no network
    assert addresses
    assert all(address.is_loopback for address in addresses)
    with pytest.raises(BlockedUrl, match=r"localhost:80 resolves to .*, a loopback address"):
        await SafeFetcher().check("http://localhost/")


async def test_unresolvable_and_empty_answers_are_fetch_failures() -> None:
    fetcher = SafeFetcher(resolver=FakeResolver({"empty.test": []}))
    with pytest.raises(FetchFailed, match=r"cannot resolve nowhere\.test") as caught:
        await fetcher.check("http://nowhere.test/")
    assert caught.value.status is None
    with pytest.raises(FetchFailed, match="resolves to no address"):
        await fetcher.check("http://empty.test/")


async def test_the_backend_refuses_any_connection_that_was_not_pinned() -> None:
    backend = PinnedNetworkBackend()
    with pytest.raises(BlockedUrl, match="not checked"):
        await backend.connect_tcp("127.0.0.1", 80)
    with pytest.raises(BlockedUrl):
        await backend.connect_unix_socket("/var/run/docker.sock")


async def test_the_transport_sends_nothing_to_a_host_without_a_pin() -> None:
    transport = PinnedTransport(PinnedNetworkBackend(), ssl.create_default_context())
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(BlockedUrl, match=r"127\.0\.0\.1:9: connection to a host that was not"):
            await client.get("http://127.0.0.1:9/")


def test_policy_defaults_and_validation() -> None:
    policy = FetchPolicy()
    assert (policy.max_redirects, policy.allow) == (3, [])
    for bad in ({"max_bytes": 0}, {"timeout_s": 0}, {"max_redirects": -1}):
        with pytest.raises(ValueError, match="must"):
            FetchPolicy(**bad)  # type: ignore[arg-type]


def test_errors_form_a_subtree_with_codes_and_retryability() -> None:
    assert issubclass(BlockedUrl, InvalidInput)
    assert issubclass(FetchTooLarge, InvalidInput)
    assert issubclass(FetchTimeout, FetchError)
    assert issubclass(FetchFailed, FetchError)
    assert issubclass(FetchError, I2VError)
    assert FetchTimeout("u", 2.0).retryable
    assert FetchFailed("u", "answered 503", status=503).retryable
    assert FetchFailed("u", "answered 429", status=429).retryable
    assert FetchFailed("u", "connection refused").retryable
    assert not FetchFailed("u", "answered 404", status=404).retryable
    assert not FetchTooLarge("u", 10).retryable
    assert (
        str(FetchTooLarge("u", 10, size=99))
        == "u: the body is over the limit of 10 bytes (99 bytes declared)"
    )
    codes = {cls.code for cls in (BlockedUrl, FetchTooLarge, FetchError, FetchTimeout, FetchFailed)}
    assert len(codes) == 5
