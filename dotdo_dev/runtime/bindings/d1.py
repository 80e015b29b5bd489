"""Local D1: what worker code receives as `self.env.DB`, backed by a real SQLite file.

The API is D1's JavaScript API, because on Cloudflare Python calls through to it:
`db.prepare(sql).bind(*values)`, then `await stmt.first()`, `.all()`, `.run()`, `.raw()`, plus
`await db.batch([...])` and `await db.exec(sql)`. Results cross the same boundary as on Cloudflare
(`python_to_rpc` then `python_from_rpc`), so dicts are `JsDict` (`result.results[0].name` works).

Values, as D1 converts them:

* bound: None -> NULL, bool -> 1/0, int -> INTEGER, float -> REAL, str -> TEXT, bytes -> BLOB.
  Anything else raises `D1Error("D1_TYPE_ERROR: ...")` naming the Python type, when `bind()` is
  called, as on D1. An int beyond +-(2**53 - 1) is refused too (Pyodide hands it to JavaScript as a
  BigInt, which D1 rejects). A float with an integral value (2.0) is bound as the INTEGER 2, and a
  non-finite float as NULL: JavaScript has one number type and D1 sends values as JSON. (D1 also
  takes a JavaScript array of byte values as a BLOB; a Python list is refused here on purpose,
  since it is far more often a value that should have been serialized: bind `bytes(...)`.)
* returned: INTEGER -> int, REAL -> float, TEXT -> str, NULL -> None, BLOB -> a list of byte values
  (`[104, 105]`; D1 sends blobs as JSON arrays of numbers; `bytes(value)` turns it back). Numbers
  travel as JavaScript numbers: a REAL with an integral value (2.0) arrives as the int 2, and an
  INTEGER beyond 2**53 loses precision exactly as it does on D1.

Like D1: foreign keys are enforced, FTS5 is available, `?` and `?NNN` placeholders are supported,
`batch()` is one transaction, `exec()` runs its input line by line (a statement spread over several
lines fails, as on D1; several `;`-separated statements on one line are fine), and SQL errors raise
`D1Error("D1_ERROR: <sqlite message>: SQLITE_<CODE>")`. Stricter than D1: a prepared statement must
hold exactly one SQL statement, and BEGIN/COMMIT/ROLLBACK/SAVEPOINT are refused (use `batch()`).

Queries run off the event loop, as D1's run in another process: each `D1Database` owns one worker
thread with its connection, and every call (a statement, a whole `batch()` or `exec()`) is one job
on it, in the order the calls were made. A slow query therefore delays only later calls on the
same database, never other coroutines; a batch stays one transaction, and one database object
writes one statement at a time as before.

Limits D1 enforces, enforced here too:

* a query is stopped after D1's 30 seconds (`query_timeout=` seconds, or the environment variable
  `DOTDO_D1_QUERY_TIMEOUT`, for a lower limit in tests) with
  `D1Error("D1_ERROR: Query timed out after <n> s (D1 stops a query at 30 s): SQLITE_INTERRUPT")`.
  The wording is ours: D1's documentation gives the 30 s limit but not its message. In a batch
  or `exec()` the limit applies to each statement, and the whole transaction is rolled back.
* `ATTACH` and `DETACH` are refused with D1's (and miniflare's) error,
  `D1_ERROR: not authorized: SQLITE_AUTH` (an SQLite authorizer denies them, as workerd's does).

Several processes may open the same file: the database is in WAL mode with a busy timeout
(`dotdo_dev.runtime.sqlite.connect`).
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.rpc import JsDict, python_from_rpc, python_to_rpc

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime.bindings.kind import BindingContext, ListKind
from dotdo_dev.runtime.sqlite import connect

__all__ = ["D1Database", "D1DatabaseConfig", "D1Error", "D1Kind", "D1PreparedStatement"]

SERVED_BY = "dotdo-local.db"
#: D1 stops a query after 30 seconds.
QUERY_TIMEOUT = 30.0
#: The environment variable that lowers (or raises) the limit for every database of the process.
QUERY_TIMEOUT_ENV = "DOTDO_D1_QUERY_TIMEOUT"
_MAX_SAFE_INTEGER = 2**53 - 1
_PROGRESS_STEPS = 1000  # SQLite virtual-machine steps between two looks at the clock
_DENIED = frozenset({sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH})

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)", re.DOTALL)
_TRANSACTION_CONTROL = re.compile(r"(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


class D1Error(Exception):
    """A D1 failure. The message is D1's: `D1_ERROR: ...`, `D1_TYPE_ERROR: ...`, `D1_EXEC_ERROR: ...`,
    `D1_COLUMN_NOTFOUND: ...`."""


class D1Database:
    """A D1 database stored in the SQLite file at `path` (created, with its parent folders, if missing).

    `query_timeout` (seconds) stops a query that runs longer; by default D1's 30 s, or the value of
    the environment variable `DOTDO_D1_QUERY_TIMEOUT`."""

    def __init__(self, path: Path, *, query_timeout: float | None = None) -> None:
        self.path = Path(path)
        self.query_timeout = _query_timeout(query_timeout)
        self._deadline = _Deadline()
        self._conn = connect(self.path)
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.set_authorizer(_authorize)
        self._conn.set_progress_handler(self._deadline, _PROGRESS_STEPS)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"d1-{self.path.stem}")

    def __repr__(self) -> str:
        return f"<D1Database {self.path}>"

    def prepare(self, query: str) -> D1PreparedStatement:
        """A statement for `query`; bind values with `.bind(...)`, run it with `.all()`, `.first()` ..."""
        if not isinstance(query, str):
            raise TypeError(f"D1 prepare() takes the SQL as a str, not {type(query).__name__}")
        if not query.strip():
            raise D1Error("D1_ERROR: No SQL statements detected. (the query is empty)")
        return D1PreparedStatement(self, query)

    async def batch(self, statements: list[D1PreparedStatement]) -> list[JsDict]:
        """Run `statements` in one transaction and return one `all()`-like result per statement.

        If any statement fails, none of them takes effect and the error is raised."""
        if not isinstance(statements, list):
            raise TypeError(
                f"D1 batch() takes a list of prepared statements, not {type(statements).__name__}"
                " (a tuple or generator cannot be sent to D1 on Cloudflare)"
            )
        for statement in statements:
            if not isinstance(statement, D1PreparedStatement):
                raise TypeError(f"D1 batch() takes prepared statements, not {type(statement).__name__}")
        if not statements:
            raise D1Error("D1_ERROR: No SQL statements detected.")
        outcomes = await self._call(self._batch, [(s.statement, s.params) for s in statements])
        return [_to_worker(_all_result(outcome)) for outcome in outcomes]

    async def exec(self, query: str) -> JsDict:
        """Run the SQL in `query` without bindings, one line at a time, in one transaction.

        Returns `{"count": <statements executed>, "duration": <ms>}`. As on D1, each line is sent on
        its own: a statement that spans several lines fails with `incomplete input`."""
        if not isinstance(query, str):
            raise TypeError(f"D1 exec() takes the SQL as a str, not {type(query).__name__}")
        return _to_worker(await self._call(self._exec, query))

    # -- execution (on the database's thread) ------------------------------------------------------------
    async def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run `function(*args)` on the database's thread; calls run one at a time, in order."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(function, *args))

    def _batch(self, statements: list[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
        with self._transaction():
            return [self._execute(sql, params) for sql, params in statements]

    def _exec(self, query: str) -> dict[str, Any]:
        lines = query.strip().split("\n")
        count, duration = 0, 0.0
        with self._transaction():
            for number, line in enumerate(lines, start=1):
                try:
                    for sql in _split_statements(line):
                        duration += self._execute(sql, [])["meta"]["duration"]
                        count += 1
                except D1Error as exc:
                    reason = str(exc).removeprefix("D1_ERROR: ")
                    raise D1Error(f"D1_EXEC_ERROR: Error in line {number}: {line}: {reason}") from None
            if count == 0:
                raise D1Error("D1_EXEC_ERROR: Error in line 1: : No SQL statements detected.")
        return {"count": count, "duration": duration}

    def _run(self, sql: str, params: Sequence[Any]) -> dict[str, Any]:
        """Run one statement on its own (SQLite makes a single statement atomic)."""
        try:
            return self._execute(sql, params)
        finally:
            if self._conn.in_transaction:  # never leave a transaction open behind the worker's back
                self._conn.rollback()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise D1Error(f"D1_ERROR: {_describe(exc)}") from None
        try:
            yield
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.rollback()
            if isinstance(exc, sqlite3.Error | sqlite3.Warning):
                raise D1Error(f"D1_ERROR: {_describe(exc)}") from None
            raise

    def _execute(self, sql: str, params: Sequence[Any]) -> dict[str, Any]:
        _check_statement(sql)
        conn = self._conn
        started = time.perf_counter()
        timed_out = False
        try:
            before_changes = conn.total_changes
            before = self._snapshot()
            self._deadline.start(self.query_timeout)
            try:
                cursor = conn.execute(sql, list(params))
                columns = [column[0] for column in cursor.description or ()]
                rows = cursor.fetchall()
                cursor.close()
            finally:
                timed_out = self._deadline.stop()
            changes = conn.total_changes - before_changes
            after = self._snapshot()
        except (sqlite3.Error, sqlite3.Warning) as exc:
            if timed_out and getattr(exc, "sqlite_errorname", None) == "SQLITE_INTERRUPT":
                raise D1Error(
                    f"D1_ERROR: Query timed out after {self.query_timeout:g} s "
                    f"(D1 stops a query at {QUERY_TIMEOUT:g} s): SQLITE_INTERRUPT"
                ) from None
            raise D1Error(f"D1_ERROR: {_describe(exc)}") from None
        duration = (time.perf_counter() - started) * 1000
        last_row_id, size_after, _ = after
        meta = {
            "served_by": SERVED_BY,
            "served_by_primary": True,
            "duration": duration,
            "changes": changes,
            "last_row_id": last_row_id,
            "changed_db": changes > 0 or after != before,
            "size_after": size_after,
            "rows_read": max(len(rows), changes),  # approximation: SQLite does not report rows scanned
            "rows_written": changes,  # approximation: D1 also counts index writes
            "timings": {"sql_duration_ms": duration},
        }
        return {"columns": columns, "rows": [[_result_value(v) for v in row] for row in rows], "meta": meta}

    def _snapshot(self) -> tuple[int, int, int]:
        """(last_insert_rowid, database size in bytes, schema version)."""
        return self._conn.execute(
            "SELECT last_insert_rowid(), page_count * page_size, schema_version "
            "FROM pragma_page_count(), pragma_page_size(), pragma_schema_version()"
        ).fetchone()


class D1PreparedStatement:
    """A SQL statement with its bound values. Statements are immutable: `bind()` returns a new one,
    and a statement can be run any number of times."""

    def __init__(self, database: D1Database, statement: str, params: Sequence[Any] = ()) -> None:
        self._database = database
        self.statement = statement
        self.params = list(params)

    def __repr__(self) -> str:
        return f"<D1PreparedStatement {self.statement!r} params={self.params!r}>"

    def bind(self, *values: Any) -> D1PreparedStatement:
        """A copy of this statement with `values` bound to its `?` / `?NNN` placeholders, in order.

        Raises `D1Error` (`D1_TYPE_ERROR`) for a value D1 cannot bind. A wrong number of values is
        reported when the statement runs, as on D1."""
        return D1PreparedStatement(self._database, self.statement, [_bind_value(v) for v in values])

    async def first(self, column_name: str | None = None) -> Any:
        """The first row as a dict, or None if there are no rows. With `column_name`, that column's
        value of the first row (an error if the row has no such column)."""
        outcome = await self._database._call(self._database._run, self.statement, self.params)
        if not outcome["rows"]:
            return None
        row = dict(zip(outcome["columns"], outcome["rows"][0], strict=True))
        if column_name is None:
            return _to_worker(row)
        if column_name not in row:
            raise D1Error(f"D1_COLUMN_NOTFOUND: Column not found ({column_name})")
        return _to_worker(row[column_name])

    async def all(self) -> JsDict:
        """`{"success": True, "meta": {...}, "results": [row dicts]}`."""
        return _to_worker(_all_result(await self._database._call(self._database._run, self.statement, self.params)))

    async def run(self) -> JsDict:
        """Run the statement; the result has the same shape as `all()`."""
        return _to_worker(_all_result(await self._database._call(self._database._run, self.statement, self.params)))

    async def raw(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> list[list[Any]]:
        """The rows as lists of values. With `columnNames=True` (or `raw({"columnNames": True})`) the
        first list holds the column names."""
        column_names = bool(_options("raw", options, kwargs, {"columnNames"}).get("columnNames"))
        outcome = await self._database._call(self._database._run, self.statement, self.params)
        rows = outcome["rows"]
        return _to_worker([outcome["columns"], *rows] if column_names else rows)


# -- helpers -----------------------------------------------------------------------------------------
def _query_timeout(value: float | None) -> float:
    """The limit in seconds: `value`, else `DOTDO_D1_QUERY_TIMEOUT`, else D1's 30 s."""
    source = "query_timeout"
    if value is None:
        raw = os.environ.get(QUERY_TIMEOUT_ENV, "").strip()
        if not raw:
            return QUERY_TIMEOUT
        source = QUERY_TIMEOUT_ENV
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{QUERY_TIMEOUT_ENV} must be a number of seconds, not {raw!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{source} must be a positive number of seconds, not {value!r}")
    return float(value)


class _Deadline:
    """SQLite's progress handler for one connection: true (interrupt the statement) once the running
    statement's time is up. Called on the database's thread only."""

    def __init__(self) -> None:
        self._at = math.inf

    def __call__(self) -> bool:
        return time.monotonic() >= self._at

    def start(self, seconds: float) -> None:
        self._at = time.monotonic() + seconds

    def stop(self) -> bool:
        """End the statement's clock; whether its time had run out."""
        passed = self()
        self._at = math.inf
        return passed


def _authorize(action: int, *_: Any) -> int:
    """SQLite's authorizer: D1 refuses ATTACH and DETACH ("not authorized"); everything else is allowed."""
    return sqlite3.SQLITE_DENY if action in _DENIED else sqlite3.SQLITE_OK


def _to_worker(value: Any) -> Any:
    """What worker code receives on Cloudflare: the value as it comes back from JavaScript."""
    return python_from_rpc(python_to_rpc(value))


def _all_result(outcome: dict[str, Any]) -> dict[str, Any]:
    columns = outcome["columns"]
    results = [dict(zip(columns, row, strict=True)) for row in outcome["rows"]]
    return {"success": True, "meta": outcome["meta"], "results": results}


def _result_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, int) and abs(value) > _MAX_SAFE_INTEGER:
        return int(float(value))  # a JavaScript number cannot hold it exactly
    return value


