"""auth's storage: its own D1 (`AUTH_DB`), typed records through `shared.records`. No other service.

    key = await store.get(env, "api_keys", "key_...")
    await store.update(env, "refresh_tokens", token_id, {"used_at": now}, where={"used_at": None})

Only the tables of `tables.py` are served (`migrations.py` makes them on first use).
"""

from __future__ import annotations

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
