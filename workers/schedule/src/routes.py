"""The schedule HTTP API: the middleware stack, `/health`, and the routes of `operations.py`.

Every route but `/health` and `/openapi.json` needs `Authorization: Bearer <API key or token>`,
checked by the auth service (AUTH_SERVICE); each operation then checks its own permission.
"""

from typing import Any

from workers import Request

from operations import service
from shared.middleware import AccessLogMiddleware, AuthenticationMiddleware, ErrorMiddleware, RequestIdMiddleware
from shared.routing import Context, Router

router = Router()
router.use(RequestIdMiddleware())
router.use(AccessLogMiddleware(service.name))
router.use(ErrorMiddleware(service.name))
router.use(AuthenticationMiddleware(public=("/health", *service.public_paths())))


@router.get("/health")
async def health(request: Request, ctx: Context) -> Any:
    return {"service": service.name, "status": "ok", "version": service.version}


service.serve(router)  # every operation's route, GET /openapi.json and POST /mcp
