"""db: the platform's data layer, and the only worker that holds a database binding.

Things and relationships (a graph with full-text search) for everyone; typed records for the
services that choose to store through db. The entrypoint is thin: the operations on things and
relationships are declared once in `operations.py`, which gives this class their RPC methods
(`get_thing(principal, {"ns": ..., "id": ...})`, ...) and `routes.py` their HTTP routes and MCP
tools.

RPC callers are other workers of the platform (a service binding cannot be reached from outside).
Operations take the principal they act for as their first argument, and db trusts it as it trusts
the gateway's `X-Dotdo-Principal`. Record methods take it first too (a table is its declaring
service's: `records.py`), and `actor=` on inserts, which db records.
"""

from workers import WorkerEntrypoint

import records
import routes
from operations import service
from shared.rpc import rpc_method
from storage import storage


@service.entrypoint  # get_thing, list_things, upsert_thing, ...: the operations in operations.py
class Default(WorkerEntrypoint):
    # -- schema ------------------------------------------------------------------------------------
    @rpc_method
    async def migrate(self) -> dict:
        """Apply pending migrations (also done on first use); the schema version."""
        return {"schema_version": await (await storage(self.env)).ready()}

    @rpc_method
    async def describe_tables(self) -> dict:
        return records.describe_tables()

    # -- typed records: the tables services declare in their manifests, each reached by its owner -----------
    # (`principal` first, as the kit's methods: `service_principal("<owner>")`, or one holding db:admin)
    @rpc_method
    async def insert_record(self, principal, table: str, values: dict, actor: str | None = None) -> dict:
        return await records.insert_record(self.env, principal, table, values, actor=actor)

    @rpc_method
    async def get_record(self, principal, table: str, id: str) -> dict | None:
        return await records.get_record(self.env, principal, table, id)

    @rpc_method
    async def find_records(
        self, principal, table: str, where=None, order_by=None, limit: int = 100, offset: int = 0
    ) -> dict:
        return await records.find_records(self.env, principal, table, where, order_by, limit, offset)

    @rpc_method
    async def count_records(self, principal, table: str, where=None) -> int:
        return await records.count_records(self.env, principal, table, where)

    @rpc_method
    async def update_record(self, principal, table: str, id: str, values: dict, where=None) -> dict | None:
        return await records.update_record(self.env, principal, table, id, values, where)

    @rpc_method
    async def increment_record(
        self, principal, table: str, id: str, column: str, by: int = 1, where=None
    ) -> dict | None:
        return await records.increment_record(self.env, principal, table, id, column, by, where)

    @rpc_method
    async def delete_record(self, principal, table: str, id: str, where=None) -> bool:
        return await records.delete_record(self.env, principal, table, id, where)

    @rpc_method
    async def delete_records(self, principal, table: str, where) -> int:
        return await records.delete_records(self.env, principal, table, where)

    # -- HTTP and MCP ----------------------------------------------------------------------------------
    async def fetch(self, request):
        return await routes.router.handle(request, self.env, self.ctx)
