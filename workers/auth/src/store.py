"""auth's storage: its own D1 (`AUTH_DB`), typed records through `shared.records`. No other service.

    key = await store.get(env, "api_keys", "key_...")
    await store.update(env, "refresh_tokens", token_id, {"used_at": now}, where={"used_at": None})

Only the tables of `tables.py` are served (`migrations.py` makes them on first use). One query is
written out here rather than made from declarations: `api_key_with_owner`, what validating an API key
reads (the key, its owner and the owner's grants), in a single round trip.
"""

from __future__ import annotations

import json
from typing import Any

from migrations import MIGRATIONS
from shared import records
from shared.storage import Database
from tables import TABLES

DATABASE = Database("AUTH_DB", MIGRATIONS)


async def insert(env: Any, table: str, values: dict[str, Any], *, actor: str | None = None) -> dict[str, Any]:
    return await records.insert_record(await DATABASE.open(env), TABLES, table, values, actor=actor)


async def get(env: Any, table: str, record_id: str) -> dict[str, Any] | None:
    return await records.get_record(await DATABASE.open(env), TABLES, table, record_id)


async def find(
    env: Any, table: str, where: Any = None, *, order_by: Any = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    return await records.find_records(await DATABASE.open(env), TABLES, table, where, order_by, limit, offset)


async def count(env: Any, table: str, where: Any = None) -> int:
    return await records.count_records(await DATABASE.open(env), TABLES, table, where)


async def update(
    env: Any, table: str, record_id: str, values: dict[str, Any], *, where: Any = None
) -> dict[str, Any] | None:
    """Change a record if it still matches `where` (compare-and-set); the new record or None."""
    return await records.update_record(await DATABASE.open(env), TABLES, table, record_id, values, where)


async def delete_where(env: Any, table: str, where: Any) -> int:
    return await records.delete_records(await DATABASE.open(env), TABLES, table, where)


#: A key, its owner (NULL columns when there is none) and the owner's grants: platform-wide ones, and those
#: of the organisation bound as ?2 (NULL: none). By primary key, the grants by their index on `user_id`.
_KEY_WITH_OWNER = """SELECT k.*, u.id AS owner_found, u.role AS owner_role, u.email AS owner_email,
    u.disabled_at AS owner_disabled_at,
    (SELECT json_group_array(g.permission) FROM permission_grants AS g
        WHERE g.user_id = k.owner_id AND (g.org_id IS NULL OR g.org_id = ?2)) AS owner_grants
    FROM api_keys AS k LEFT JOIN users AS u ON u.id = k.owner_id WHERE k.id = ?1"""


async def api_key_with_owner(
    env: Any, record_id: str, org_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """`(key, owner)` in one query, or None for no such key. `owner` (None if the user is gone) holds the
    user's `id`, `role`, `email`, `disabled_at` and `grants` (platform-wide, and in `org_id` if given)."""
    row = await (await DATABASE.open(env)).first(_KEY_WITH_OWNER, [record_id, org_id])
    if row is None:
        return None
    key = {column: row.get(column) for column in TABLES["api_keys"].all_columns}
    key["permissions"] = json.loads(key["permissions"]) if key["permissions"] is not None else None
    if row.get("owner_found") is None:
        return key, None
    owner = {
        "id": row["owner_found"],
        "role": row.get("owner_role"),
        "email": row.get("owner_email"),
        "disabled_at": row.get("owner_disabled_at"),
        "grants": sorted(set(json.loads(row.get("owner_grants") or "[]"))),
    }
    return key, owner
