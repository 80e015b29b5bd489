"""The queue HTTP API: the middleware stack, `/health`, and the routes of `operations.py`.

Every route but `/health` and `/openapi.json` needs a bearer token (checked by the auth service through
`AUTH_SERVICE`); each operation then checks its permission (`queue:read`, `queue:write`, `queue:admin`).
"""

from typing import Any

from workers import Request

from operations import service
from shared.middleware import AccessLogMiddleware, AuthenticationMiddleware, ErrorMiddleware, RequestIdMiddleware
from shared.routing import Context, Router

SERVICE = service.name
VERSION = service.version

router = Router()
router.use(RequestIdMiddleware())
router.use(AccessLogMiddleware(SERVICE))
router.use(ErrorMiddleware(SERVICE))
router.use(AuthenticationMiddleware(public=("/health", *service.public_paths())))


@router.get("/health")
async def health(request: Request, ctx: Context) -> Any:
    return {"service": SERVICE, "status": "ok", "version": VERSION}


service.serve(router)  # the operations' routes (/jobs, /job-types, /dead-letters), GET /openapi.json and POST /mcp
