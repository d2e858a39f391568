"""Which URLs and addresses i2v may fetch: the SSRF policy, free of any I/O but DNS.

A user-supplied URL (a job's ``image_url``, a webhook) is admitted in three steps, each hop of a
redirect again (``i2v.net.fetch`` does the connecting):

1. ``parse_url``: the scheme is ``http`` or ``https``, there is no userinfo (``user:pw@``), there
   is a host, and the port (any is allowed) is in 1-65535.
2. ``resolve_target``: an IP literal is taken as is; a name is resolved once, by the injected
   ``Resolver``, and every address it returns must pass (one bad address refuses the host, so a
   name cannot smuggle a private address in among public ones).
3. ``address_verdict``: each address is classified against explicit ranges, never against
   ``ipaddress``'s ``is_global``/``is_private`` alone, whose meaning changed across Python
   versions. Refused by default: unspecified, "this network", loopback, RFC 1918 private,
   carrier-grade NAT, link-local, IETF-reserved and documentation blocks, benchmarking,
   multicast, broadcast and 240/4; for IPv6 also ULA (fc00::/7), site-local, Teredo, local-use
   NAT64, discard-only, and everything outside global unicast (2000::/3). IPv6 forms that embed
   an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-translated, IPv4-compatible ``::a.b.c.d``,
   NAT64 ``64:ff9b::/96`` and 6to4 ``2002::/16``) are judged by the IPv4 address they carry.

The allow-list (``AllowList``: host names, ``*.suffix`` wildcards, IP addresses and CIDRs)
admits private and loopback destinations, e.g. an internal ComfyUI or a test server; nothing
else does. A few addresses stay refused whatever the allow-list says: the cloud metadata
services, the unspecified address and 0.0.0.0/8, and multicast.

The result, a ``Target``, lists the checked addresses; the fetcher connects to those and only
those, so the answer that was checked is the answer that is used (no DNS rebinding window).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeAlias
from urllib.parse import urlsplit

import anyio
import httpx

from i2v.errors import BlockedUrl, FetchFailed

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}


# -- address classification ---------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Why an address is refused; ``admissible`` says whether the allow-list may admit it."""

    reason: str
    admissible: bool = True


@dataclass(frozen=True)
class _Range:
    network: IPNetwork
    reason: str
    admissible: bool = True


def _ranges(*rows: tuple[str, str] | tuple[str, str, bool]) -> tuple[_Range, ...]:
    """Rows of (network, reason[, admissible]); admissible (by the allow-list) by default."""
    return tuple(
        _Range(ipaddress.ip_network(row[0]), row[1], row[2] if len(row) == 3 else True)
        for row in rows
    )


# Never admitted, not even by the allow-list: they hand out credentials to whoever asks.
_METADATA: dict[IPAddress, str] = {
    ipaddress.ip_address(text): f"a cloud metadata address ({text}, {who})"
    for text, who in (
        ("169.254.169.254", "AWS, GCP, Azure, OpenStack and others"),
        ("169.254.170.2", "AWS ECS task credentials"),
        ("169.254.170.23", "AWS EKS Pod Identity"),
        ("fd00:ec2::254", "AWS IPv6"),
        ("fd00:ec2::23", "AWS EKS Pod Identity IPv6"),
        ("100.100.100.200", "Alibaba Cloud"),
        ("192.0.0.192", "Oracle Cloud"),
        ("168.63.129.16", "Azure WireServer"),
    )
}

# First match wins, so the specific rows come before the blocks that contain them.
_IPV4_REFUSED = _ranges(
    ("0.0.0.0/32", "the unspecified address (0.0.0.0)", False),
    ("0.0.0.0/8", "a 'this network' address (0.0.0.0/8)", False),
    ("10.0.0.0/8", "a private address (RFC 1918, 10.0.0.0/8)"),
    ("100.64.0.0/10", "a carrier-grade NAT address (RFC 6598, 100.64.0.0/10)"),
    ("127.0.0.0/8", "a loopback address (127.0.0.0/8)"),
    ("169.254.0.0/16", "a link-local address (169.254.0.0/16)"),
    ("172.16.0.0/12", "a private address (RFC 1918, 172.16.0.0/12)"),
    ("192.0.0.0/24", "an IETF protocol assignment (192.0.0.0/24)"),
    ("192.0.2.0/24", "a documentation address (TEST-NET-1, 192.0.2.0/24)"),
    ("192.88.99.0/24", "a 6to4 relay anycast address (192.88.99.0/24)"),
    ("192.168.0.0/16", "a private address (RFC 1918, 192.168.0.0/16)"),
    ("198.18.0.0/15", "a benchmarking address (198.18.0.0/15)"),
    ("198.51.100.0/24", "a documentation address (TEST-NET-2, 198.51.100.0/24)"),
    ("203.0.113.0/24", "a documentation address (TEST-NET-3, 203.0.113.0/24)"),
    ("224.0.0.0/4", "a multicast address (224.0.0.0/4)", False),
    ("255.255.255.255/32", "the broadcast address (255.255.255.255)", False),
    ("240.0.0.0/4", "a reserved address (240.0.0.0/4)"),
)

