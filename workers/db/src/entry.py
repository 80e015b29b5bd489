"""db: the platform's data layer, and the only worker that holds a database binding.

Things and relationships (a graph with full-text search) for everyone; typed records (users, API
keys, sessions, tasks, webhook events, emails, jobs, deployments) for the other services. The
entrypoint is thin: RPC methods, `fetch` (HTTP and MCP) all call the domain modules.

RPC callers are other workers of the platform (a service binding cannot be reached from outside).
Methods on things and relationships take the principal they act for as their first argument, and
db trusts it as it trusts the gateway's `X-Dotdo-Principal`; record methods take `actor=` on writes,
which db records.
"""

from workers import WorkerEntrypoint

import records
import relationships
import routes
import things
from shared.rpc import rpc_method
from storage import storage


class Default(WorkerEntrypoint):
    # -- schema ------------------------------------------------------------------------------------
    @rpc_method
    async def migrate(self) -> dict:
        """Apply pending migrations (also done on first use); the schema version."""
        return {"schema_version": await (await storage(self.env)).ready()}

    @rpc_method
    async def describe_tables(self) -> dict:
        return records.describe_tables()

    # -- things --------------------------------------------------------------------------------------
    # Each method takes first the principal the call acts for: the dict `validate_token` answered for
    # the user being served (as the gateway forwards it), or `shared.principals.service_principal(name)`
    # for a service's own work. Who may see and change which thing follows from it (`access.py`).
    @rpc_method
    async def get_thing(self, principal: dict, ns: str, id: str) -> dict:
        return await things.get_thing(self.env, principal, ns, id)

    @rpc_method
    async def list_things(self, principal: dict, query: dict | None = None) -> dict:
        return await things.list_things(self.env, principal, query)

    @rpc_method
    async def upsert_thing(self, principal: dict, thing: dict) -> dict:
        return await things.upsert_thing(self.env, principal, thing)

    @rpc_method
    async def delete_thing(self, principal: dict, ns: str, id: str) -> dict:
        return await things.delete_thing(self.env, principal, ns, id)

    @rpc_method
    async def count_things(
        self, principal: dict, ns: str | None = None, type: str | None = None, visibility: str | None = None
    ) -> int:
        return await things.count_things(self.env, principal, ns, type, visibility)

    @rpc_method
    async def search_things(
        self, principal: dict, q: str, ns: str | None = None, type: str | None = None, limit: int = 20
    ) -> dict:
        return await things.search_things(self.env, principal, q, ns, type, limit)

    @rpc_method
    async def stats(self, principal: dict) -> dict:
        return await things.stats(self.env, principal)

    @rpc_method
    async def type_distribution(self, principal: dict, ns: str | None = None) -> list:
        return await things.type_distribution(self.env, principal, ns)

    # -- relationships -------------------------------------------------------------------------------
    @rpc_method
    async def upsert_relationship(self, principal: dict, relationship: dict) -> dict:
        return await relationships.upsert_relationship(self.env, principal, relationship)

    @rpc_method
    async def delete_relationship(self, principal: dict, relationship: dict) -> dict:
        return await relationships.delete_relationship(self.env, principal, relationship)

    @rpc_method
    async def get_relationships(self, principal: dict, ns: str, id: str, predicate: str | None = None) -> dict:
        return await relationships.get_relationships(self.env, principal, ns, id, predicate)

    @rpc_method
    async def get_incoming_relationships(self, principal: dict, ns: str, id: str, predicate: str | None = None) -> dict:
        return await relationships.get_incoming_relationships(self.env, principal, ns, id, predicate)

    @rpc_method
    async def list_relationships(self, principal: dict, query: dict) -> dict:
        return await relationships.list_relationships(self.env, principal, query)

    # -- typed records -------------------------------------------------------------------------------
    @rpc_method
    async def insert_record(self, table: str, values: dict, actor: str | None = None) -> dict:
        return await records.insert_record(self.env, table, values, actor=actor)

    @rpc_method
    async def get_record(self, table: str, id: str) -> dict | None:
        return await records.get_record(self.env, table, id)

    @rpc_method
    async def find_records(self, table: str, where=None, order_by=None, limit: int = 100, offset: int = 0) -> dict:
        return await records.find_records(self.env, table, where, order_by, limit, offset)

    @rpc_method
    async def count_records(self, table: str, where=None) -> int:
        return await records.count_records(self.env, table, where)

    @rpc_method
    async def update_record(self, table: str, id: str, values: dict, where=None) -> dict | None:
        return await records.update_record(self.env, table, id, values, where)

    @rpc_method
    async def increment_record(self, table: str, id: str, column: str, by: int = 1, where=None) -> dict | None:
        return await records.increment_record(self.env, table, id, column, by, where)

    @rpc_method
    async def delete_record(self, table: str, id: str, where=None) -> bool:
        return await records.delete_record(self.env, table, id, where)

    @rpc_method
    async def delete_records(self, table: str, where) -> int:
        return await records.delete_records(self.env, table, where)

    # -- HTTP and MCP ----------------------------------------------------------------------------------
    async def fetch(self, request):
        return await routes.router.handle(request, self.env, self.ctx)
