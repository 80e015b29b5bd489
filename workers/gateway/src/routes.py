"""The gateway's HTTP face: `/health` (with `?deep=1` each routed service's), the OAuth protected-resource
metadata, and every other path routed.

Middleware, outermost first: CORS (preflights answered before anything else), request id, access
log (one JSON line per request, with principal and request id), errors (envelopes, no internals).
"""

import asyncio
from typing import Any

from workers import Request

import gateway
import routing
from shared.http import query_of
from shared.middleware import AccessLogMiddleware, CORSMiddleware, ErrorMiddleware, RequestIdMiddleware
from shared.oauth import METADATA_PATH, metadata_endpoint
from shared.routing import METHODS, Context, Next, Router
from shared.settings import setting

SERVICE = "gateway"
VERSION = "0.1.0"
HEALTH_TIMEOUT = 5.0


class ConfiguredCORS:
    """CORS for the origins in the `CORS_ORIGINS` var (comma-separated; empty: no cross-origin access)."""

    def __init__(self) -> None:
        self._built: dict[str, CORSMiddleware] = {}

    async def __call__(self, request: Request, ctx: Context, call_next: Next) -> Any:
        origins = setting(ctx.env, "CORS_ORIGINS")
        if not origins:
            return await call_next(request, ctx)
        middleware = self._built.get(origins)
        if middleware is None:
            middleware = self._built[origins] = CORSMiddleware(origins)
        return await middleware(request, ctx, call_next)


router = Router()
router.use(ConfiguredCORS())
router.use(RequestIdMiddleware())
router.use(AccessLogMiddleware(SERVICE))
router.use(ErrorMiddleware(SERVICE))


@router.get("/health")
async def health(request: Request, ctx: Context) -> Any:
    result: dict[str, Any] = {"service": SERVICE, "status": "ok", "version": VERSION}
    if query_of(request).get("deep") in ("1", "true"):
        reachable = {name: (r, gateway.upstream(ctx.env, r)) for name, r in routing.ROUTES.items()}
        reachable = {name: pair for name, pair in reachable.items() if pair[1] is not None}
        checks = await asyncio.gather(*(_service_health(ctx, r, up) for r, up in reachable.values()))
        result["services"] = dict(zip(reachable, checks, strict=True))
        # A namespace service of the registry that is not deployed in this environment is reported, and is
        # no fault of the gateway's.
        if any(c["status"] not in ("ok", "not_deployed") for c in checks):
            result["status"] = "degraded"
    return result


async def _service_health(ctx: Context, route: routing.Route, upstream: Any) -> dict[str, Any]:
    reply = None
    try:
        reply = await asyncio.wait_for(
            upstream.fetch("https://gateway.internal/health?deep=1", headers={"x-request-id": ctx.request_id}),
            HEALTH_TIMEOUT,
        )
        body = await asyncio.wait_for(reply.json(), HEALTH_TIMEOUT)
    except Exception as exc:
        if reply is None and route.in_namespace and gateway.not_deployed(exc):
            return {"status": "not_deployed"}
        if reply is None or reply.status == 200:
            return {"status": "unreachable"}
        body = None  # an error answer that is not JSON
    if reply.status != 200:
        # The local platform answers 503 WORKER_RESTARTING for a service whose process it is restarting.
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        status = "restarting" if code == "WORKER_RESTARTING" else "failing"
        return {"status": status, "http_status": reply.status} | ({"code": code} if isinstance(code, str) else {})
    # A service that answers but reports a problem of its own (db's storage, say) is degraded, not ok.
    data = body.get("data") if isinstance(body, dict) else None
    reported = data.get("status") if isinstance(data, dict) else None
    return {"status": "ok" if reported in (None, "ok") else "degraded", "http_status": reply.status}


# Where OAuth clients that met a 401 here learn where to sign in (shared.oauth): the auth service.
router.get(METADATA_PATH)(metadata_endpoint(SERVICE))
router.route("/{path:path}", [m for m in METHODS if m != "HEAD"])(gateway.handle)