_IPV6_REFUSED = _ranges(
    ("::/128", "the unspecified address (::)", False),
    ("::1/128", "a loopback address (::1)"),
    ("100::/64", "a discard-only address (100::/64)"),
    ("64:ff9b:1::/48", "a local-use NAT64 address (64:ff9b:1::/48)"),
    ("2001::/32", "a Teredo tunnel address (2001::/32)"),
    ("2001::/23", "an IETF protocol assignment (2001::/23)"),
    ("2001:db8::/32", "a documentation address (2001:db8::/32)"),
    ("3fff::/20", "a documentation address (3fff::/20)"),
    ("fc00::/7", "a unique local address (RFC 4193, fc00::/7)"),
    ("fe80::/10", "a link-local address (fe80::/10)"),
    ("fec0::/10", "a site-local address (deprecated, fec0::/10)"),
    ("ff00::/8", "a multicast address (ff00::/8)", False),
)
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")

# IPv6 forms that carry an IPv4 address in their low 32 bits (6to4 is handled on its own).
_IPV4_IN_LOW_BITS = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), "an IPv4-mapped IPv6 address"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), "an IPv4-translated IPv6 address"),
    (ipaddress.IPv6Network("64:ff9b::/96"), "a NAT64 address"),
    (ipaddress.IPv6Network("::/96"), "an IPv4-compatible IPv6 address"),
)
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 form carries, and the name of the form; None for plain IPv6.

    ``::`` and ``::1`` lie inside the IPv4-compatible block but are IPv6's own unspecified and
    loopback addresses, so they carry nothing.
    """
    if address in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
        return None
    for network, form in _IPV4_IN_LOW_BITS:
        if address in network:
            return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF), form
    if address in _SIX_TO_FOUR:
        carried = address.sixtofour
        assert carried is not None
        return carried, "a 6to4 address"
    return None


def address_verdict(address: IPAddress) -> Verdict | None:
    """Why ``address`` is refused by default, or None when it is publicly routable."""
    if address in _METADATA:
        return Verdict(_METADATA[address], admissible=False)
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return Verdict("an IPv6 address with a zone index", admissible=False)
        carried = embedded_ipv4(address)
        if carried is not None:
            inner, form = carried
            verdict = address_verdict(inner)
            if verdict is None:
                return None
            return Verdict(f"{form} of {inner}, {verdict.reason}", verdict.admissible)
        ranges = _IPV6_REFUSED
    else:
        ranges = _IPV4_REFUSED
    for row in ranges:
        if address in row.network:
            return Verdict(row.reason, row.admissible)
    if isinstance(address, ipaddress.IPv6Address) and address not in _IPV6_GLOBAL_UNICAST:
        return Verdict("a reserved address (outside global unicast 2000::/3)")
    return None


# -- the allow-list -----------------------------------------------------------------------

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot: the form host names are compared in."""
    return host.lower().rstrip(".")


