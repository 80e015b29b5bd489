"""The db MCP tools: the same domain functions as RPC and HTTP, described for AI agents.

The caller is authenticated by the HTTP middleware; each tool checks the permission it needs
(`db:read` or `db:write`) and answers a tool error (FORBIDDEN) without it, and acts for that
principal: the tools see and change exactly what the principal may through RPC and HTTP.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import things
from shared.mcp import ToolRegistry
from shared.middleware.authentication import require_permission

registry = ToolRegistry()


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=500, description="Words to find in things' content")
    ns: str | None = Field(default=None, pattern=things.NS)
    type: str | None = Field(default=None, pattern=things.TYPE)
    limit: int = Field(default=20, ge=1, le=100)


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@registry.tool("db_get", "Get one thing by namespace and id.", things.ThingKey)
async def db_get(args: things.ThingKey, ctx: Any) -> dict:
    principal = require_permission(ctx, "db:read")
    return await things.get_thing(ctx.env, principal, args.ns, args.id)


@registry.tool(
    "db_list",
    "List things, newest first by default; filter by ns/type/visibility; pass next_cursor to continue.",
    things.ThingQuery,
)
async def db_list(args: things.ThingQuery, ctx: Any) -> dict:
    principal = require_permission(ctx, "db:read")
    return await things.list_things(ctx.env, principal, args.model_dump(exclude_none=True))


@registry.tool("db_search", "Full-text search over things' content (every word must match).", SearchArgs)
async def db_search(args: SearchArgs, ctx: Any) -> dict:
    principal = require_permission(ctx, "db:read")
    return await things.search_things(ctx.env, principal, args.q, args.ns, args.type, args.limit)


@registry.tool(
    "db_upsert", "Create a thing, or replace the type, data, content and visibility of one.", things.ThingInput
)
async def db_upsert(args: things.ThingInput, ctx: Any) -> dict:
    principal = require_permission(ctx, "db:write")
    return await things.upsert_thing(ctx.env, principal, args.model_dump(exclude_unset=True))


@registry.tool("db_delete", "Delete a thing and its relationships.", things.ThingKey)
async def db_delete(args: things.ThingKey, ctx: Any) -> dict:
    principal = require_permission(ctx, "db:write")
    return await things.delete_thing(ctx.env, principal, args.ns, args.id)


@registry.tool("db_stats", "Counts of things and relationships, namespaces and types.", NoArgs)
async def db_stats(args: NoArgs, ctx: Any) -> dict:
    principal = require_permission(ctx, "db:read")
    return await things.stats(ctx.env, principal)
