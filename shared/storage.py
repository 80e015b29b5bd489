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

import sys
from collections.abc import Sequence
from typing import Any, Protocol

from shared.errors import Conflict, ValidationError
from shared.js_env import js_binding, wrapped_js
from shared.migrations import VERSION_STATEMENTS, Migration, apply_migrations, check_migrations
from shared.records import Registry, ensure_tables, missing_schema, table_info_statements

if sys.platform == "emscripten":  # Pyodide: D1Storage speaks to the JS binding itself
    from pyodide.ffi import to_js as _to_js

    try:
        from pyodide.ffi import jsnull as _JSNULL
    except ImportError:  # an older Pyodide, without jsnull: the SDK's wrapper is used
        _JSNULL = None
else:  # never used: the local runtime's bindings are Python objects
    _JSNULL = _to_js = None

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

    Whether this isolate brought it up to date is remembered here (`version`, the schema version its check
    found; `checked` once there is one): on Cloudflare the binding object is made anew for every request. A
    statement that then meets a missing table or column (another database in the same process, as tests
    make) migrates it and is tried again.
    """

    def __init__(self, binding: str, migrations: Sequence[Migration], *, tables: Registry | None = None) -> None:
        self.binding = binding
        self.migrations = migrations
        self.tables: Registry = tables if tables is not None else {}
        self.version: int | None = None

    @property
    def checked(self) -> bool:
        """Whether this isolate brought the database up to date (and so knows its `version`)."""
        return self.version is not None

    async def open(self, env: Any) -> D1Storage:
        """The database of this request; the first open of an isolate brings the schema up to date."""
        js = _js_env_binding(env, self.binding)
        if js is not None:  # Pyodide: the SDK's wrapper of the binding is made only if a statement needs it
            storage = D1Storage(None, self, js=js, env=env)
        else:
            binding = getattr(env, self.binding, None)
            if binding is None:
                raise RuntimeError(f"no D1 binding {self.binding!r}: declare it in d1_databases of wrangler.jsonc")
            storage = D1Storage(binding, self)
        if not self.checked:
            await storage.ready()
        return storage


class D1Storage:
    """A `Storage` on one D1 binding.

    Under Pyodide the SDK hands the binding wrapped in a generic converter that turns every result into
    `JsDict`s one value at a time (and wraps each statement object): about a third of a read's time in
    db. Queries go to the JS binding underneath instead, their parameters converted as the SDK converts
    them (None as SQL NULL), their rows converted once (`_js_rows`): the same plain dicts. The local
    runtime's binding is a Python object and is used as it is.
    """

    def __init__(self, db: Any, database: Database, *, js: Any = None, env: Any = None) -> None:
        self._db = db
        self._env = env  # where `db` is read from when it was not given (`js` was)
        self.database = database
        self.js = js if js is not None else _js_binding(db)

    @property
    def db(self) -> Any:
        """The binding as the worker's `env` gives it (the SDK's wrapper under Pyodide)."""
        if self._db is None:
            self._db = getattr(self._env, self.database.binding)
        return self._db

    def _statement(self, sql: str, params: Sequence[Any]) -> Any:
        if self.js is None:
            return self.db.prepare(sql).bind(*params)
        return self.js.prepare(sql).bind(*[_js_value(value) for value in params])

    def _rows(self, result: Any) -> list[dict[str, Any]]:
        if self.js is None:
            return [dict(row) for row in (result["results"] or [])]
        return _js_rows(result)

    async def ready(self) -> int:
        """Apply pending migrations, then make the declared tables and columns that are missing; the schema
        version (of the migrations: the declared tables have none)."""
        if self.js is not None:
            version = await self._ready_at_once()
            if version is not None:
                return version
        version = await apply_migrations(self.db, self.database.migrations)
        if self.database.tables:
            await ensure_tables(self, self.database.tables)
        self.database.version = version
        return version

    async def _ready_at_once(self) -> int | None:
        """Under Pyodide, a database already up to date found so in one batch: the schema version and every
        declared table's columns (`ready` asks in two, the first through the SDK's wrapper). The version if
        nothing is to be done; None when a migration or a table or column is due (`ready` then does it)."""
        latest = check_migrations(self.database.migrations)
        specs = list(self.database.tables.values())
        statements = [(sql, ()) for sql in VERSION_STATEMENTS] + table_info_statements(specs)
        prepared = [self._statement(sql, params) for sql, params in statements]
        results = [_js_rows(result) for result in await _guard(self.js.batch(_to_js(prepared)))]
        if int(results[1][0]["version"]) < latest or missing_schema(specs, results[2:]):
            return None
        self.database.version = latest
        return latest

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
        return self._rows(await self._run(lambda: self._statement(sql, params).all()))

    async def first(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = await self.all(sql, params)
        return rows[0] if rows else None

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        result = await self._run(lambda: self._statement(sql, params).run())
        return int(result["meta"]["changes"] if self.js is None else result.meta.changes)

    async def batch(self, statements: Sequence[Statement]) -> list[list[dict[str, Any]]]:
        def send() -> Any:
            prepared = [self._statement(sql, params) for sql, params in statements]
            return self.db.batch(prepared) if self.js is None else self.js.batch(_to_js(prepared))

        return [self._rows(result) for result in await self._run(send)]


def _js_binding(db: Any) -> Any:
    """The JS D1 binding under the SDK's wrapper, under Pyodide; None anywhere else (the local runtime)."""
    return None if _JSNULL is None else wrapped_js(db, "prepare")


def _js_env_binding(env: Any, name: str) -> Any:
    """Under Pyodide, the JS D1 binding `name` of the JS env under the SDK's env wrapper (the wrapper checks a
    binding's JS class four ways before wrapping it, on every request's first access); None anywhere else, or
    when `name` is not a D1 binding there."""
    return None if _JSNULL is None else js_binding(env, name, "D1Database")


def _js_value(value: Any) -> Any:
    """A statement parameter as the SDK's RPC conversion sends it: None as null (D1 refuses undefined), bytes
    as a Uint8Array; strings, numbers and booleans as they are."""
    if value is None:
        return _JSNULL
    if isinstance(value, str | int | float):  # bool is an int
        return value
    return _to_js(value)


def _js_rows(result: Any) -> list[dict[str, Any]]:
    """The rows of a D1 result (a JS object) as plain dicts, SQL NULL as None."""
    rows = getattr(result, "results", None)
    if rows is None or rows is _JSNULL:
        return []
    return [{k: (None if v is _JSNULL else v) for k, v in row.items()} for row in rows.to_py()]


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
