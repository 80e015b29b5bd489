"""A worker's own D1 database: its schema brought up to date once per isolate, SQL in, plain rows out.

    DATABASE = Database("AUTH_DB", MIGRATIONS)   # module level: one per isolate
    db = await DATABASE.open(env)                # a Storage; the first open of an isolate migrates

A database may also hold record tables made from their declarations rather than by a migration
(`Database("DB", MIGRATIONS, tables=...)`: db, for the tables services declare in their manifests);
bringing the schema up to date then also runs `shared.records.ensure_tables` (it only ever adds).

Constraint violations become client errors (a duplicate 409 `CONFLICT`, a missing referenced row 409
`REFERENCE_NOT_FOUND`, a missing required value or a failed CHECK 400 `VALIDATION_ERROR`); anything
else propagates (`shared.errors.storage_error` makes a full or failing disk a 503 at the edge).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from shared.errors import Conflict, ValidationError
from shared.migrations import Migration, apply_migrations
from shared.records import Registry, ensure_tables

Statement = tuple[str, Sequence[Any]]
_MISSING_SCHEMA = ("no such table", "no such column")


class Storage(Protocol):
    """What domain code needs of a database (a backend for another SQL database implements these)."""

    async def ready(self) -> int: ...  # apply pending migrations; the schema version

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    async def first(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None: ...

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...  # how many rows it changed

    async def batch(self, statements: Sequence[Statement]) -> list[list[dict[str, Any]]]: ...  # one transaction


class Database:
    """A D1 database a worker owns: its binding's name, its migrations, and the record tables made from
    their declarations (`tables`: name -> `shared.records.Table`; made after the migrations, never by them).

    Whether this isolate brought it up to date is remembered here (`checked`): on Cloudflare the
    binding object is made anew for every request. A statement that then meets a missing table or
    column (another database in the same process, as tests make) migrates it and is tried again.
    """

    def __init__(self, binding: str, migrations: Sequence[Migration], *, tables: Registry | None = None) -> None:
        self.binding = binding
        self.migrations = migrations
        self.tables: Registry = tables if tables is not None else {}
        self.checked = False

    async def open(self, env: Any) -> D1Storage:
        """The database of this request; the first open of an isolate brings the schema up to date."""
        binding = getattr(env, self.binding, None)
        if binding is None:
            raise RuntimeError(f"no D1 binding {self.binding!r}: declare it in d1_databases of wrangler.jsonc")
        storage = D1Storage(binding, self)
        if not self.checked:
            await storage.ready()
        return storage


class D1Storage:
    """A `Storage` on one D1 binding."""

    def __init__(self, db: Any, database: Database) -> None:
        self.db = db
        self.database = database

    async def ready(self) -> int:
        """Apply pending migrations, then make the declared tables and columns that are missing; the schema
        version (of the migrations: the declared tables have none)."""
        version = await apply_migrations(self.db, self.database.migrations)
        if self.database.tables:
            await ensure_tables(self, self.database.tables)
        self.database.checked = True
        return version

    async def _run(self, make: Any) -> Any:
        """`await make()` (a D1 call), healing a database that lacks the schema once."""
        try:
            return await _guard(make())
        except Exception as exc:
            if not any(marker in str(exc) for marker in _MISSING_SCHEMA):
                raise
            await self.ready()
            return await _guard(make())

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        result = await self._run(lambda: self.db.prepare(sql).bind(*params).all())
        return [dict(row) for row in result["results"]]

    async def first(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = await self.all(sql, params)
        return rows[0] if rows else None

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        result = await self._run(lambda: self.db.prepare(sql).bind(*params).run())
        return int(result["meta"]["changes"])

    async def batch(self, statements: Sequence[Statement]) -> list[list[dict[str, Any]]]:
        results = await self._run(
            lambda: self.db.batch([self.db.prepare(sql).bind(*params) for sql, params in statements])
        )
        return [[dict(row) for row in (result["results"] or [])] for result in results]


async def _guard(pending: Any) -> Any:
    try:
        return await pending
    except Exception as exc:
        text = str(exc)
        if "UNIQUE constraint failed" in text or "PRIMARY KEY constraint failed" in text:
            raise Conflict("A record with that key already exists", code="CONFLICT") from None
        if "FOREIGN KEY constraint failed" in text:
            raise Conflict("A record it refers to does not exist", code="REFERENCE_NOT_FOUND") from None
        if "NOT NULL constraint failed" in text:  # "...failed: <table>.<column>: SQLITE_CONSTRAINT"
            _, found, rest = text.partition("constraint failed:")
            column = rest.split(":")[0].strip().rpartition(".")[2][:64] if found else ""
            details = [{"field": column or "values", "message": "must have a value", "type": "missing"}]
            raise ValidationError("Invalid input", details=details) from None
        if "CHECK constraint failed" in text:
            details = [{"field": "values", "message": "a value is not allowed here", "type": "value_error"}]
            raise ValidationError("Invalid input", details=details) from None
        raise
