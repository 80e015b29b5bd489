"""db's operations on things and relationships, each declared once: RPC, HTTP, MCP and OpenAPI follow.

RPC: `await env.DB_SERVICE.get_thing(principal, {"ns": "blog", "id": "post-1"})`, the same object
the HTTP route and the MCP tool take. Every call acts for its principal: what it may see and
change is decided in `access.py`, never here.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import maintenance
import relationships
import things
from shared.service import Call, NoInput, Service

service = Service(
    "db", version="0.1.0", description="The data layer: things, relationships and full-text search, per owner."
)

#: The keys of a page of things that HTTP answers in `meta` (the items are the data).
PAGE = ("page", "limit", "total", "has_more", "next_cursor")


class CountQuery(BaseModel):
    """Filters of a count."""

    model_config = ConfigDict(extra="forbid")

    ns: str | None = Field(default=None, pattern=things.NS)
    type: str | None = Field(default=None, pattern=things.TYPE)
    visibility: things.Visibility | None = None


class TypesQuery(BaseModel):
    """Within one namespace, or all."""

    model_config = ConfigDict(extra="forbid")

    ns: str | None = Field(default=None, pattern=things.NS)


class EdgesOf(BaseModel):
    """One thing's edges, optionally of one predicate."""

    model_config = ConfigDict(extra="forbid")

    ns: str = Field(pattern=things.NS)
    id: str = Field(pattern=things.THING_ID)
    predicate: str | None = Field(default=None, pattern=relationships.PREDICATE)


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid")

    older_than_days: int = Field(default=90, ge=maintenance.MIN_RETENTION_DAYS, le=3650)


def _created(thing: dict[str, Any]) -> int:
    return 201 if thing["created"] else 200


# -- things ------------------------------------------------------------------------------------------


@service.operation(http="GET /things/{ns}/{id}", permission="db:read", tool="db_get")
async def get_thing(call: Call, args: things.ThingKey) -> dict:
    """Get one thing by namespace and id."""
    return await things.get_thing(call.env, call.principal, args.ns, args.id)


@service.operation(http="GET /things", permission="db:read", tool="db_list", page=PAGE)
async def list_things(call: Call, args: things.ThingQuery) -> dict:
    """List things, newest first by default; filter by ns/type/visibility; pass next_cursor to continue."""
    return await things.list_things(call.env, call.principal, args)


@service.operation(
    http=("POST /things", "PUT /things/{ns}/{id}"), permission="db:write", tool="db_upsert", status=_created
)
async def upsert_thing(call: Call, args: things.ThingInput) -> dict:
    """Create a thing, or replace the type, data, content and visibility of one."""
    return await things.upsert_thing(call.env, call.principal, args)


@service.operation(http="DELETE /things/{ns}/{id}", permission="db:write", tool="db_delete")
async def delete_thing(call: Call, args: things.ThingKey) -> dict:
    """Delete a thing and its relationships."""
    return await things.delete_thing(call.env, call.principal, args.ns, args.id)


@service.operation(permission="db:read")
async def count_things(call: Call, args: CountQuery) -> int:
    """How many of the things the principal may find match the filters."""
    return await things.count_things(call.env, call.principal, args.ns, args.type, args.visibility)


@service.operation(http="GET /search", permission="db:read", tool="db_search", page=("query",))
async def search_things(call: Call, args: things.SearchQuery) -> dict:
    """Full-text search over things' content (every word must match)."""
    return await things.search_things(call.env, call.principal, args.q, args.ns, args.type, args.limit)


@service.operation(http="GET /stats", permission="db:read", tool="db_stats")
async def stats(call: Call, args: NoInput) -> dict:
    """Counts of things and relationships, namespaces and types."""
    return await things.stats(call.env, call.principal)


@service.operation(http="GET /types", permission="db:read")
async def type_distribution(call: Call, args: TypesQuery) -> list:
    """How many things of each type, most common first (within ns if given)."""
    return await things.type_distribution(call.env, call.principal, args.ns)


# -- relationships -----------------------------------------------------------------------------------


@service.operation(http="POST /relationships", permission="db:write", status=201)
async def upsert_relationship(call: Call, args: relationships.RelationshipInput) -> dict:
    """Create or replace an edge between two things you may see."""
    return await relationships.upsert_relationship(call.env, call.principal, args)


@service.operation(http="DELETE /relationships", permission="db:write")
async def delete_relationship(call: Call, args: relationships.RelationshipInput) -> dict:
    """Delete an edge (its from, predicate and to)."""
    return await relationships.delete_relationship(call.env, call.principal, args)


@service.operation(
    http=("GET /relationships", "GET /things/{ns}/{id}/relationships"), permission="db:read", page=("has_more",)
)
async def list_relationships(call: Call, args: relationships.RelationshipQuery) -> dict:
    """A thing's outgoing or incoming edges (optionally one predicate), with the other end visible to you."""
    return await relationships.list_relationships(call.env, call.principal, args)


@service.operation(permission="db:read")
async def get_relationships(call: Call, args: EdgesOf) -> dict:
    """Outgoing edges of a thing."""
    return await relationships.get_relationships(call.env, call.principal, args.ns, args.id, args.predicate)


@service.operation(permission="db:read")
async def get_incoming_relationships(call: Call, args: EdgesOf) -> dict:
    """Incoming edges of a thing (what points at it)."""
    return await relationships.get_incoming_relationships(call.env, call.principal, args.ns, args.id, args.predicate)


# -- housekeeping (the schedule service) ---------------------------------------------------------------


@service.operation(http="POST /maintenance/purge-audit-log", permission="db:maintain")
async def purge_audit_log(call: Call, args: Retention) -> dict:
    """Delete audit log entries older than the retention (30 days at least; the purge is audited)."""
    assert call.actor is not None  # the kit lets no operation here run without a principal
    return await maintenance.purge_audit_log(call.env, call.actor, args.older_than_days)


@service.operation(http="GET /maintenance/usage", permission="db:maintain")
async def usage_stats(call: Call, args: NoInput) -> dict:
    """Counts of things, relationships, namespaces and types over every owner (no content)."""
    assert call.actor is not None
    return await maintenance.usage_stats(call.env, call.actor)
