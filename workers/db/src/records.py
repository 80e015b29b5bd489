"""db's records API: typed records for services that choose to store through db, reached by RPC.

    order = await env.DB_SERVICE.insert_record("orders", {"name": "first", ...}, actor="usr_1")
    page = await env.DB_SERVICE.find_records("orders", {"status": "open"})
    paid = await env.DB_SERVICE.update_record("orders", "ord_1", {"paid_at": now}, {"paid_at": None})

The engine is `shared.records` (the same one auth runs on a database of its own); here it runs on
db's D1 and serves the tables declared in `tables.py` (`TABLES`), nothing else: db's graph, its
audit log and its bookkeeping are not records (400 `UNKNOWN_TABLE`). Callers never send SQL.
"""

from __future__ import annotations

from typing import Any

from shared import records
from storage import storage
from tables import OWN, TABLES


async def insert_record(env: Any, table: str, values: Any, *, actor: str | None = None) -> dict[str, Any]:
    return await records.insert_record(await storage(env), TABLES, table, values, actor=actor)


async def get_record(env: Any, table: str, record_id: str) -> dict[str, Any] | None:
    return await records.get_record(await storage(env), TABLES, table, record_id)


async def find_records(
    env: Any, table: str, where: Any = None, order_by: Any = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    return await records.find_records(await storage(env), TABLES, table, where, order_by, limit, offset)


async def count_records(env: Any, table: str, where: Any = None) -> int:
    return await records.count_records(await storage(env), TABLES, table, where)


async def update_record(env: Any, table: str, record_id: str, values: Any, where: Any = None) -> dict[str, Any] | None:
    return await records.update_record(await storage(env), TABLES, table, record_id, values, where)


async def increment_record(
    env: Any, table: str, record_id: str, column: str, by: int = 1, where: Any = None
) -> dict[str, Any] | None:
    return await records.increment_record(await storage(env), TABLES, table, record_id, column, by, where)


async def delete_record(env: Any, table: str, record_id: str, where: Any = None) -> bool:
    return await records.delete_record(await storage(env), TABLES, table, record_id, where)


async def delete_records(env: Any, table: str, where: Any) -> int:
    return await records.delete_records(await storage(env), TABLES, table, where)


def describe_tables() -> dict[str, dict[str, Any]]:
    return records.describe_tables(TABLES)


async def audit(env: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """Append an entry to db's own audit log (`tables.OWN`: not a table the records RPC serves)."""
    return await records.insert_record(await storage(env), OWN, "audit_log", entry)
