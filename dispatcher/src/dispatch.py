"""Forward a request to its service's worker, or answer with an error envelope.

Every request first spends one call of its client address's budget (`client_limit`): 429
`RATE_LIMITED` with `Retry-After` once it is spent, before any routing, so no service sees it.

Where the service lives decides how it is reached (docs/architecture.md, deployment topology; the
registry's `placement`): an account-level service (gateway, auth, db, deploy) through its service
binding (`GATEWAY_SERVICE`, `DB_SERVICE`, ...: generated into wrangler.jsonc by `make registry`),
every other name through the dispatch namespace, `env.DISPATCHER.get(name)`. On Cloudflare neither
can stand in for the other: a namespace's `get` finds only its own scripts, and a service binding
can only name an account-level Worker.

Errors: no route -> 404 `SERVICE_NOT_FOUND`; a script missing from the namespace -> 404
`SERVICE_NOT_DEPLOYED`, as is an account-level service whose worker is not running (locally, when
`make dev` runs only some workers; on Cloudflare the dispatcher cannot be uploaded while a bound
script is missing); an exception in the service's worker -> 502 `WORKER_ERROR` (nothing of the
exception reaches the client; it is logged with the request id). A binding the dispatcher needs and
does not have (`DISPATCHER`, the limiter, an account-level service's) -> 500 `CONFIGURATION_ERROR`:
the generated config always has them, so their absence is the platform's fault, not the client's.
"""

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from workers import Request, Response

import client_limit
from routing import resolve
from shared.envelope import error_response
from shared.http import new_request
from shared.ids import new_request_id, valid_request_id
from shared.logs import log
from shared.registry import SERVICES

# Headers a client must not choose: Cloudflare's version overrides, and the platform's own.
STRIPPED_HEADERS = ("cloudflare-workers-version-overrides", "cloudflare-workers-version-key")
STRIPPED_PREFIXES = ("x-dotdo-",)
NO_BODY = ("GET", "HEAD")
NAMESPACE = "DISPATCHER"
#: The account-level services and the service binding of each (shared/registry.py, from the manifests).
ACCOUNT_LEVEL: dict[str, str] = {name: s["binding"] for name, s in SERVICES.items() if "binding" in s}
#: How a failed call says that its worker is not there: the namespace's "Worker not found" (and the SDK's
#: "does not exist"), or the local platform's service binding to a worker it does not run.
NOT_THERE = ("Worker not found", "does not exist", "not running on the local platform")


def _request_id(headers: Any) -> str:
    incoming = headers.get("x-request-id")
    return incoming if incoming and valid_request_id(incoming) else new_request_id()


def _forward_headers(headers: Any, request_id: str) -> list[tuple[str, str]]:
    kept = []
    for name, value in headers.items():
        lower = name.lower()
        if lower in STRIPPED_HEADERS or lower.startswith(STRIPPED_PREFIXES) or lower == "x-request-id":
            continue
        kept.append((lower, value))
    kept.append(("x-request-id", request_id))
    return kept


def _log(level: str, message: str, **fields: object) -> None:
    log({"level": level, "worker": "dispatcher", "message": message, **fields})


async def _limit(headers: Any, env, request_id: str) -> Response | None:
    """None when the client may go on; else the answer: 429, or 500 when no limiter is bound."""
    verdict = await client_limit.admitted(env, client_limit.client_key(headers), request_id)
    if verdict is None:
        _log("error", f"no {client_limit.LIMITER} binding", request_id=request_id)
        return error_response(
            "CONFIGURATION_ERROR", "The dispatcher is not configured", status=500, request_id=request_id
        )
    if verdict:
        return None
    wait = client_limit.RETRY_AFTER_SECONDS
    return error_response(
        "RATE_LIMITED",
        "Too many requests from your address: slow down",
        status=429,
        request_id=request_id,
        details={"retry_after": wait, "limited_by": "address"},
        headers={"retry-after": str(wait)},
    )


async def dispatch(request: Request, env) -> Response:
    """Route `request` to its service: an account-level one's binding, else the namespace `env.DISPATCHER`."""
    url = urlsplit(request.url)
    headers = request.headers  # made from the JS headers on every access under Pyodide: once per request
    request_id = _request_id(headers)
    refused = await _limit(headers, env, request_id)
    if refused is not None:
        return refused
    route = resolve(url.netloc, url.path)
    if route is None:
        return error_response(
            "SERVICE_NOT_FOUND",
            f"No service is routed for {url.netloc}{url.path}",
            status=404,
            request_id=request_id,
            details={"hint": "use <service>.do or /api/<service>/..."},
        )
    binding = ACCOUNT_LEVEL.get(route.service, NAMESPACE)
    bound = getattr(env, binding, None)
    if bound is None:
        _log("error", f"no {binding} binding", request_id=request_id, service=route.service)
        return error_response(
            "CONFIGURATION_ERROR", "The dispatcher is not configured", status=500, request_id=request_id
        )
    method = request.method.value if hasattr(request.method, "value") else str(request.method)
    body = None if method in NO_BODY else await request.bytes()
    target = urlunsplit((url.scheme, url.netloc, route.path, url.query, ""))
    forwarded = new_request(target, method=method, headers=_forward_headers(headers, request_id), body=body)
    environment = getattr(env, "ENVIRONMENT", "production")
    try:
        # an account-level service through its own binding; any other in the dispatch namespace
        worker = bound if binding != NAMESPACE else bound.get(route.service)
        reply = await worker.fetch(forwarded.js_object)
    except Exception as exc:
        text = str(exc)
        if any(words in text for words in NOT_THERE):
            return error_response(
                "SERVICE_NOT_DEPLOYED",
                f"The {route.service} service is not deployed in {environment}",
                status=404,
                request_id=request_id,
                details={"service": route.service, "environment": environment},
            )
        _log(
            "error",
            "service worker failed",
            request_id=request_id,
            service=route.service,
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
        return error_response(
            "WORKER_ERROR",
            f"The {route.service} service failed to handle the request",
            status=502,
            request_id=request_id,
            details={"service": route.service},
        )
    # A service binding (the SDK's wrapper) answers a Response already; a namespace's worker, a JS one.
    return reply if isinstance(reply, Response) else Response(reply)
