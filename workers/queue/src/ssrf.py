"""The SSRF guard: which URLs a webhook delivery may be sent to, checked before every request and every redirect.

    target = await ssrf.check("https://hooks.example.com/in", allow_loopback=False)   # or raises Refused
    target.url, target.host, target.port, target.addresses   # addresses: what the host resolved to (pin them)

A URL is refused (`Refused`, with a `code` and a reason naming the rule) unless all of these hold:

- it is at most 2,048 characters of printable ASCII or IDNA-encodable text, with no whitespace, control
  characters or backslashes, and no userinfo (`https://good.com@127.0.0.1` is refused for its `@`);
- its scheme is `https`, on the default port 443 (Cloudflare's fetch ignores other ports, so a URL naming
  one would not reach what it says). `http` and other ports are taken only for a loopback host and only
  with `allow_loopback` (the local-development flag `WEBHOOK_ALLOW_LOOPBACK`);
- its host, read the way browsers and resolvers read it, is a public address: IPv4 in every notation the
  WHATWG URL standard and `inet_aton` accept (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`, with or
  without a trailing dot) is parsed to its address, IPv6 literals too (IPv4-mapped `::ffff:127.0.0.1`,
  IPv4-compatible, NAT64 and 6to4 forms are checked by the IPv4 address they carry). Refused: private,
  loopback, link-local (with the cloud metadata address 169.254.169.254), shared address space (CGNAT,
  100.64.0.0/10), unspecified, multicast, broadcast, reserved, documentation and benchmarking ranges,
  IPv6 unique-local, site-local, Teredo and discard; anything else `ipaddress` does not call global;
- a host name has at least two labels of letters, digits and hyphens, and is not under a local-only
  suffix (`localhost`, `local`, `internal` (as in `metadata.google.internal`), `lan`, `home.arpa`, `arpa`,
  `localdomain`, `intranet`, `corp`);
- where the runtime can resolve names (CPython: the event loop's `getaddrinfo`), every address the name
  resolves to passes the address rules; the caller connects to those addresses (no second lookup for a
  rebinding DNS server to answer differently). Under Pyodide (Cloudflare) there is no resolver: what
  Cloudflare's fetch itself refuses is described in workers/queue/README.md.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_URL = 2048
HTTPS_PORT = 443
#: Suffixes (and names) that only mean something inside a network.
LOCAL_SUFFIXES = ("localhost", "local", "internal", "lan", "home.arpa", "arpa", "localdomain", "intranet", "corp")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_NUMERIC_PART = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_V4_RULES = [
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/8", "the 'this network' range (0.0.0.0/8)"),
        ("10.0.0.0/8", "a private address (10.0.0.0/8)"),
        ("100.64.0.0/10", "shared address space (CGNAT, 100.64.0.0/10)"),
        ("127.0.0.0/8", "a loopback address (127.0.0.0/8)"),
        ("169.254.0.0/16", "a link-local address (169.254.0.0/16, cloud metadata)"),
        ("172.16.0.0/12", "a private address (172.16.0.0/12)"),
        ("192.0.0.0/24", "an IETF protocol address (192.0.0.0/24)"),
        ("192.0.2.0/24", "a documentation address (192.0.2.0/24)"),
        ("192.88.99.0/24", "the 6to4 relay anycast range (192.88.99.0/24)"),
        ("192.168.0.0/16", "a private address (192.168.0.0/16)"),
        ("198.18.0.0/15", "a benchmarking address (198.18.0.0/15)"),
        ("198.51.100.0/24", "a documentation address (198.51.100.0/24)"),
        ("203.0.113.0/24", "a documentation address (203.0.113.0/24)"),
        ("224.0.0.0/4", "a multicast address (224.0.0.0/4)"),
        ("240.0.0.0/4", "a reserved address (240.0.0.0/4, with broadcast)"),
    )
]
_V6_RULES = [
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("::/128", "the unspecified address (::)"),
        ("::1/128", "the loopback address (::1)"),
        ("100::/64", "a discard-only address (100::/64)"),
        ("2001::/32", "a Teredo address (2001::/32)"),
        ("2001::/23", "an IETF protocol address (2001::/23)"),
        ("2001:db8::/32", "a documentation address (2001:db8::/32)"),
        ("3fff::/20", "a documentation address (3fff::/20)"),
        ("fc00::/7", "a unique-local address (fc00::/7)"),
        ("fe80::/10", "a link-local address (fe80::/10)"),
        ("fec0::/10", "a site-local address (fec0::/10)"),
        ("ff00::/8", "a multicast address (ff00::/8)"),
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_V4_COMPATIBLE = ipaddress.ip_network("::/96")


class Refused(Exception):
    """A URL the guard will not let a request go to: `code` (machine-readable) and the reason (the message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    """A URL that passed the guard: its parts as they will be requested, and the addresses to connect to."""

    url: str
    scheme: str
    host: str  # lower-case ASCII (IDNA) name, or the address in its canonical form
    port: int
    path: str  # path and query, at least "/"
    literal: Address | None = None  # the address, when the URL names one
    addresses: tuple[str, ...] = field(default=())  # what the name resolved to (empty: not resolved)

    @property
    def loopback(self) -> bool:
        if self.literal is not None:
            return _is_loopback(self.literal)
        return self.host == "localhost" or bool(self.addresses and all(_is_loopback(_ip(a)) for a in self.addresses))


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host denotes as the WHATWG URL standard (and `inet_aton`) read it, or None when the
    host is a name. `Refused` when it looks like a number but is no valid address (`256.1`, `1.2.3.4.5`)."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()  # one trailing dot
    if not parts or not _NUMERIC_PART.fullmatch(parts[-1]):
        return None  # the last label is not a number: a domain name
    if len(parts) > 4 or any(not _NUMERIC_PART.fullmatch(p) for p in parts):
        raise Refused("SSRF_MALFORMED_HOST", f"host {host!r} is neither a valid IPv4 address nor a name")
    numbers = []
    for part in parts:
        if part[:2].lower() == "0x":
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                raise Refused("SSRF_MALFORMED_HOST", f"host {host!r} has an invalid octal part {part!r}")
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise Refused("SSRF_MALFORMED_HOST", f"host {host!r} is out of the IPv4 range")
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def address_problem(address: Address, *, allow_loopback: bool = False) -> str | None:
    """Why a request must not go to `address` (None: it may). Embedded IPv4 addresses are judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_problem(embedded, allow_loopback=allow_loopback)
            return f"an IPv6 form of {embedded}: {inner}" if inner else None
        if allow_loopback and address.is_loopback:
            return None
        rules = _V6_RULES
    else:
        if allow_loopback and address.is_loopback:
            return None
        rules = _V4_RULES
    for network, why in rules:
        if address in network:
            return why
    if not address.is_global or address.is_multicast:
        return "not a public address"
    return None


def parse(url: str, *, allow_loopback: bool = False) -> Target:
    """Check a URL's syntax, scheme, port and host without resolving it; the `Target`, or `Refused`."""
    if not isinstance(url, str) or not url:
        raise Refused("SSRF_BAD_URL", "the URL is empty")
    if len(url) > MAX_URL:
        raise Refused("SSRF_BAD_URL", f"the URL is longer than {MAX_URL} characters")
    if _FORBIDDEN_CHARS.search(url):
        raise Refused("SSRF_BAD_URL", "the URL holds whitespace, control characters or a backslash")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused("SSRF_BAD_URL", f"the URL does not parse ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise Refused("SSRF_SCHEME", f"scheme {scheme or '(none)'!r} refused: webhooks are delivered over https")
    if "@" in parts.netloc:
        raise Refused("SSRF_USERINFO", "the URL carries userinfo (user:password@): refused, it hides the real host")
    if "[" in parts.netloc:
        literal: Address | None = _ipv6_literal(parts.hostname or "")
        host = str(literal)
    else:
        host = _name(parts.hostname or "")
        literal = parse_ipv4(host)
        if literal is not None:
            host = str(literal)
        else:
            _check_name(host, allow_loopback=allow_loopback)
    if literal is not None:
        problem = address_problem(literal, allow_loopback=allow_loopback)
        if problem:
            raise Refused("SSRF_ADDRESS", f"host {parts.hostname!r} is {problem}")
    loopback = (literal is not None and _is_loopback(literal)) or host == "localhost"
    default = 443 if scheme == "https" else 80
    effective = port if port is not None else default
    if not (allow_loopback and loopback):
        if scheme != "https":
            raise Refused("SSRF_SCHEME", "http is refused: webhooks are delivered over https")
        if effective != HTTPS_PORT:
            raise Refused("SSRF_PORT", f"port {effective} refused: only 443 (Cloudflare's fetch ignores other ports)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    netloc = f"[{host}]" if isinstance(literal, ipaddress.IPv6Address) else host
    if effective != default:
        netloc += f":{effective}"
    return Target(f"{scheme}://{netloc}{path}", scheme, host, effective, path, literal)


async def check(url: str, *, allow_loopback: bool = False, resolver: Resolver | None = None) -> Target:
    """`parse`, then resolve a host name (where the runtime can) and refuse it unless every address passes.

    `resolver(host, port)` gives the addresses (default: `resolve`, None under Pyodide). `Refused` with
    code `SSRF_UNRESOLVED` when the name does not resolve (the caller may try again later).
    """
    target = parse(url, allow_loopback=allow_loopback)
    if target.literal is not None:
        return Target(**{**target.__dict__, "addresses": (target.host,)})
    resolver = resolver or default_resolver()
    if resolver is None:
        return target  # Cloudflare: no resolver here; its fetch applies its own rules
    try:
        addresses = await resolver(target.host, target.port)
    except OSError as exc:
        raise Refused("SSRF_UNRESOLVED", f"host {target.host!r} does not resolve ({exc})") from None
    if not addresses:
        raise Refused("SSRF_UNRESOLVED", f"host {target.host!r} resolves to no address")
    for text in addresses:
        problem = address_problem(_ip(text), allow_loopback=allow_loopback)
        if problem:
            raise Refused("SSRF_RESOLVED_ADDRESS", f"host {target.host!r} resolves to {text}, {problem}")
    return Target(**{**target.__dict__, "addresses": tuple(dict.fromkeys(addresses))})


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, with the running event loop's `getaddrinfo`."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(_ip(info[4][0])) for info in infos]


def default_resolver() -> Resolver | None:
    """`resolve` where the runtime has sockets; None under Pyodide (Cloudflare), which resolves in fetch."""
    return None if sys.platform == "emscripten" else resolve


# -- helpers -------------------------------------------------------------------------------------------


def _ip(text: str) -> Address:
    return ipaddress.ip_address(text.split("%", 1)[0])


def _is_loopback(address: Address) -> bool:
    embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    return (embedded or address).is_loopback


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form carries: mapped, compatible, NAT64, 6to4."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _V4_COMPATIBLE and int(address) > 1:  # ::a.b.c.d (deprecated); not :: or ::1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _ipv6_literal(text: str) -> ipaddress.IPv6Address:
    if "%" in text:
        raise Refused("SSRF_MALFORMED_HOST", "an IPv6 zone id is refused")
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise Refused("SSRF_MALFORMED_HOST", f"host [{text}] is not an IPv6 address") from None


def _name(host: str) -> str:
    """The host in lower-case ASCII without one trailing dot; `Refused` for what no resolver would take."""
    if "%" in host:
        raise Refused("SSRF_MALFORMED_HOST", "a percent-encoded host is refused")
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise Refused("SSRF_MALFORMED_HOST", "the URL has no host")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise Refused("SSRF_MALFORMED_HOST", "the host is not a valid internationalised name") from None
    return host.lower()


def _check_name(host: str, *, allow_loopback: bool) -> None:
    if allow_loopback and host == "localhost":
        return
    labels = host.split(".")
    if len(labels) < 2:
        raise Refused("SSRF_LOCAL_NAME", f"host {host!r} is a single-label name (only meaningful inside a network)")
    if any(not _LABEL.fullmatch(label) for label in labels):
        raise Refused("SSRF_MALFORMED_HOST", f"host {host!r} is not a valid name")
    for suffix in LOCAL_SUFFIXES:
        if host == suffix or host.endswith("." + suffix):
            raise Refused("SSRF_LOCAL_NAME", f"host {host!r} is under {suffix!r}, a local-only name")
