"""What the gateway does with a request: route, authenticate, rate-limit, authorize, forward.

    /db/things  ->  route db  ->  Bearer token checked by AUTH_SERVICE (401)  ->  rate limit of the
    principal, or of the client IP when anonymous (429)  ->  db:read / db:write (403)  ->
    env.DB_SERVICE.fetch(/things) with the request id and the verified principal

An account-level service is reached through its service binding; a service of the dispatch
namespace through `env.NAMESPACE.get(name)` (routing.py). A namespace script that is not there is
404 `SERVICE_NOT_DEPLOYED`, as at the dispatcher.

The principal goes downstream in `X-Dotdo-Principal` (JSON). Clients cannot set it: the dispatcher
drops every `x-dotdo-*` header of a request from outside and so does the gateway, so a service
(`shared.middleware.AuthenticationMiddleware`) trusts it as the gateway's word.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from workers import Request, Response

import rate_limiter
import routing
from shared.errors import AppError, Forbidden, NotFound, RateLimited, Unauthorized
from shared.http import headers_of, merged, method_of, new_request
from shared.logs import log
from shared.middleware.authentication import PRINCIPAL_HEADER, authenticate
from shared.permissions import allows
from shared.routing import Context
from shared.settings import setting

NO_BODY = ("GET", "HEAD")
DROPPED_PREFIXES = ("x-dotdo-",)
DROPPED = frozenset({"x-request-id", "host", "content-length"})
DEFAULT_LIMIT, DEFAULT_WINDOW = 60, 60


def limits(env: Any, rate_class: str) -> tuple[int, int]:
    """(requests, seconds) for a route class: `RATE_LIMIT_<CLASS>`, else `RATE_LIMIT_DEFAULT`, per window."""
    raw = setting(env, f"RATE_LIMIT_{rate_class.upper()}") or setting(env, "RATE_LIMIT_DEFAULT")
    window = setting(env, "RATE_LIMIT_WINDOW_SECONDS")
    try:
        return max(1, int(raw or DEFAULT_LIMIT)), max(1, int(window or DEFAULT_WINDOW))
    except (TypeError, ValueError):
        return DEFAULT_LIMIT, DEFAULT_WINDOW


def client_ip(request: Request) -> str:
    return (headers_of(request).get("cf-connecting-ip") or "unknown")[:64]


def rate_key(request: Request, principal: Any) -> str:
    """Whose budget a request spends: its principal's (all the keys and sessions of one user share it:
    more keys buy no more requests), else its client IP's."""
    if principal is None:
        return f"ip:{client_ip(request)}"
    return f"principal:{principal['id']}"


async def _spend(ctx: Context, key: str, limit: int, window: int) -> dict[str, Any]:
    """Count one request against `key`'s budget; 429 `RATE_LIMITED` when it is spent."""
    verdict = await rate_limiter.check(ctx.env, key, limit, window)
    if not verdict["allowed"]:
        raise RateLimited(
            "Too many requests: slow down",
            retry_after=verdict["retry_after"],
            details={"limit": limit, "window_seconds": window},
            headers=rate_headers(verdict),
        )
    return verdict


def rate_headers(verdict: dict[str, Any]) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(verdict["limit"]),
        "x-ratelimit-remaining": str(verdict["remaining"]),
        "x-ratelimit-reset": str(verdict["reset"]),
    }


async def forward(request: Request, ctx: Context, binding: Any, path: str, principal: Any) -> Response:
    """Send the request to the service with its path, the request id and the principal."""
    url = urlsplit(request.url)
    target = urlunsplit((url.scheme, url.netloc, path, url.query, ""))
    headers = [
        (name.lower(), value)
        for name, value in headers_of(request).items()
        if name.lower() not in DROPPED and not name.lower().startswith(DROPPED_PREFIXES)
    ]
    headers.append(("x-request-id", ctx.request_id))
    if principal is not None:
        headers.append((PRINCIPAL_HEADER, json.dumps(dict(principal), separators=(",", ":"), default=str)))
    method = method_of(request)
    body = None if method in NO_BODY else await request.bytes()
    return await binding.fetch(new_request(target, method=method, headers=headers, body=body or None))


def upstream(env: Any, route: routing.Route) -> Any | None:
    """What reaches the route's service (has `fetch`): its service binding, or the dispatch namespace's
    worker of that name; None when the binding it needs is absent."""
    if route.binding is not None:
        return getattr(env, route.binding, None)
    namespace = getattr(env, routing.NAMESPACE, None)
    return None if namespace is None else namespace.get(route.name)


def not_deployed(exc: Exception) -> bool:
    """Whether a dispatch namespace's `get(name)` failed because no script of that name is in it."""
    return "Worker not found" in str(exc)


async def handle(request: Request, ctx: Context) -> Response:
    """The gateway's whole path for one request (everything but /health)."""
    found = routing.match(urlsplit(request.url).path)
    if found is None:
        raise NotFound("No service is routed here: use /<service>/...", code="ROUTE_NOT_FOUND")
    route, path = found
    binding = upstream(ctx.env, route)
    if binding is None:
        raise NotFound(f"The {route.name} service is not available here", code="SERVICE_NOT_BOUND")
    limit, window = limits(ctx.env, route.rate_class)
    try:
        # None: an anonymous call to a public route
        principal = None if route.is_public(method_of(request), path) else await authenticate(request, ctx)
    except Unauthorized:
        # Refused credentials spend the client IP's budget: a flood of guesses gets 429s, not auth lookups.
        await _spend(ctx, f"{route.rate_class}:{rate_key(request, None)}", limit, window)
        raise
    verdict = await _spend(ctx, f"{route.rate_class}:{rate_key(request, principal)}", limit, window)
    permission = route.permission(method_of(request), path)
    if principal is not None and permission is not None and not allows(principal["permissions"] or (), permission):
        details, headers = {"permission": permission}, rate_headers(verdict)
        raise Forbidden(f"This needs the permission {permission!r}", details=details, headers=headers)
    try:
        response = await forward(request, ctx, binding, path, principal)
    except AppError:
        raise
    except Exception as exc:
        text = str(exc)
        log({"type": "upstream_error", "service": route.name, "request_id": ctx.request_id})
        if route.in_namespace and not_deployed(exc):
            message, details = f"The {route.name} service is not deployed", {"service": route.name}
            raise NotFound(message, code="SERVICE_NOT_DEPLOYED", details=details) from None
        if "not running" in text or "not found" in text.lower():
            raise AppError(f"The {route.name} service is unavailable", code="SERVICE_UNAVAILABLE", status=503) from None
        raise AppError(f"The {route.name} service failed", code="UPSTREAM_ERROR", status=502) from None
    # A binding's response has immutable headers: the one Response the client gets, built once with ours.
    return merged(response, rate_headers(verdict))
