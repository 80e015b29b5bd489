"""The gateway's routing table: path prefix -> service, and what each route needs.

    /db/things      ->  env.DB_SERVICE, path /things, reads need db:read, writes db:write
    /orders/items   ->  env.NAMESPACE.get("orders"), path /items, orders:read / orders:write

The table comes from the services' manifests (`[gateway]` in each `service.toml`, gathered in
shared/registry.py by `make registry`): nothing here names a service. Where a service lives decides
how it is reached (docs/architecture.md, deployment topology): an account-level one (`placement =
"account"`: db, auth, deploy) through its service binding, the registry's `binding`; any other
through the dispatch namespace bound as `NAMESPACE`, the only way to reach a script there. A prefix
without a manifest (a service deployed into the namespace after this gateway was) is routed the same
way as a namespace service, with `<name>:read` / `<name>:write`. The prefix is stripped: a service
sees the same path through the gateway as through `<svc>.do`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.registry import SERVICES

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The dispatch namespace binding (`dispatch_namespaces` in wrangler.jsonc: dotdo-<env>).
NAMESPACE = "NAMESPACE"
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Route:
    """One service behind the gateway."""

    name: str
    #: The service binding that reaches it (an account-level service), or None: a script of the dispatch
    #: namespace, reached through `env.NAMESPACE.get(name)`.
    binding: str | None
    #: Permission for reads and for writes; None: any authenticated caller (the service decides).
    read: str | None
    write: str | None
    #: Which rate limit applies (`RATE_LIMIT_<CLASS>` in vars, else the default).
    rate_class: str = "default"
    #: (method, path) pairs reachable without a token: the service checks them itself.
    public: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @property
    def in_namespace(self) -> bool:
        return self.binding is None

    def is_public(self, method: str, path: str) -> bool:
        return (method, path) in self.public or (method == "HEAD" and ("GET", path) in self.public)

    def permission(self, method: str, path: str = "/") -> str | None:
        """What a call needs. A service's MCP endpoint is a POST for reads and writes alike: it needs
        the read permission here, and each tool checks what it does (shared.mcp tools do)."""
        if path == "/mcp" or method in READ_METHODS:
            return self.read
        return self.write


def _namespace_service(name: str) -> Route:
    """A service without a manifest here: a script of the dispatch namespace, by convention."""
    return Route(name, None, f"{name}:read", f"{name}:write")


def route_of(service: dict) -> Route:
    """The route of a service as its manifest describes it (an entry of shared/registry.py with `gateway`):
    through its `binding` when it has one (account-level), else through the dispatch namespace."""
    gateway = service["gateway"]
    public = frozenset(tuple(entry.split(" ", 1)) for entry in gateway["public"])
    return Route(
        service["name"],
        service.get("binding"),
        gateway["read"] or None,  # "": any authenticated caller, the service checks each operation
        gateway["write"] or None,
        rate_class=gateway["rate_class"],
        public=public,
    )


#: Every service whose manifest (`service.toml`) has a `[gateway]` table (shared/registry.py).
ROUTES: dict[str, Route] = {name: route_of(s) for name, s in SERVICES.items() if "gateway" in s}
#: Services whose manifest has no `[gateway]` table (the gateway itself, the dispatcher): never routed.
NOT_ROUTED: frozenset[str] = frozenset(name for name, s in SERVICES.items() if "gateway" not in s)


def match(path: str) -> tuple[Route, str] | None:
    """The route for a gateway path and the path the service sees (`/db/things` -> db, `/things`)."""
    first, _, rest = path.lstrip("/").partition("/")
    if not first:
        return None
    route = ROUTES.get(first)
    if route is None:
        if not _NAME.fullmatch(first) or len(first) > 40 or first in NOT_ROUTED:
            return None
        route = _namespace_service(first)  # not in the registry: looked for in the dispatch namespace
    return route, "/" + rest
