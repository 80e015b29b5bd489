"""Relationships: the graph's edges, `from` thing -> `predicate` -> `to` thing, with optional JSON data.

Both ends must exist (404 otherwise), and deleting a thing deletes its edges both ways (foreign
keys with ON DELETE CASCADE), so the graph never points at nothing. One edge per (from, predicate,
to): writing it again replaces its data.

Who sees and makes edges follows the things' rules (`access`): an edge is seen only when the caller
may see both ends (the thing asked about by its id, the other end as in a listing, so an unlisted
thing is never revealed through an edge); making or replacing one needs write access to its
`from` thing and sight of its `to` thing (a hidden end is 404 `NOT_FOUND` exactly as a missing
one); deleting one needs sight of both ends and write access to `from`, or being the edge's owner.
An edge records its owner (who made it) and organisation as a thing does.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import access
from access import GET, LIST, WRITE, Principal
from shared.clock import now_iso
from shared.errors import Forbidden, NotFound
from shared.validation import validate
from storage import storage
from things import NS, ORG, THING_ID, ThingKey, caller, cannot_change, not_found

PREDICATE = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"


class RelationshipInput(BaseModel):
    """An edge to create or replace."""

    model_config = ConfigDict(extra="forbid")

    from_: ThingKey = Field(alias="from", description="The thing the edge starts at: {ns, id}")
    predicate: str = Field(pattern=PREDICATE, description="What the edge means, e.g. author, memberOf")
    to: ThingKey = Field(description="The thing the edge points to: {ns, id}")
    data: dict[str, Any] = Field(default_factory=dict)
    org_id: str | None = Field(
        default=None, pattern=ORG, description="Its organisation (default: the one you act in; null for none)"
    )


class RelationshipQuery(BaseModel):
    """Edges of one thing: outgoing (it is `from`) or incoming (it is `to`)."""

    model_config = ConfigDict(extra="forbid")

    ns: str = Field(pattern=NS)
    id: str = Field(pattern=THING_ID)
    direction: Literal["outgoing", "incoming"] = "outgoing"
    predicate: str | None = Field(default=None, pattern=PREDICATE)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=100_000)


def to_relationship(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": {"ns": row["from_ns"], "id": row["from_id"]},
        "predicate": row["predicate"],
        "to": {"ns": row["to_ns"], "id": row["to_id"]},
        "data": json.loads(row["data"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "created_by": row["created_by"],
        "owner_id": row["owner_id"],
        "org_id": row["org_id"],
    }


async def _ends(env: Any, who: Principal, edge: RelationshipInput) -> dict[tuple[str, str], dict[str, Any]]:
    """The ends of an edge that `who` may see by id, by (ns, id); 404 `NOT_FOUND` naming one it may not."""
    visible, params = access.condition(who, GET)
    db = await storage(env)
    rows = await db.all(
        f"SELECT * FROM things WHERE ((ns = ? AND id = ?) OR (ns = ? AND id = ?)) AND {visible}",
        [edge.from_.ns, edge.from_.id, edge.to.ns, edge.to.id, *params],
    )
    found = {(r["ns"], r["id"]): r for r in rows}
    for end in (edge.from_, edge.to):
        if (end.ns, end.id) not in found:
            raise not_found(end.ns, end.id)
    return found


async def upsert_relationship(env: Any, principal: Any, relationship: Any) -> dict[str, Any]:
    """Create (or replace the data of) an edge from a thing the principal may write to one it may see.

    404 `NOT_FOUND` naming an end that is missing or hidden from the principal; 403 `FORBIDDEN` if it
    may see the `from` thing but not change it; 403 `NOT_A_MEMBER` for an `org_id` it is not in.
    """
    who = caller(principal, "db:write")
    edge = validate(RelationshipInput, relationship)
    org_id = edge.org_id if "org_id" in edge.model_fields_set else who.org_id
    if not access.may_assign_org(who, org_id):
        raise Forbidden(f"You are not a member of {org_id}", code="NOT_A_MEMBER", details={"org_id": org_id})
    ends = await _ends(env, who, edge)
    if not access.allowed(who, WRITE, ends[(edge.from_.ns, edge.from_.id)]):
        raise cannot_change(edge.from_.ns, edge.from_.id)
    now = now_iso()
    db = await storage(env)
    row = await db.first(
        """INSERT INTO relationships
               (from_ns, from_id, predicate, to_ns, to_id, data, created_at, updated_at, created_by, owner_id, org_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (from_ns, from_id, predicate, to_ns, to_id) DO UPDATE SET
               data = excluded.data, updated_at = excluded.updated_at
           RETURNING *""",
        [
            edge.from_.ns,
            edge.from_.id,
            edge.predicate,
            edge.to.ns,
            edge.to.id,
            json.dumps(edge.data, separators=(",", ":")),
            now,
            now,
            who.id,
            who.id,
            org_id,
        ],
    )
    assert row is not None
    return to_relationship(row)


_EDGE = "from_ns = ? AND from_id = ? AND predicate = ? AND to_ns = ? AND to_id = ?"


async def delete_relationship(env: Any, principal: Any, relationship: Any) -> dict[str, Any]:
    """Delete one edge whose ends the principal may see, if it may write `from` or owns the edge.

    404 `NOT_FOUND` ("No such relationship") if there is none or an end is hidden; 403 `FORBIDDEN`
    if the principal may see the edge but not change it.
    """
    who = caller(principal, "db:write")
    edge = validate(RelationshipInput, relationship)
    key = [edge.from_.ns, edge.from_.id, edge.predicate, edge.to.ns, edge.to.id]
    try:
        ends = await _ends(env, who, edge)
    except NotFound:
        raise NotFound("No such relationship") from None
    db = await storage(env)
    stored = await db.first(f"SELECT owner_id FROM relationships WHERE {_EDGE}", key)
    if stored is None:
        raise NotFound("No such relationship")
    owns = stored["owner_id"] is not None and stored["owner_id"] == who.id
    if not owns and not access.allowed(who, WRITE, ends[(edge.from_.ns, edge.from_.id)]):
        raise Forbidden("You may not change this relationship")
    if not await db.run(f"DELETE FROM relationships WHERE {_EDGE}", key):
        raise NotFound("No such relationship")
    return {"deleted": True}


async def list_relationships(env: Any, principal: Any, query: Any) -> dict[str, Any]:
    """A thing's outgoing or incoming edges (optionally one predicate): `{"items", "has_more"}`.

    None (as for a thing that does not exist) unless the principal may see the thing by its id;
    only edges whose other end it may find.
    """
    who = caller(principal, "db:read")
    q = validate(RelationshipQuery, query)
    mine, theirs = ("from", "to") if q.direction == "outgoing" else ("to", "from")
    this_end, this_params = access.condition(who, GET, "a")
    other_end, other_params = access.condition(who, LIST, "b")
    where = [f"r.{mine}_ns = ?", f"r.{mine}_id = ?", this_end, other_end]
    params = [q.ns, q.id, *this_params, *other_params]
    if q.predicate is not None:
        where.append("r.predicate = ?")
        params.append(q.predicate)
    sql = (
        "SELECT r.* FROM relationships r "
        f"JOIN things a ON a.ns = r.{mine}_ns AND a.id = r.{mine}_id "
        f"JOIN things b ON b.ns = r.{theirs}_ns AND b.id = r.{theirs}_id "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY r.predicate, r.{theirs}_ns, r.{theirs}_id LIMIT ? OFFSET ?"
    )
    db = await storage(env)
    rows = await db.all(sql, [*params, q.limit + 1, q.offset])
    return {"items": [to_relationship(r) for r in rows[: q.limit]], "has_more": len(rows) > q.limit}


async def get_relationships(env: Any, principal: Any, ns: str, id: str, predicate: str | None = None) -> dict[str, Any]:
    """Outgoing edges of a thing."""
    return await list_relationships(env, principal, {"ns": ns, "id": id, "predicate": predicate})


async def get_incoming_relationships(
    env: Any, principal: Any, ns: str, id: str, predicate: str | None = None
) -> dict[str, Any]:
    """Incoming edges of a thing (what points at it)."""
    query = {"ns": ns, "id": id, "predicate": predicate, "direction": "incoming"}
    return await list_relationships(env, principal, query)
