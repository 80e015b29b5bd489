"""Relationships: the graph's edges, `from` thing -> `predicate` -> `to` thing, with optional JSON data.

Both ends must exist (404 otherwise), and deleting a thing deletes its edges both ways (foreign
keys with ON DELETE CASCADE), so the graph never points at nothing. One edge per (from, predicate,
to): writing it again replaces its data.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.clock import now_iso
from shared.errors import NotFound
from shared.validation import validate
from storage import storage
from things import NS, THING_ID, ThingKey

PREDICATE = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"


class RelationshipInput(BaseModel):
    """An edge to create or replace."""

    model_config = ConfigDict(extra="forbid")

    from_: ThingKey = Field(alias="from", description="The thing the edge starts at: {ns, id}")
    predicate: str = Field(pattern=PREDICATE, description="What the edge means, e.g. author, memberOf")
    to: ThingKey = Field(description="The thing the edge points to: {ns, id}")
    data: dict[str, Any] = Field(default_factory=dict)


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
    }


async def upsert_relationship(env: Any, relationship: Any, *, actor: str | None = None) -> dict[str, Any]:
    """Create (or replace the data of) an edge; 404 `NOT_FOUND` naming a missing end."""
    edge = validate(RelationshipInput, relationship)
    db = await storage(env)
    ends = await db.all(
        "SELECT ns, id FROM things WHERE (ns = ? AND id = ?) OR (ns = ? AND id = ?)",
        [edge.from_.ns, edge.from_.id, edge.to.ns, edge.to.id],
    )
    found = {(r["ns"], r["id"]) for r in ends}
    for end in (edge.from_, edge.to):
        if (end.ns, end.id) not in found:
            raise NotFound(f"No thing {end.ns}/{end.id}", details={"ns": end.ns, "id": end.id})
    now = now_iso()
    row = await db.first(
        """INSERT INTO relationships
               (from_ns, from_id, predicate, to_ns, to_id, data, created_at, updated_at, created_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
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
            actor,
        ],
    )
    assert row is not None
    return to_relationship(row)


async def delete_relationship(env: Any, relationship: Any) -> dict[str, Any]:
    """Delete one edge; 404 if there is none."""
    edge = validate(RelationshipInput, relationship)
    db = await storage(env)
    changed = await db.run(
        "DELETE FROM relationships WHERE from_ns = ? AND from_id = ? AND predicate = ? AND to_ns = ? AND to_id = ?",
        [edge.from_.ns, edge.from_.id, edge.predicate, edge.to.ns, edge.to.id],
    )
    if not changed:
        raise NotFound("No such relationship")
    return {"deleted": True}


async def list_relationships(env: Any, query: Any) -> dict[str, Any]:
    """A thing's outgoing or incoming edges (optionally one predicate): `{"items", "has_more"}`."""
    q = validate(RelationshipQuery, query)
    mine, theirs = ("from", "to") if q.direction == "outgoing" else ("to", "from")
    where, params = [f"{mine}_ns = ?", f"{mine}_id = ?"], [q.ns, q.id]
    if q.predicate is not None:
        where.append("predicate = ?")
        params.append(q.predicate)
    sql = (
        f"SELECT * FROM relationships WHERE {' AND '.join(where)} "
        f"ORDER BY predicate, {theirs}_ns, {theirs}_id LIMIT ? OFFSET ?"
    )
    db = await storage(env)
    rows = await db.all(sql, [*params, q.limit + 1, q.offset])
    return {"items": [to_relationship(r) for r in rows[: q.limit]], "has_more": len(rows) > q.limit}


async def get_relationships(env: Any, ns: str, id: str, predicate: str | None = None) -> dict[str, Any]:
    """Outgoing edges of a thing."""
    return await list_relationships(env, {"ns": ns, "id": id, "predicate": predicate})


async def get_incoming_relationships(env: Any, ns: str, id: str, predicate: str | None = None) -> dict[str, Any]:
    """Incoming edges of a thing (what points at it)."""
    return await list_relationships(env, {"ns": ns, "id": id, "predicate": predicate, "direction": "incoming"})
