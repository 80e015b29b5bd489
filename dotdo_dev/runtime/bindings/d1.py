"""D1 on a local SQLite file, with D1's API, result shapes and error messages.

    stmt = env.DB.prepare("SELECT * FROM things WHERE ns = ? AND id = ?").bind("ns", "a")
    row = await stmt.first()                 # dict or None
    result = await stmt.all()                # {"success": True, "meta": {...}, "results": [...]}
    rows = await stmt.raw(columnNames=True)  # [["ns", "id"], ["ns", "a"]]
    await env.DB.batch([stmt1, stmt2])       # one transaction: all or nothing
    await env.DB.exec("CREATE TABLE ...; CREATE INDEX ...")

Values: INTEGER -> int, REAL -> float, TEXT -> str, NULL -> None. A BLOB is returned as a list of
byte values (D1 hands blobs to JavaScript as an array of numbers). Bound values may be None, bool
(stored as 1/0), int, float, str or bytes; anything else fails with `D1_TYPE_ERROR`, as on D1.
Foreign keys are enforced and FTS5 is available, as on D1.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from workers import python_from_rpc

from dotdo_dev.runtime.sqlite import connect

_BINDABLE = (type(None), bool, int, float, str, bytes)


class D1Error(Exception):
    """A failed D1 query. The message reads like D1's: `D1_ERROR: <sqlite message>: SQLITE_<CODE>`."""


def _error(exc: sqlite3.Error) -> D1Error:
    if isinstance(exc, sqlite3.ProgrammingError) and "bindings" in str(exc):
        return D1Error("D1_ERROR: Wrong number of parameter bindings for SQL query.")
    if isinstance(exc, sqlite3.ProgrammingError) and "one statement at a time" in str(exc):
        return D1Error("D1_ERROR: A prepared SQL statement must contain only one statement.")
    name = getattr(exc, "sqlite_errorname", None) or "SQLITE_ERROR"
    base = "_".join(name.split("_")[:2])  # SQLITE_CONSTRAINT_UNIQUE -> SQLITE_CONSTRAINT
    return D1Error(f"D1_ERROR: {exc}: {base}")


def _value(value: Any) -> Any:
    if isinstance(value, bytes):
        return list(value)
    return value


class D1Database:
    """A D1 database binding backed by the SQLite file at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._conn.execute("PRAGMA foreign_keys=ON")

    def __repr__(self) -> str:
        return f"<D1Database {self.path.name}>"

    def prepare(self, query: str) -> D1PreparedStatement:
        if not isinstance(query, str) or not query.strip():
            raise D1Error("D1_ERROR: Cannot prepare an empty SQL query.")
        return D1PreparedStatement(self, query, ())

    async def batch(self, statements: list[D1PreparedStatement]) -> list[Any]:
        """Run statements in one transaction; if one fails, none of them is applied."""
        if not isinstance(statements, list) or not all(isinstance(s, D1PreparedStatement) for s in statements):
            raise TypeError("batch() takes a list of prepared statements")
        if not statements:
            return []
        results = []
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in statements:
                results.append(statement._execute_raw())
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _error(exc) from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return [python_from_rpc({"success": True, "meta": r["meta"], "results": r["results"]}) for r in results]

    async def exec(self, query: str) -> Any:
        """Run one or more `;`-separated statements without bindings. Returns `{count, duration}`."""
        started = time.perf_counter()
        count = 0
        for statement in _split(query):
            try:
                self._conn.execute(statement)
            except sqlite3.Error as exc:
                raise _error(exc) from None
            count += 1
        return python_from_rpc({"count": count, "duration": (time.perf_counter() - started) * 1000})

    def _size(self) -> int:
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return int(pages * size)


def _split(script: str) -> list[str]:
    """Complete SQL statements of a script (semicolons inside strings and triggers are respected)."""
    statements, start = [], 0
    for index, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : index + 1]):
            statement = script[start : index + 1].strip()
            if statement.strip(";").strip():
                statements.append(statement)
            start = index + 1
    rest = script[start:].strip()
    if rest:
        statements.append(rest)
    return statements


class D1PreparedStatement:
    """A query and its bound values. `bind` returns a new statement; a statement can run many times."""

    def __init__(self, db: D1Database, query: str, params: tuple[Any, ...]) -> None:
        self._db = db
        self._query = query
        self._params = params

    def __repr__(self) -> str:
        return f"<D1PreparedStatement {self._query[:60]!r}>"

    def bind(self, *values: Any) -> D1PreparedStatement:
        for value in values:
            if not isinstance(value, _BINDABLE):
                raise D1Error(f"D1_TYPE_ERROR: Type '{type(value).__name__}' not supported for value '{value!r}'")
        params = tuple(int(v) if isinstance(v, bool) else v for v in values)
        return D1PreparedStatement(self._db, self._query, params)

    def _execute_raw(self) -> dict[str, Any]:
        conn = self._db._conn
        started = time.perf_counter()
        before = conn.total_changes
        cursor = conn.execute(self._query, self._params)
        columns = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall()
        changes = conn.total_changes - before
        last_row_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        results = [{c: _value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        meta = {
            "served_by": "dotdo-local-d1",
            "duration": (time.perf_counter() - started) * 1000,
            "changes": changes,
            "last_row_id": last_row_id,
            "changed_db": changes > 0,
            "size_after": self._db._size(),
            "rows_read": len(rows),
            "rows_written": changes,
        }
        return {"success": True, "meta": meta, "results": results, "_columns": columns, "_rows": rows}

    def _run(self) -> dict[str, Any]:
        try:
            return self._execute_raw()
        except sqlite3.Error as exc:
            raise _error(exc) from None

    async def all(self) -> Any:
        raw = self._run()
        return python_from_rpc({"success": True, "meta": raw["meta"], "results": raw["results"]})

    async def run(self) -> Any:
        return await self.all()

    async def first(self, column_name: str | None = None) -> Any:
        raw = self._run()
        if not raw["results"]:
            return None
        row = raw["results"][0]
        if column_name is None:
            return python_from_rpc(row)
        if column_name not in row:
            raise D1Error(f"D1_COLUMN_NOTFOUND: Column not found ({column_name})")
        return python_from_rpc(row[column_name])

    async def raw(self, options: Any = None, *, columnNames: bool = False) -> list[list[Any]]:
        if isinstance(options, dict):
            columnNames = bool(options.get("columnNames", columnNames))
        raw = self._run()
        rows = [[_value(v) for v in row] for row in raw["_rows"]]
        return [list(raw["_columns"]), *rows] if columnNames else rows