def _bind_value(value: Any) -> Any:
    python_type = type(value).__name__
    try:
        sent = python_to_rpc(value)  # what reaches D1 on Cloudflare
    except TypeError as exc:
        raise D1Error(f"D1_TYPE_ERROR: Type '{python_type}' not supported for value '{value!r}' ({exc})") from None
    if sent is None or isinstance(sent, str | bytes):
        return sent
    if isinstance(sent, bool):
        return int(sent)
    if isinstance(sent, int):
        if abs(sent) > _MAX_SAFE_INTEGER:
            raise D1Error(
                f"D1_TYPE_ERROR: Type 'bigint' not supported for value '{sent}' "
                "(Python int beyond +-(2**53 - 1); bind it as a str, or as a float if precision may be lost)"
            )
        return sent
    if isinstance(sent, float):
        return sent if math.isfinite(sent) else None  # JSON has no NaN or Infinity
    hint = "; for a BLOB bind bytes(...)" if isinstance(sent, list) else ""
    raise D1Error(
        f"D1_TYPE_ERROR: Type 'object' not supported for value '{_js_string(sent)}' "
        f"(Python {python_type}; D1 binds None, bool, int, float, str and bytes{hint})"
    )


def _js_string(value: Any) -> str:
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, set):
        return "[object Set]"
    if isinstance(value, list):
        return ",".join("" if v is None else _js_string(v) for v in value)
    return str(value)


