"""The record tables db serves, declared column by column (the types: `shared.records`).

`TABLES` is what the records RPC (`insert_record`, `find_records`, ...) serves to services that
choose to keep typed records in db rather than in a database of their own: a table and its columns
must be declared here, and made by a migration of db's (`migrations.py`; a test holds the two
together). None does today: auth keeps its records in its own D1 (`workers/auth/src/tables.py`).

`OWN` are db's own record tables, written by db's modules through the same engine and never reached
over RPC: the audit log of admin SQL (`admin_sql.py`), which `/sql` may not change either.
"""

from __future__ import annotations

from shared.records import Table, table, tables

AUDIT_LOG = table("audit_log", "aud", "actor action", actor="text", action="text", target="text", details="json")

OWN: dict[str, Table] = tables(AUDIT_LOG)

TABLES: dict[str, Table] = tables()
