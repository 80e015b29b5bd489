"""The db HTTP API: the middleware stack, `/health`, admin SQL, and the routes of `operations.py`.

Every route but `/health` and `/openapi.json` needs a bearer token. Reads need `db:read`, writes
`db:write` (declared with each operation), raw SQL (`POST /sql`) `db:admin`. Every domain call acts
for the authenticated principal: what it may see and change is decided in `access.py`, never here.
"""

from typing import Any

from workers import Request

import admin_sql
from operations import service
from shared.errors import recent_storage_problem, storage_error
from shared.http import query_of
from shared.middleware.authentication import require_permission
from shared.routing import Context
from shared.validation import read_json
from storage import storage

SERVICE = service.name
VERSION = service.version

router = service.router(health=False)  # request ids, access log, errors, authentication; /health below


#: A write that changes nothing (the newest migration's row set to itself): it still needs the
#: database to take a write, so a read-only, full or failing disk shows in `?deep=1`.
WRITE_PROBE = "UPDATE _migrations SET applied_at = applied_at WHERE version = (SELECT max(version) FROM _migrations)"


@router.get("/health")
async def health(request: Request, ctx: Context) -> Any:
    """Alive and migrated; with `?deep=1` also whether the storage takes a write and any storage failure
    of the last minute (`storage`): a full disk shows only when a write needs space.

    The schema is checked on an isolate's first open of its database (migrations applied, declared tables
    made), not again on every call: a monitor polling `/health` costs no query. A statement that later
    meets a missing table (a database replaced under a running isolate) brings it up to date again."""
    store = await storage(ctx.env)  # an isolate's first open checks the schema and keeps its version
    version = store.database.version
    result: dict[str, Any] = {"service": SERVICE, "status": "ok", "version": VERSION, "schema_version": version}
    if query_of(request).get("deep") in ("1", "true"):
        try:
            await store.run(WRITE_PROBE)
            result["storage"] = {"writable": True}
        except Exception as exc:
            problem = storage_error(exc)
            if problem is None:
                raise
            result["storage"] = {"writable": False, "problem": problem.message}
        recent = recent_storage_problem()
        if recent is not None:
            result["storage"]["recent_failure"] = recent
        if not result["storage"]["writable"] or recent is not None:
            result["status"] = "degraded"
    return result


@router.post("/sql")
async def sql(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:admin")
    return await admin_sql.run_sql(ctx.env, await read_json(request, strict=True), actor=principal["id"])


service.serve(router)  # the operations' routes, GET /openapi.json and POST /mcp (operations.py)