def _describe(exc: BaseException) -> str:
    """D1's wording for a SQLite error: `<message>: SQLITE_<PRIMARY CODE>`."""
    message = str(exc)
    name = getattr(exc, "sqlite_errorname", None)
    if name:
        primary = "_".join(name.split("_")[:2])  # SQLITE_CONSTRAINT_UNIQUE -> SQLITE_CONSTRAINT
        return f"{message}: {primary}"
    if message.startswith("Incorrect number of bindings"):
        return "Wrong number of parameter bindings for SQL query."  # miniflare's exact words
    if message.startswith("You can only execute one statement at a time"):
        return (
            "a prepared statement must hold exactly one SQL statement; "
            "use db.batch([...]) or db.exec(...) to run several"
        )
    return message


def _check_statement(sql: str) -> None:
    body = _COMMENTS.sub(" ", sql).strip().rstrip(";").strip()
    if not body:
        raise D1Error("D1_ERROR: No SQL statements detected.")
    if _TRANSACTION_CONTROL.match(body):
        raise D1Error(
            "D1_ERROR: D1 does not support BEGIN, COMMIT, ROLLBACK or SAVEPOINT statements; "
            "use db.batch([...]) to run statements in one transaction"
        )


def _split_statements(line: str) -> Iterator[str]:
    """The SQL statements in `line` (`;`-separated; semicolons in strings and triggers are respected).

    Blank and comment-only pieces are skipped; an unfinished statement is yielded as is, for SQLite
    to report `incomplete input`."""
    pending = ""
    for piece in line.split(";"):
        pending = f"{pending};{piece}" if pending else piece
        if sqlite3.complete_statement(pending + ";"):
            if _COMMENTS.sub(" ", pending).strip():
                yield pending
            pending = ""
    if _COMMENTS.sub(" ", pending).strip():
        yield pending


