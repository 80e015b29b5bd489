"""The db HTTP API. Every route calls a domain function; every route but /health needs a bearer token.

Reads need `db:read`, writes `db:write`, raw SQL (`POST /sql`) `db:admin`. Every domain call acts
for the authenticated principal (`ctx.state["principal"]`): what it may see and change is decided
in `access.py`, never here.
"""

from typing import Any

from workers import Request

import admin_sql
import relationships
import things
from shared.errors import BadRequest, recent_storage_problem, storage_error
from shared.http import query_of
from shared.mcp import mcp_endpoint
from shared.middleware import AccessLogMiddleware, AuthenticationMiddleware, ErrorMiddleware, RequestIdMiddleware
from shared.middleware.authentication import require_permission
from shared.routing import Context, Router
from shared.validation import read_json, read_json_object
from storage import storage
from tools import registry

SERVICE = "db"
VERSION = "0.1.0"

router = Router()
router.use(RequestIdMiddleware())
router.use(AccessLogMiddleware(SERVICE))
router.use(ErrorMiddleware(SERVICE))
router.use(AuthenticationMiddleware(public=("/health",)))


#: A write that changes nothing (the newest migration's row set to itself): it still needs the
#: database to take a write, so a read-only, full or failing disk shows in `?deep=1`.
WRITE_PROBE = "UPDATE _migrations SET applied_at = applied_at WHERE version = (SELECT max(version) FROM _migrations)"


@router.get("/health")
async def health(request: Request, ctx: Context) -> Any:
    """Alive and migrated; with `?deep=1` also whether the storage takes a write and any storage failure
    of the last minute (`storage`): a full disk shows only when a write needs space."""
    store = await storage(ctx.env)
    version = await store.ready()
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


# -- things ------------------------------------------------------------------------------------------


@router.get("/things")
async def list_things(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:read")
    page = await things.list_things(ctx.env, principal, query_of(request))
    meta = {k: page[k] for k in ("page", "limit", "total", "has_more", "next_cursor")}
    return ctx.json(page["items"], meta=meta)


@router.post("/things")
async def upsert_thing(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:write")
    thing = await things.upsert_thing(ctx.env, principal, await read_json(request))
    return ctx.json(thing, status=201 if thing["created"] else 200)


@router.get("/things/{ns}/{id}")
async def get_thing(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:read")
    return await things.get_thing(ctx.env, principal, ctx.params["ns"], ctx.params["id"])


@router.put("/things/{ns}/{id}")
async def put_thing(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:write")
    body = await read_json_object(request)
    for key in ("ns", "id"):
        if key in body and body[key] != ctx.params[key]:
            raise BadRequest(f"The body's {key} differs from the path", code="VALIDATION_ERROR")
    thing = await things.upsert_thing(ctx.env, principal, body | {"ns": ctx.params["ns"], "id": ctx.params["id"]})
    return ctx.json(thing, status=201 if thing["created"] else 200)


@router.delete("/things/{ns}/{id}")
async def delete_thing(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:write")
    return await things.delete_thing(ctx.env, principal, ctx.params["ns"], ctx.params["id"])


@router.get("/things/{ns}/{id}/relationships")
async def thing_relationships(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:read")
    query = query_of(request) | {"ns": ctx.params["ns"], "id": ctx.params["id"]}
    page = await relationships.list_relationships(ctx.env, principal, query)
    return ctx.json(page["items"], meta={"has_more": page["has_more"]})


# -- relationships -----------------------------------------------------------------------------------


@router.get("/relationships")
async def list_relationships(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:read")
    page = await relationships.list_relationships(ctx.env, principal, query_of(request))
    return ctx.json(page["items"], meta={"has_more": page["has_more"]})


@router.post("/relationships")
async def upsert_relationship(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:write")
    edge = await relationships.upsert_relationship(ctx.env, principal, await read_json(request))
    return ctx.json(edge, status=201)


@router.delete("/relationships")
async def delete_relationship(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:write")
    return await relationships.delete_relationship(ctx.env, principal, await read_json(request))


# -- search, stats, operators ----------------------------------------------------------------------------


@router.get("/search")
async def search(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:read")
    query = query_of(request)
    unknown = set(query) - {"q", "ns", "type", "limit"}
    if unknown:
        raise BadRequest(f"Unknown query parameters: {', '.join(sorted(unknown))[:200]}", code="VALIDATION_ERROR")
    result = await things.search_things(
        ctx.env, principal, query.get("q", ""), query.get("ns"), query.get("type"), query.get("limit", 20)
    )
    return ctx.json(result["items"], meta={"query": result["query"]})


@router.get("/stats")
async def stats(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:read")
    return await things.stats(ctx.env, principal)


@router.get("/types")
async def types(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:read")
    return await things.type_distribution(ctx.env, principal, query_of(request).get("ns"))


@router.post("/sql")
async def sql(request: Request, ctx: Context) -> Any:
    principal = require_permission(ctx, "db:admin")
    return await admin_sql.run_sql(ctx.env, await read_json(request, strict=True), actor=principal["id"])


router.route("/mcp", ["POST", "GET", "DELETE"])(mcp_endpoint(registry, name=SERVICE, version=VERSION))
