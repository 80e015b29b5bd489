"""The record tables db holds: its own, and those services keep in db, declared in their own manifests.

A service that chooses to store typed records in db rather than in a D1 of its own declares them in
its `service.toml` (`workers/<svc>/service.toml`), a table per section, named after the service:

    [tables.orders_invoices]
    prefix = "inv"                                   # ids: inv_...
    required = ["number"]
    columns = { number = "text", total = "integer", paid = "boolean", lines = "json", due_at = "timestamp" }

`make registry` checks the declaration and writes it into `shared/registry.py`; `TABLES` is built
from there (`shared.records.declared_table`) and `OWNERS` says whose each table is. db makes the
tables and adds the columns a declaration gains on the first use of an isolate
(`storage.DATABASE`, `shared.records.ensure_tables`); it never drops or changes a column. The
records RPC (`records.py`) serves `TABLES` to their owners only. Nothing in db's folder changes
when a service declares or changes a table.

`OWN` are db's own record tables, written by db's modules through the same engine and never reached
over RPC: the audit log of admin SQL (`admin_sql.py`), which `/sql` may not change either. db's own
schema (things, relationships, the search index, the audit log) is made by `migrations.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.records import Table, declared_table, table, tables
from shared.registry import SERVICES

AUDIT_LOG = table("audit_log", "aud", "actor action", actor="text", action="text", target="text", details="json")

OWN: dict[str, Table] = tables(AUDIT_LOG)


def served(services: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Table], dict[str, str]]:
    """The tables services keep in db, from the registry's data (`SERVICES`): each table by its name, and
    the name of the service that owns each."""
    served_tables: dict[str, Table] = {}
    owners: dict[str, str] = {}
    for service, manifest in sorted(services.items()):
        for name, declaration in (manifest.get("tables") or {}).items():
            served_tables[name] = declared_table(name, declaration)
            owners[name] = service
    return served_tables, owners


#: What the records RPC serves (name -> Table) and whose each table is (name -> service name).
TABLES, OWNERS = served(SERVICES)