def _options(method: str, options: Any, kwargs: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """Merge JS-style options (a dict) or Python keyword arguments; refuse anything D1 would ignore."""
    if options is not None and kwargs:
        raise TypeError(f"D1 {method}(): pass options either as a dict or as keyword arguments, not both")
    if options is None:
        options = kwargs
    if not isinstance(options, Mapping):
        raise TypeError(
            f"D1 {method}() takes its options as a dict or keyword arguments "
            f"(e.g. {method}(columnNames=True)), not {type(options).__name__}"
        )
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"D1 {method}(): unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(allowed))}")
    return dict(options)


# -- the binding kind: `d1_databases` in wrangler.jsonc ---------------------------------------------


@dataclass(frozen=True)
class D1DatabaseConfig:
    """A `d1_databases` entry; `database_name` defaults to the binding, `database_id` to the name.
    `migrations_dir` and `migrations_table` are wrangler's (None: its defaults, `migrations` and
    `d1_migrations`), read by `dotdo d1 migrations`."""

    binding: str
    database_name: str
    database_id: str
    migrations_dir: str | None = None
    migrations_table: str | None = None


class D1Kind(ListKind):
    """`d1_databases`: `env.<binding>` is a `D1Database` on `<state>/d1/<database_id>.sqlite`."""

    key = "d1_databases"
    state_folder = "d1"

    def entry(self, reader: ConfigReader, item: dict[str, Any], where: str) -> D1DatabaseConfig:
        binding = reader.string(item, "binding", required=True, prefix=where)
        name = reader.string(item, "database_name", prefix=where) or binding
        database_id = reader.string(item, "database_id", prefix=where) or name
        return D1DatabaseConfig(
            binding=binding,
            database_name=name,
            database_id=database_id,
            migrations_dir=reader.string(item, "migrations_dir", prefix=where),
            migrations_table=reader.string(item, "migrations_table", prefix=where),
        )

    def binding(self, entry: D1DatabaseConfig, context: BindingContext) -> D1Database:
        return D1Database(self.state_file(context.state, entry.database_id))
