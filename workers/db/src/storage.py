"""Where db keeps its data: the storage backend interface, and its default, D1 (SQLite locally).

Domain modules (`things`, `relationships`, `records`, `admin_sql`) speak to a `Storage`, never to a
binding: SQL with `?` placeholders and a tuple of values, rows back as plain dicts. A backend for
another SQL database implements the same five methods (and translates what its dialect needs).

Constraint violations become client errors (a duplicate is 409 `CONFLICT`, a reference to a row
that is not there 409 `REFERENCE_NOT_FOUND`, a missing required value or a failed CHECK 400
`VALIDATION_ERROR`); anything else the database raises propagates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from migrations import LATEST, MIGRATIONS
from shared.errors import Conflict, ValidationError
from shared.migrations import apply_migrations

Statement = tuple[str, Sequence[Any]]


class Storage(Protocol):
    """What db needs of a database."""

    async def ready(self) -> int:
        """Apply pending migrations; the schema version."""

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Every row of a query."""

    async def first(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row of a query, or None."""

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a write; how many rows it changed."""

    async def batch(self, statements: Sequence[Statement]) -> list[list[dict[str, Any]]]:
        """Run statements in one transaction (all or nothing); the rows of each."""


#: Whether this isolate has brought a database up to date. On Cloudflare `env` (and so the D1
#: binding object) is wrapped anew for every request, so the check cannot be remembered there: it is
#: remembered here, once per isolate. If a statement then meets a missing table or column (another
#: database in the same process, as the local test harness makes), the migrations run and the
#: statement is tried once more.
_schema_checked = False
_MISSING_SCHEMA = ("no such table", "no such column")


class D1Storage:
    """The default backend: one D1 database (binding `DB`)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def ready(self) -> int:
        global _schema_checked
        version = await apply_migrations(self.db, MIGRATIONS)
        _schema_checked = True
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


async def storage(env: Any) -> Storage:
    """The backend for this request; the first one of an isolate brings the schema up to date."""
    backend = D1Storage(env.DB)
    if not _schema_checked:
        await backend.ready()
    return backend


__all__ = ["LATEST", "D1Storage", "Storage", "storage"]
