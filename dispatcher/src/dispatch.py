"""Forward a request to its user worker, or answer with an error envelope.

Every request first spends one call of its client address's budget (`client_limit`): 429
`RATE_LIMITED` with `Retry-After` once it is spent, before any routing, so no service sees it.

Errors: no route -> 404 `SERVICE_NOT_FOUND`; a script missing from the namespace -> 404
`SERVICE_NOT_DEPLOYED`; an exception in the user worker -> 502 `WORKER_ERROR` (nothing of the
exception reaches the client; it is logged with the request id).
"""

import json
from urllib.parse import urlsplit, urlunsplit

from workers import Request, Response

import client_limit
from routing import resolve
from shared.envelope import error_response
from shared.ids import new_request_id, valid_request_id

# Headers a client must not choose: Cloudflare's version overrides, and the platform's own.
STRIPPED_HEADERS = ("cloudflare-workers-version-overrides", "cloudflare-workers-version-key")
STRIPPED_PREFIXES = ("x-dotdo-",)
NO_BODY = ("GET", "HEAD")


def _request_id(request: Request) -> str:
    incoming = request.headers.get("x-request-id")
    return incoming if incoming and valid_request_id(incoming) else new_request_id()


def _forward_headers(request: Request, request_id: str) -> list[tuple[str, str]]:
    kept = []
    for name, value in request.headers.items():
        lower = name.lower()
        if lower in STRIPPED_HEADERS or lower.startswith(STRIPPED_PREFIXES) or lower == "x-request-id":
            continue
        kept.append((lower, value))
    kept.append(("x-request-id", request_id))
    return kept


def _log(level: str, message: str, **fields: object) -> None:
    print(json.dumps({"level": level, "worker": "dispatcher", "message": message, **fields}))


async def _limit(request: Request, env, request_id: str) -> Response | None:
    """None when the client may go on; else the answer: 429, or 500 when no limiter is bound."""
    verdict = await client_limit.admitted(env, client_limit.client_key(request.headers), request_id)
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
    """Route `request` into the dispatch namespace bound as `env.DISPATCHER`."""
    url = urlsplit(request.url)
    request_id = _request_id(request)
    refused = await _limit(request, env, request_id)
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
    namespace = getattr(env, "DISPATCHER", None)
    if namespace is None:
        _log("error", "no DISPATCHER binding", request_id=request_id)
        return error_response(
            "CONFIGURATION_ERROR", "The dispatcher is not configured", status=500, request_id=request_id
        )
    method = request.method.value if hasattr(request.method, "value") else str(request.method)
    body = None if method in NO_BODY else await request.bytes()
    target = urlunsplit((url.scheme, url.netloc, route.path, url.query, ""))
    forwarded = Request(target, method=method, headers=_forward_headers(request, request_id), body=body)
    environment = getattr(env, "ENVIRONMENT", "production")
    try:
        worker = namespace.get(route.service)
        reply = await worker.fetch(forwarded.js_object)
    except Exception as exc:
        text = str(exc)
        if "Worker not found" in text or "does not exist" in text:
            return error_response(
                "SERVICE_NOT_DEPLOYED",
                f"The {route.service} service is not deployed in {environment}",
                status=404,
                request_id=request_id,
                details={"service": route.service, "environment": environment},
            )
        _log(
            "error",
            "user worker failed",
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
    return Response(reply)
