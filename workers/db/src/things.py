"""Things: the graph's nodes. `ns` + `id` name one; it has a `type`, JSON `data`, text `content`
(searched with SQLite FTS5, which D1 supports), a `visibility`, and who made and changed it when.

RPC, HTTP and MCP all call these functions, so the three interfaces return the same data. Each
takes the principal it acts for; who may see and change which thing is decided by `access` alone
(an owner, an organisation and the visibility).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import access
from access import GET, LIST, WRITE, Principal
from shared.clock import now_iso
from shared.errors import Conflict, Forbidden, NotFound, ValidationError
from shared.validation import validate
from storage import LATEST, storage

NS = r"^[a-z0-9][a-z0-9._-]{0,63}$"
THING_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,255}$"
TYPE = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
ORG = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
MAX_DATA = 256 * 1024
MAX_CONTENT = 512 * 1024
ORDER_FIELDS = ("created_at", "updated_at", "id", "type")

Visibility = Literal["public", "private", "unlisted"]


class ThingKey(BaseModel):
    """Which thing: its namespace and id."""

    model_config = ConfigDict(extra="forbid")

    ns: str = Field(pattern=NS, description="Namespace: lower-case letters, digits, . _ - (1-64)")
    id: str = Field(pattern=THING_ID, description="Id within the namespace (1-256 of letters, digits, . _ : @ -)")


class ThingInput(ThingKey):
    """A thing to create or replace."""

    type: str = Field(default="Thing", pattern=TYPE, description="The thing's type, e.g. Person, Article")
    data: dict[str, Any] = Field(default_factory=dict, description="Any JSON object")
    content: str | None = Field(default=None, max_length=MAX_CONTENT, description="Text indexed for search")
    visibility: Visibility = "private"
    org_id: str | None = Field(
        default=None,
        pattern=ORG,
        description="Its organisation: one you belong to (default: the one you act in; null for none)",
    )

    @field_validator("data")
    @classmethod
    def _data_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(json.dumps(value, separators=(",", ":"), allow_nan=False))
        except ValueError:
            raise ValueError("data must be JSON (no NaN or Infinity)") from None
        if size > MAX_DATA:
            raise ValueError(f"data is larger than {MAX_DATA} bytes")
        return value


class ThingQuery(BaseModel):
    """A page of things: filters, order, and either a page number or a cursor."""

    model_config = ConfigDict(extra="forbid")

    ns: str | None = Field(default=None, pattern=NS)
    type: str | None = Field(default=None, pattern=TYPE)
    visibility: Visibility | None = None
    order_by: Literal["created_at", "updated_at", "id", "type"] = "created_at"
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=1024, description="next_cursor of the previous page")


class SearchQuery(BaseModel):
    """Full-text search over things' content."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        min_length=1, max_length=500, description="Words to find (all of them); end a word with * for a prefix"
    )
    ns: str | None = Field(default=None, pattern=NS)
    type: str | None = Field(default=None, pattern=TYPE)
    limit: int = Field(default=20, ge=1, le=100)


