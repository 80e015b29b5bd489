"""Auth's storage: the db service's typed records, over RPC (binding `DB_SERVICE`). No SQL here.

    key = await store.get(env, "api_keys", "key_...")
    await store.update(env, "refresh_tokens", token_id, {"used_at": now}, where={"used_at": None})

Errors db raises on purpose (409 CONFLICT, 400 ...) come back as the same `AppError`; a db that
cannot be reached is a 502 `UPSTREAM_ERROR`.
"""

from __future__ import annotations

from typing import Any

from shared.rpc import call


def _db(env: Any) -> Any:
    return env.DB_SERVICE


async def insert(env: Any, table: str, values: dict[str, Any], *, actor: str | None = None) -> dict[str, Any]:
    return await call(lambda: _db(env).insert_record(table, values, actor=actor), service="db")


async def get(env: Any, table: str, record_id: str) -> dict[str, Any] | None:
    return await call(lambda: _db(env).get_record(table, record_id), service="db")


async def find(
    env: Any, table: str, where: Any = None, *, order_by: Any = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    return await call(lambda: _db(env).find_records(table, where, order_by, limit, offset), service="db")


async def count(env: Any, table: str, where: Any = None) -> int:
    return await call(lambda: _db(env).count_records(table, where), service="db")


async def update(
    env: Any, table: str, record_id: str, values: dict[str, Any], *, where: Any = None
) -> dict[str, Any] | None:
    """Change a record if it still matches `where` (compare-and-set); the new record or None."""
    return await call(lambda: _db(env).update_record(table, record_id, values, where), service="db")


async def delete_where(env: Any, table: str, where: Any) -> int:
    return await call(lambda: _db(env).delete_records(table, where), service="db")