@dataclass(frozen=True)
class AllowList:
    """Destinations admitted although private or loopback: names, ``*.suffix``es and networks.

    A name admits whatever it resolves to (short of the never-admitted addresses); a network
    admits the addresses inside it, whatever name led there, and the IPv6 forms that carry them.
    """

    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Build from setting values; raises ``ValueError`` naming a malformed entry."""
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            wildcard = entry.startswith("*.")
            name = normalise_host(entry[2:] if wildcard else entry)
            if not _HOSTNAME.match(name):
                raise ValueError(
                    f"allow-list entry {raw!r} is not a host name, *.domain, IP address or CIDR"
                )
            if wildcard:
                suffixes.append("." + name)
            else:
                names.add(name)
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def admits_host(self, host: str) -> bool:
        name = normalise_host(host)
        return name in self.names or any(name.endswith(suffix) for suffix in self.suffixes)

    def admits_address(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            carried = embedded_ipv4(address)
            if carried is not None:
                candidates.append(carried[0])
        return any(
            candidate in network
            for candidate in candidates
            for network in self.networks
            if candidate.version == network.version
        )


# -- URLs ---------------------------------------------------------------------------------


def display_url(url: httpx.URL) -> str:
    """The URL as errors and logs show it: no userinfo, query or fragment (they carry secrets)."""
    port = f":{url.port}" if url.port is not None else ""
    host = url.raw_host.decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return f"{url.scheme}://{host}{port}{url.path}"


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_url(url: str | httpx.URL) -> httpx.URL:
    """Parse and check everything about a URL that needs no DNS; raises ``BlockedUrl``."""
    at_sign = False
    if isinstance(url, str):
        text = url
        try:
            # An "@" anywhere in the authority counts, even empty userinfo that httpx drops.
            at_sign = "@" in urlsplit(text).netloc
            url = httpx.URL(text)
        except (ValueError, httpx.InvalidURL) as exc:
            raise BlockedUrl(_redacted(text), f"malformed URL ({exc})") from None
    shown = display_url(url)
    if url.scheme not in ALLOWED_SCHEMES:
        raise BlockedUrl(shown, f"scheme {url.scheme!r} is not allowed (only http and https)")
    if url.userinfo or at_sign:
        raise BlockedUrl(shown, "credentials in the URL (user:password@) are not allowed")
    if not url.raw_host:
        raise BlockedUrl(shown, "the URL has no host")
    port = url.port
    if port is not None and not 1 <= port <= 65535:
        raise BlockedUrl(shown, f"port {port} is out of range")
    return url


def _redacted(url: str) -> str:
    """A URL that failed to parse, as errors show it: no userinfo, query or fragment."""
    url = re.sub(r"//[^/?#]*@", "//", url.split("?", 1)[0].split("#", 1)[0])
    return url[:200]


# -- resolution ---------------------------------------------------------------------------


class Resolver(Protocol):
    """Resolves a host name to the addresses a TCP connection to it may use."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]: ...


class SystemResolver:
    """The operating system's resolver: ``getaddrinfo`` on a worker thread (``anyio.getaddrinfo``).

    Cancellation (the fetch deadline) stops the wait at once; the thread finishes on its own.
    """

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [ipaddress.ip_address(info[4][0]) for info in infos]


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to ``addresses`` (in order) and to nothing else."""

    url: httpx.URL
    host: str  # as the connection layer sees it: lower case, IDNA-encoded, no brackets
    port: int
    addresses: tuple[IPAddress, ...]


async def resolve_target(url: httpx.URL, *, allow: AllowList, resolver: Resolver) -> Target:
    """Resolve ``url``'s host once and check every address; raises ``BlockedUrl``/``FetchFailed``.

    ``url`` must have passed ``parse_url``.
    """
    shown = display_url(url)
    host = url.raw_host.decode("ascii")
    port = url.port if url.port is not None else DEFAULT_PORTS[url.scheme]
    where = _host_port(host, port)
    literal = _ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = await resolver.resolve(host, port)
        except OSError as exc:
            temporary = isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN
            raise FetchFailed(
                shown, f"cannot resolve {host} ({exc})", retryable=temporary
            ) from None
        if not addresses:
            raise FetchFailed(shown, f"{host} resolves to no address", retryable=False)
    name_admitted = literal is None and allow.admits_host(host)
    unique = tuple(dict.fromkeys(addresses))
    for address in unique:
        verdict = address_verdict(address)
        if verdict is None:
            continue
        if verdict.admissible and (name_admitted or allow.admits_address(address)):
            continue
        if literal is not None:
            reason = f"{where} is {verdict.reason}"
        else:
            reason = f"{where} resolves to {address}, {verdict.reason}"
        raise BlockedUrl(shown, reason, address=str(address))
    return Target(url=url, host=host, port=port, addresses=unique)


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.replace("%25", "%"))
    except ValueError:
        return None
