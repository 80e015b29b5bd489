"""db's records API: typed records for services that choose to store through db, reached by RPC.

    me = service_principal("orders")
    invoice = await env.DB_SERVICE.insert_record(me, "orders_invoices", {"number": "A-1"}, actor="usr_1")
    page = await env.DB_SERVICE.find_records(me, "orders_invoices", {"paid": False})
    paid = await env.DB_SERVICE.update_record(me, "orders_invoices", "inv_1", {"paid": True}, {"paid": False})

The engine is `shared.records` (the same one auth runs on a database of its own); here it runs on
db's D1 and serves the tables services declare in their manifests (`tables.TABLES`), nothing else:
db's graph, its audit log and its bookkeeping are not records (400 `UNKNOWN_TABLE`). Callers never
send SQL.

**Whose table.** Every method takes the principal it acts for first, as the service kit's methods
do (none: 401 `UNAUTHORIZED`; not a principal: 400 `INVALID_PRINCIPAL`). A table is its declaring
service's: only that service's own principal (`shared.principals.service_principal("orders")`, id
`svc_orders`) reaches it, or a principal holding `db:admin`; anyone else is 403 `TABLE_NOT_YOURS`,
before the table is read or written. A service checks its own users' rights before it stores for
them, and names the user as `actor=` on inserts (the table's `created_by`, if it declares one).
"""

from __future__ import annotations

from typing import Any

import tables
from shared import records
from shared.errors import Forbidden, Unauthorized
from shared.permissions import allows
from shared.service import rpc_principal
from storage import storage


def owned(principal: Any, table: Any) -> str:
    """`table`, if the principal may reach it: the owner's service principal, or one holding `db:admin`."""
    caller = rpc_principal(principal)
    if caller is None:
        raise Unauthorized("Authentication required", code="UNAUTHORIZED")
    spec = records.table_of(tables.TABLES, table)
    owner = tables.OWNERS[spec.name]
    if caller["id"] != f"svc_{owner}" and not allows(caller["permissions"], "db:admin"):
        raise Forbidden(
            f"The table {spec.name!r} is {owner}'s: only service_principal({owner!r}) (id svc_{owner})"
            " or a principal holding 'db:admin' reaches it",
            code="TABLE_NOT_YOURS",
            details={"table": spec.name, "owner": owner},
        )
    return spec.name


async def insert_record(env: Any, principal: Any, table: str, values: Any, *, actor: str | None = None) -> dict:
    name = owned(principal, table)
    return await records.insert_record(await storage(env), tables.TABLES, name, values, actor=actor)


async def get_record(env: Any, principal: Any, table: str, record_id: str) -> dict[str, Any] | None:
    name = owned(principal, table)
    return await records.get_record(await storage(env), tables.TABLES, name, record_id)


async def find_records(
    env: Any, principal: Any, table: str, where: Any = None, order_by: Any = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    name = owned(principal, table)
    return await records.find_records(await storage(env), tables.TABLES, name, where, order_by, limit, offset)


async def count_records(env: Any, principal: Any, table: str, where: Any = None) -> int:
    name = owned(principal, table)
    return await records.count_records(await storage(env), tables.TABLES, name, where)


async def update_record(
    env: Any, principal: Any, table: str, record_id: str, values: Any, where: Any = None
) -> dict[str, Any] | None:
    name = owned(principal, table)
    return await records.update_record(await storage(env), tables.TABLES, name, record_id, values, where)


async def increment_record(
    env: Any, principal: Any, table: str, record_id: str, column: str, by: int = 1, where: Any = None
) -> dict[str, Any] | None:
    name = owned(principal, table)
    return await records.increment_record(await storage(env), tables.TABLES, name, record_id, column, by, where)


async def delete_record(env: Any, principal: Any, table: str, record_id: str, where: Any = None) -> bool:
    name = owned(principal, table)
    return await records.delete_record(await storage(env), tables.TABLES, name, record_id, where)


async def delete_records(env: Any, principal: Any, table: str, where: Any) -> int:
    name = owned(principal, table)
    return await records.delete_records(await storage(env), tables.TABLES, name, where)


def describe_tables() -> dict[str, dict[str, Any]]:
    """Each served table's columns, required columns and owning service."""
    described = records.describe_tables(tables.TABLES)
    return {name: spec | {"service": tables.OWNERS[name]} for name, spec in described.items()}


async def audit(env: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """Append an entry to db's own audit log (`tables.OWN`: not a table the records RPC serves)."""
    return await records.insert_record(await storage(env), tables.OWN, "audit_log", entry)
