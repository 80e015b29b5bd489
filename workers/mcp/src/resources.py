"""mcp's resources: the platform's health, each service's API document, the recent deployments.

- `dotdo://platform/health`: every upstream service's `/health`, at once (5 s each): `{"status": "ok" |
  "degraded", "services": {name: {"status": "ok" | "degraded" | "failing" | "unreachable" | "not_bound", ...}}}`.
- `dotdo://openapi/<service>`: the service's OpenAPI 3.1 document (its public `/openapi.json`).
- `dotdo://deployments/recent`: the 20 newest deployments, from the deploy service as the caller (needs
  the permission `deploy`, and is hidden without it).

Every reader asks the service over its binding; a service that is not bound here or does not answer is a
JSON-RPC error naming it (shared.mcp.resources), never a crash.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared.errors import AppError, ServiceUnavailable
from shared.mcp import ResourceRegistry
from shared.mcp.tools import principal_of
from shared.rpc import call
from upstreams import UPSTREAMS, binding_of, plain

HEALTH_TIMEOUT = 5.0
RECENT_DEPLOYMENTS = 20
#: The host a request to a service binding names (a binding ignores it; logs show it).
INTERNAL = "https://mcp.internal"

resources = ResourceRegistry()


async def _get_json(service: str, path: str, context: Any) -> tuple[int, Any]:
    """GET `path` of `service` over its binding: (status, JSON body or None). 503 when it is not bound here."""
    binding = binding_of(context.env, service)
    if binding is None:
        raise ServiceUnavailable(f"The {service} service is not bound here", code="SERVICE_NOT_BOUND")
    headers = {"x-request-id": getattr(context, "request_id", None) or ""}
    reply = await asyncio.wait_for(binding.fetch(f"{INTERNAL}{path}", headers=headers), HEALTH_TIMEOUT)
    try:
        body = await asyncio.wait_for(reply.json(), HEALTH_TIMEOUT)
    except ValueError:
        body = None
    return reply.status, plain(body)


async def _health_of(service: str, context: Any) -> dict[str, Any]:
    try:
        status, body = await _get_json(service, "/health", context)
    except AppError:
        return {"status": "not_bound"}
    except Exception:  # a service that does not answer is reported, not raised
        return {"status": "unreachable"}
    if status != 200:
        return {"status": "failing", "http_status": status}
    data = body.get("data") if isinstance(body, dict) else None
    reported = data.get("status") if isinstance(data, dict) else None
    version = data.get("version") if isinstance(data, dict) else None
    return {"status": "ok" if reported in (None, "ok") else "degraded", "version": version}


@resources.resource(
    "dotdo://platform/health",
    "Platform health",
    "Each service's /health: ok, degraded, failing, unreachable or not bound, and the platform's status.",
)
async def platform_health(context: Any) -> dict[str, Any]:
    checks = await asyncio.gather(*(_health_of(name, context) for name in UPSTREAMS))
    services = dict(zip(UPSTREAMS, checks, strict=True))
    healthy = all(check["status"] in ("ok", "not_bound") for check in checks)
    return {"status": "ok" if healthy else "degraded", "services": services}


def _openapi_reader(service: str) -> Any:
    async def read(context: Any) -> Any:
        try:
            status, document = await _get_json(service, "/openapi.json", context)
        except AppError:
            raise
        except Exception:
            raise ServiceUnavailable(f"The {service} service did not answer", code="SERVICE_UNAVAILABLE") from None
        if status != 200 or not isinstance(document, dict):
            raise ServiceUnavailable(f"The {service} service has no API document", code="SERVICE_UNAVAILABLE")
        return document

    return read


for _service in UPSTREAMS:
    resources.resource(
        f"dotdo://openapi/{_service}",
        f"{_service} API",
        f"The OpenAPI 3.1 document of the {_service} service: its HTTP routes, inputs and permissions.",
    )(_openapi_reader(_service))


@resources.resource(
    "dotdo://deployments/recent",
    "Recent deployments",
    f"The {RECENT_DEPLOYMENTS} newest deployments of every service and environment, newest first: who, what, status.",
    permission="deploy",
)
async def recent_deployments(context: Any) -> dict[str, Any]:
    binding = binding_of(context.env, "deploy")
    if binding is None:
        raise ServiceUnavailable("The deploy service is not bound here", code="SERVICE_NOT_BOUND")
    page = await call(binding.list_deployments, principal_of(context), {"limit": RECENT_DEPLOYMENTS}, service="deploy")
    return plain(page)
