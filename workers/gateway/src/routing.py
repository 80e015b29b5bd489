"""The gateway's routing table: path prefix -> service binding, and what each route needs.

    /db/things  ->  env.DB_SERVICE, path /things, reads need db:read, writes db:write

The table comes from the services' manifests (`[gateway]` in each `service.toml`, gathered in
shared/registry.py by `make registry`): nothing here names a service. A prefix without a manifest
but bound by convention (`/order-history/...` -> `ORDER_HISTORY_SERVICE`) is routed the same way,
with `<name>:read` / `<name>:write`. The prefix is stripped: a service sees the same path through the
gateway as through `<svc>.do`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.registry import SERVICES

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Route:
    """One service behind the gateway."""

    name: str
    binding: str
    #: Permission for reads and for writes; None: any authenticated caller (the service decides).
    read: str | None
    write: str | None
    #: Which rate limit applies (`RATE_LIMIT_<CLASS>` in vars, else the default).
    rate_class: str = "default"
    #: (method, path) pairs reachable without a token: the service checks them itself.
    public: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def is_public(self, method: str, path: str) -> bool:
        return (method, path) in self.public or (method == "HEAD" and ("GET", path) in self.public)

    def permission(self, method: str, path: str = "/") -> str | None:
        """What a call needs. A service's MCP endpoint is a POST for reads and writes alike: it needs
        the read permission here, and each tool checks what it does (shared.mcp tools do)."""
        if path == "/mcp" or method in READ_METHODS:
            return self.read
        return self.write


def _service(name: str, *, read: str | None = None, write: str | None = None, **kwargs) -> Route:
    binding = name.replace("-", "_").upper() + "_SERVICE"
    return Route(name, binding, read or f"{name}:read", write or f"{name}:write", **kwargs)


def route_of(service: dict) -> Route:
    """The route of a service as its manifest describes it (an entry of shared/registry.py with `gateway`)."""
    gateway = service["gateway"]
    public = frozenset(tuple(entry.split(" ", 1)) for entry in gateway["public"])
    return Route(
        service["name"],
        gateway["binding"],
        gateway["read"] or None,  # "": any authenticated caller, the service checks each operation
        gateway["write"] or None,
        rate_class=gateway["rate_class"],
        public=public,
    )


#: Every service whose manifest (`service.toml`) has a `[gateway]` table (shared/registry.py).
ROUTES: dict[str, Route] = {name: route_of(s) for name, s in SERVICES.items() if "gateway" in s}


def match(path: str) -> tuple[Route, str] | None:
    """The route for a gateway path and the path the service sees (`/db/things` -> db, `/things`)."""
    first, _, rest = path.lstrip("/").partition("/")
    if not first:
        return None
    route = ROUTES.get(first)
    if route is None:
        if not _NAME.fullmatch(first) or len(first) > 40:
            return None
        route = _service(first)  # a generated service, bound by convention
    return route, "/" + rest
