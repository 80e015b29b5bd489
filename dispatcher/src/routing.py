"""Which user worker a request is for: the dispatcher's routing rules, in order.

1. Versioned host: `v2.gateway.do` -> `gateway-v2`.
2. Host aliases: `database.do` -> `db`, `apis.do` -> `gateway`, ... (from each service's manifest).
3. Subdomain: `<svc>.do`, `<svc>.staging.do`, `<svc>.dev.do`, `<svc>.localhost`.
4. Path: `/api/<svc>/rest` -> `<svc>` with path `/rest` (the prefix is stripped).
5. Default: the bare domains (`do`, `api.do`, `localhost`, ...) -> `gateway`.

Pure functions, no I/O: the dispatcher worker and the local dev server both use them.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from shared.registry import SERVICES

# Host suffixes, longest first: what remains before them is the service (and maybe a version).
SUFFIXES = (".staging.do", ".dev.do", ".do", ".localhost")
# Hosts that name no service: requests to them go by path, else to the default service.
BARE_HOSTS = frozenset({"do", "api.do", "staging.do", "dev.do", "localhost", "127.0.0.1", "[::1]"})
DEFAULT_SERVICE = "gateway"
# Names that never route to a user worker (the dispatcher itself; `api`/`www` mean "the platform").
RESERVED = frozenset({"dispatcher", "api", "www"})

#: More hosts that name a service: each service's manifest (`[dispatcher] aliases`, shared/registry.py).
HOST_ALIASES: dict[str, str] = {alias: name for name, s in SERVICES.items() for alias in s.get("aliases", ())}

SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_VERSIONED = re.compile(r"^(v[a-z0-9-]+)\.([a-z][a-z0-9-]{0,62})$")
_API_PATH = re.compile(r"^/api/([^/?#]+)(/.*)?$")


@dataclass(frozen=True)
class Route:
    """Where to send a request: the script name in the namespace and the path it should see."""

    service: str
    path: str
    how: str


def normalize_host(host: str) -> str:
    """Lower-case, without port or trailing dot, punycode labels decoded (`xn--...` -> unicode)."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[: host.find("]") + 1]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.rstrip(".")
    if "xn--" in host:
        with contextlib.suppress(UnicodeError):
            host = host.encode("ascii").decode("idna")
    return host


def service_from_host(host: str) -> str | None:
    """The script a host names (rules 1-3), or None for bare and unknown hosts."""
    host = normalize_host(host)
    if host in HOST_ALIASES:
        return HOST_ALIASES[host]
    if host in BARE_HOSTS:
        return None
    for suffix in SUFFIXES:
        if host.endswith(suffix):
            label = host[: -len(suffix)]
            versioned = _VERSIONED.match(label)
            if versioned:
                return f"{versioned.group(2)}-{versioned.group(1)}"
            if SERVICE_NAME.match(label) and label not in RESERVED:
                return label
            return None
    return None


def resolve(host: str, path: str) -> Route | None:
    """Route a request by host, then path, then default. None when nothing matches."""
    service = service_from_host(host)
    if service is not None:
        return Route(service, path or "/", "host")
    match = _API_PATH.match(path or "/")
    if match:
        name = match.group(1).lower()
        if SERVICE_NAME.match(name) and name not in RESERVED:
            return Route(name, match.group(2) or "/", "path")
        return None
    if normalize_host(host) in BARE_HOSTS:
        return Route(DEFAULT_SERVICE, path or "/", "default")
    return None
