"""Authentication for a service's HTTP interface: a bearer API key or JWT, validated by the auth service.

    router.use(AuthenticationMiddleware())                     # after RequestId/AccessLog/Error

    @router.post("/things")
    async def upsert(request, ctx):
        require_permission(ctx, "db:write")                    # 403 without it
        ...

Every path needs `Authorization: Bearer <sk_live_... | JWT>` except the `public` ones (`/health`
by default): no service trusts the network, since `<svc>.do` reaches it without the gateway. The
token is checked by `env.AUTH_SERVICE.validate_token(token)` over RPC (the auth worker itself
passes its own `validate`). A missing or refused token is a 401 envelope with `WWW-Authenticate`,
whose `resource_metadata` points OAuth clients (MCP's among them) at this origin's protected-resource
metadata (`shared.oauth`); an auth service that cannot be reached is a 502/503, never a pass.

A request the gateway forwards carries the principal it verified (`X-Dotdo-Principal`), which is
used as is: no second call to auth. The principal is left in `ctx.state["principal"]` (a dict: `id`, `type`,
`role`, `permissions`, ...) and its id in `ctx.state["principal_id"]` for the access log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from workers import Request, Response

from shared.errors import Forbidden, Unauthorized
from shared.http import headers_of, path_of
from shared.oauth import with_resource_metadata
from shared.permissions import allows
from shared.routing import Context, Next
from shared.rpc import call

Validate = Callable[[Any, str, str | None], Awaitable[Any]]  # (env, token, request id) -> principal

#: The principal the gateway verified, as JSON. Clients cannot send it: the dispatcher and the
#: gateway drop every `x-dotdo-*` header of a request from outside.
PRINCIPAL_HEADER = "x-dotdo-principal"


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), else None."""
    header = headers_of(request).get("authorization") or ""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 4096:
        return None
    return token


async def validate_with_auth_service(env: Any, token: str, request_id: str | None = None) -> Any:
    """Ask the auth service (binding `AUTH_SERVICE`) who `token` belongs to; its errors come back as theirs.

    The request id travels with the call, so auth's log lines about it carry the same id.
    """
    binding = getattr(env, "AUTH_SERVICE", None)
    if binding is None:
        raise Unauthorized("Authentication is not available", code="AUTH_UNAVAILABLE")
    return await call(lambda: binding.validate_token(token, request_id=request_id), service="auth")


async def authenticate(request: Request, ctx: Context, validate: Validate = validate_with_auth_service) -> Any:
    """The principal of the request's bearer token (left in `ctx.state`), or 401 (with `resource_metadata`)."""
    try:
        token = bearer_token(request)
        if token is None:
            raise Unauthorized("Send Authorization: Bearer <API key or token>", code="UNAUTHORIZED")
        return _set_principal(ctx, await validate(ctx.env, token, ctx.request_id))
    except Unauthorized as err:
        challenge = err.headers().get("www-authenticate", 'Bearer realm="dotdo"')
        err.extra_headers["www-authenticate"] = with_resource_metadata(challenge, request)
        raise


def _set_principal(ctx: Context, principal: Any) -> Any:
    ctx.state["principal"] = principal
    ctx.state["principal_id"] = principal["id"]
    return principal


class AuthenticationMiddleware:
    """Requires a valid bearer token on every path but the public ones: exact paths, `prefix/*`, or
    route patterns whose `{param}` stands for one path segment (`/hooks/{id}`: `/hooks/abc`, not
    `/hooks/a/b`), as `shared.service` lists its public operations' routes."""

    def __init__(self, *, public: Iterable[str] = ("/health",), validate: Validate = validate_with_auth_service):
        public = tuple(public)
        for path in public:
            if not path.startswith("/"):
                raise ValueError(f"public paths start with '/': {path!r}")
        self.exact = frozenset(p for p in public if not p.endswith("/*") and "{" not in p)
        self.prefixes = tuple(p[:-1] for p in public if p.endswith("/*"))
        self.patterns = tuple(_pattern(p) for p in public if "{" in p and not p.endswith("/*"))
        self.validate = validate

    def is_public(self, path: str) -> bool:
        return (
            path in self.exact
            or path.startswith(self.prefixes)
            or any(pattern.fullmatch(path) for pattern in self.patterns)
        )

    async def __call__(self, request: Request, ctx: Context, call_next: Next) -> Response:
        if self.is_public(path_of(request)):
            return await call_next(request, ctx)
        forwarded = _forwarded_principal(request)
        if forwarded is not None:
            _set_principal(ctx, forwarded)
        else:
            await authenticate(request, ctx, self.validate)
        return await call_next(request, ctx)


def _pattern(route: str) -> re.Pattern[str]:
    """A route pattern as a regex: each `{param}` (any converter) matches one non-empty segment."""
    parts = re.split(r"{[^{}]*}", route)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))


def _forwarded_principal(request: Request) -> dict[str, Any] | None:
    """The principal the gateway passed along, if the request carries a well-formed one."""
    raw = headers_of(request).get(PRINCIPAL_HEADER)
    if not raw or len(raw) > 8192:
        return None
    try:
        principal = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(principal, dict) or not isinstance(principal.get("id"), str):
        return None
    if not isinstance(principal.get("permissions"), list):
        return None
    return principal


def principal_of(ctx: Context) -> Any:
    """The authenticated principal of this request (401 if authentication did not run)."""
    principal = ctx.state.get("principal")
    if principal is None:
        raise Unauthorized("Authentication required", code="UNAUTHORIZED")
    return principal


def require_permission(ctx: Context, permission: str) -> Any:
    """The principal, if it holds `permission`; else a 403 `FORBIDDEN` naming the permission."""
    principal = principal_of(ctx)
    if not allows(principal["permissions"] or (), permission):
        raise Forbidden(f"This needs the permission {permission!r}", details={"permission": permission})
    return principal