def to_thing(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the API shows a thing."""
    return {
        "ns": row["ns"],
        "id": row["id"],
        "type": row["type"],
        "data": json.loads(row["data"]),
        "content": row["content"],
        "visibility": row["visibility"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "owner_id": row["owner_id"],
        "org_id": row["org_id"],
    }


def not_found(ns: str, id: str) -> NotFound:
    """The answer for a thing that is missing or that the caller may not see: the two are never told apart."""
    return NotFound(f"No thing {ns}/{id}", details={"ns": ns, "id": id})


def caller(principal: Any, permission: str) -> Principal:
    """The principal a call acts for, holding `permission` (400 `INVALID_PRINCIPAL`, 403 `FORBIDDEN`)."""
    return access.require(Principal.of(principal), permission)


async def read_thing(env: Any, principal: Principal, ns: str, id: str) -> dict[str, Any] | None:
    """The stored row of a thing `principal` may read by id, or None (missing or not theirs to see)."""
    where, params = access.condition(principal, GET)
    db = await storage(env)
    return await db.first(f"SELECT * FROM things WHERE ns = ? AND id = ? AND {where}", [ns, id, *params])


async def get_thing(env: Any, principal: Any, ns: str, id: str) -> dict[str, Any]:
    """One thing the principal may read, or 404 `NOT_FOUND` (the same for a missing one and a hidden one)."""
    who = caller(principal, "db:read")
    key = validate(ThingKey, {"ns": ns, "id": id})
    row = await read_thing(env, who, key.ns, key.id)
    if row is None:
        raise not_found(key.ns, key.id)
    return to_thing(row)


async def upsert_thing(env: Any, principal: Any, thing: Any) -> dict[str, Any]:
    """Create a thing owned by `principal`, or replace type/data/content/visibility (and `org_id`, if
    given) of an existing one the principal may write.

    Returns the stored thing with `"created": true|false`. `created_at`/`created_by`/`owner_id` keep
    their first values. A new thing's organisation is the `org_id` given (one the principal belongs
    to: else 403 `NOT_A_MEMBER`), or the one the principal acts in. An existing id the principal may
    not write is 409 `ID_UNAVAILABLE`, whether or not the principal may see that thing: the answer
    says only that the id is taken.
    """
    who = caller(principal, "db:write")
    item = validate(ThingInput, thing)
    org_given = "org_id" in item.model_fields_set
    org_id = item.org_id if org_given else who.org_id
    if not access.may_assign_org(who, org_id):
        raise Forbidden(f"You are not a member of {org_id}", code="NOT_A_MEMBER", details={"org_id": org_id})
    may_write, may_write_params = access.condition(who, WRITE)
    now = now_iso()
    db = await storage(env)
    exists, stored = await db.batch(
        [
            ("SELECT 1 AS found FROM things WHERE ns = ? AND id = ?", [item.ns, item.id]),
            (
                f"""INSERT INTO things (ns, id, type, data, content, visibility, created_at, updated_at,
                                        created_by, updated_by, owner_id, org_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (ns, id) DO UPDATE SET type = excluded.type, data = excluded.data,
                        content = excluded.content, visibility = excluded.visibility,
                        updated_at = excluded.updated_at, updated_by = excluded.updated_by,
                        org_id = CASE WHEN ? THEN excluded.org_id ELSE things.org_id END
                    WHERE {may_write}
                    RETURNING *""",
                [
                    item.ns,
                    item.id,
                    item.type,
                    json.dumps(item.data, separators=(",", ":")),
                    item.content,
                    item.visibility,
                    now,
                    now,
                    who.id,
                    who.id,
                    who.id,
                    org_id,
                    1 if org_given else 0,
                    *may_write_params,
                ],
            ),
        ]
    )
    if not stored:
        details = {"ns": item.ns, "id": item.id}
        raise Conflict(f"The id {item.ns}/{item.id} is not available", code="ID_UNAVAILABLE", details=details)
    return to_thing(stored[0]) | {"created": not exists}


def cannot_change(ns: str, id: str) -> Forbidden:
    """The answer for a write to a thing the caller may see but not change."""
    return Forbidden(f"You may not change {ns}/{id}", details={"ns": ns, "id": id})


async def delete_thing(env: Any, principal: Any, ns: str, id: str) -> dict[str, Any]:
    """Delete a thing the principal may write, and its relationships (both directions).

    404 `NOT_FOUND` if there is none or the principal may not see it; 403 `FORBIDDEN` if it may see
    it but not change it.
    """
    who = caller(principal, "db:write")
    key = validate(ThingKey, {"ns": ns, "id": id})
    may_write, params = access.condition(who, WRITE)
    db = await storage(env)
    changed = await db.run(f"DELETE FROM things WHERE ns = ? AND id = ? AND {may_write}", [key.ns, key.id, *params])
    if not changed:
        if await read_thing(env, who, key.ns, key.id) is not None:
            raise cannot_change(key.ns, key.id)
        raise not_found(key.ns, key.id)
    return {"ns": key.ns, "id": key.id, "deleted": True}


def _filters(principal: Principal, query: Any, table: str = "things") -> tuple[list[str], list[Any]]:
    """The conditions of a listing: what `principal` may find (`access.LIST`), then the query's filters."""
    condition, params = access.condition(principal, LIST, table)
    where = [condition]
    for column in ("ns", "type", "visibility"):
        value = getattr(query, column, None)
        if value is not None:
            where.append(f"{table}.{column} = ?")
            params.append(value)
    return where, params


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order_by: str) -> list[Any]:
    """The position a cursor stands for: `[order value, ns, id]`, or 400 `VALIDATION_ERROR`."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != 4
        or values[0] != order_by
        or not all(isinstance(v, str) for v in values)
    ):
        raise ValidationError(
            "Invalid input",
            details=[{"field": "cursor", "message": "is not a cursor of this list", "type": "value_error"}],
        )
    return values[1:]


async def list_things(env: Any, principal: Any, query: Any = None) -> dict[str, Any]:
    """A page of the things the principal may find: `{"items", "total", "page", "limit", "has_more", "next_cursor"}`.

    Ordered by `order_by` (a fixed list of columns) then ns and id, so pages never overlap. With
    a `cursor` (the previous page's `next_cursor`) the page continues after it, which stays right
    while things are added; otherwise `page` counts pages from the start.
    """
    who = caller(principal, "db:read")
    q = validate(ThingQuery, query or {})
    where, params = _filters(who, q)
    total_where = " AND ".join(where)
    direction, compare = ("DESC", "<") if q.order == "desc" else ("ASC", ">")
    offset = (q.page - 1) * q.limit
    if q.cursor is not None:
        position = decode_cursor(q.cursor, q.order_by)
        where.append(f"({q.order_by}, ns, id) {compare} (?, ?, ?)")
        params += position
        offset = 0
    sql = (
        f"SELECT * FROM things WHERE {' AND '.join(where)} "
        f"ORDER BY {q.order_by} {direction}, ns {direction}, id {direction} LIMIT ? OFFSET ?"
    )
    db = await storage(env)
    count_params = params[: len(params) - (3 if q.cursor is not None else 0)]
    rows, totals = await db.batch(
        [(sql, [*params, q.limit + 1, offset]), (f"SELECT count(*) AS n FROM things WHERE {total_where}", count_params)]
    )
    items = [to_thing(r) for r in rows[: q.limit]]
    has_more = len(rows) > q.limit
    last = items[-1] if items else None
    next_cursor = encode_cursor([q.order_by, last[q.order_by], last["ns"], last["id"]]) if has_more and last else None
    return {
        "items": items,
        "total": int(totals[0]["n"]),
        "page": q.page if q.cursor is None else None,
        "limit": q.limit,
        "has_more": has_more,
        "next_cursor": next_cursor,
    }


async def count_things(
    env: Any, principal: Any, ns: str | None = None, type: str | None = None, visibility: str | None = None
) -> int:
    """How many of the things the principal may find match the filters."""
    who = caller(principal, "db:read")
    q = validate(ThingQuery, {"ns": ns, "type": type, "visibility": visibility})
    where, params = _filters(who, q)
    db = await storage(env)
    row = await db.first(f"SELECT count(*) AS n FROM things WHERE {' AND '.join(where)}", params)
    return int(row["n"]) if row else 0


_WORD = re.compile(r"[\w]+\*?", re.UNICODE)


def fts_query(text: str) -> str | None:
    """The user's words as an FTS5 query that cannot be malformed: each word quoted (all must match),
    a trailing `*` kept as a prefix search. None if there are no words."""
    words = _WORD.findall(text)[:20]
    parts = []
    for word in words:
        prefix = word.endswith("*")
        body = word.rstrip("*").replace('"', '""')
        if body:
            parts.append(f'"{body}"' + ("*" if prefix else ""))
    return " ".join(parts) or None


async def search_things(
    env: Any, principal: Any, q: str, ns: str | None = None, type: str | None = None, limit: int = 20
) -> dict[str, Any]:
    """Things the principal may find whose content holds every word of `q`, best match first, each
    with a `snippet`."""
    who = caller(principal, "db:read")
    query = validate(SearchQuery, {"q": q, "ns": ns, "type": type, "limit": limit})
    match = fts_query(query.q)
    if match is None:
        return {"items": [], "query": query.q}
    where, params = _filters(who, query, "t")
    where, params = ["things_fts MATCH ?", *where], [match, *params]
    sql = (
        "SELECT t.*, snippet(things_fts, 0, '[', ']', '…', 12) AS snippet, bm25(things_fts) AS score "
        "FROM things_fts JOIN things t ON t.rowid = things_fts.rowid "
        f"WHERE {' AND '.join(where)} ORDER BY score LIMIT ?"
    )
    db = await storage(env)
    rows = await db.all(sql, [*params, query.limit])
    return {"items": [to_thing(r) | {"snippet": r["snippet"]} for r in rows], "query": query.q}


async def type_distribution(env: Any, principal: Any, ns: str | None = None) -> list[dict[str, Any]]:
    """`[{"type", "count"}]` of the things the principal may find, most common first (within `ns` if given)."""
    who = caller(principal, "db:read")
    q = validate(ThingQuery, {"ns": ns})
    where, params = _filters(who, q)
    db = await storage(env)
    rows = await db.all(
        f"SELECT type, count(*) AS count FROM things WHERE {' AND '.join(where)} "
        "GROUP BY type ORDER BY count DESC, type LIMIT 100",
        params,
    )
    return [{"type": r["type"], "count": int(r["count"])} for r in rows]


async def stats(env: Any, principal: Any) -> dict[str, Any]:
    """Totals of what the principal may find: things, relationships (both ends findable), namespaces,
    the type distribution; and the schema version."""
    who = caller(principal, "db:read")
    findable, params = access.condition(who, LIST)
    from_end, from_params = access.condition(who, LIST, "a")
    to_end, to_params = access.condition(who, LIST, "b")
    db = await storage(env)
    things_n, relationships_n, namespaces = await db.batch(
        [
            (f"SELECT count(*) AS n FROM things WHERE {findable}", params),
            (
                "SELECT count(*) AS n FROM relationships r "
                "JOIN things a ON a.ns = r.from_ns AND a.id = r.from_id "
                f"JOIN things b ON b.ns = r.to_ns AND b.id = r.to_id WHERE {from_end} AND {to_end}",
                [*from_params, *to_params],
            ),
            (
                f"SELECT ns, count(*) AS count FROM things WHERE {findable} "
                "GROUP BY ns ORDER BY count DESC, ns LIMIT 100",
                params,
            ),
        ]
    )
    return {
        "things": int(things_n[0]["n"]),
        "relationships": int(relationships_n[0]["n"]),
        "namespaces": [{"ns": r["ns"], "count": int(r["count"])} for r in namespaces],
        "types": await type_distribution(env, who),
        "schema_version": LATEST,
    }
