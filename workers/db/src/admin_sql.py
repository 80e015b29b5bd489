"""Raw SQL for operators: HTTP only, admin principals only, read-only unless `write` is set, audited.

**Read or write.** The statement is read the way SQLite's tokenizer reads it: comments, string
literals and quoted identifiers ('x', "x", `x` and [x], each with its doubled-quote escape) are
set aside, there must be exactly one statement, it must start with SELECT, WITH, VALUES or EXPLAIN,
and no keyword that changes data or schema (INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, ATTACH,
DETACH, PRAGMA, VACUUM, REINDEX, ANALYZE) may appear anywhere in it (SQLite allows `WITH ... DELETE`),
nor REPLACE unless it calls the function `replace(...)` (`WITH ... REPLACE INTO` writes). Some
harmless reads are refused: that is the safe side.

**Protected names.** A write is refused (403 `SQL_PROTECTED`) when its text names, anywhere, the
audit log, the migrations table, the search index (`things_fts` and every name starting so: FTS5's
shadow tables and the triggers that keep the index) or SQLite's own tables (`sqlite_*`), or names
`temp` (a temp table shadows a main one for every later query) or `writable_schema`. Names are
found without tokenizing at all: every maximal run of identifier characters (ASCII letters, digits,
`_`) in the whole text, string literals and comments included, is compared case-insensitively
(ASCII, as SQLite compares names). SQLite reads a table name only from such a run: bare, in any
quoting form, after a schema (`main.x`, `"main"."x"`, `main . x`, `main/**/.x`); a doubled quote
inside a quoted name makes another name. So no quoting, prefix, comment, spacing or case spells a
protected table past the check, `audit_log2` stays allowed, and a literal or comment that merely
mentions a protected name refuses the write: bind such a value as a parameter. `$` and non-ASCII
characters, which SQLite also takes into names, end a run here: that can only refuse more.
Also refused in a write, as bare keywords: VACUUM (it may renumber the rowids `things_fts` refers
to), TRIGGER (a trigger runs later, for every caller, out of sight of this check: `CREATE TRIGGER
... ON things BEGIN DELETE FROM x; END` is refused whatever its body), TEMPORARY, ATTACH and
DETACH (D1 refuses them too). Views may be created: SQLite never writes through a view without an
INSTEAD OF trigger, which cannot be created here. A statement holding a NUL character is refused.

Why not a SQL parser: sqlglot (pure Python) parses SQLite's quoting forms and schema prefixes, but
its parser, expressions and dialects alone are ~0.5 MB gzipped (the wheel ~0.7 MB) against the
0.2 MB left in db's 2.0 MB bundle budget, and it falls back to an opaque "command" for
`CREATE TRIGGER` and `REPLACE INTO`, where a name would still need a textual check. The run check
above does not depend on parsing correctly.

Every call, allowed or not, is recorded in `audit_log` with the actor; the SQL text is kept, the
parameters are not (they may hold secrets).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

import records
from shared.errors import AppError, BadRequest, Forbidden
from shared.logs import log
from shared.validation import validate
from storage import storage

WRITE_WORDS = frozenset(
    {"INSERT", "UPDATE", "DELETE", "UPSERT", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH", "PRAGMA", "VACUUM"}
    | {"REINDEX", "ANALYZE"}
)
READ_STARTS = frozenset({"SELECT", "WITH", "VALUES", "EXPLAIN"})
MAX_ROWS = 1000
#: Never written through /sql: the audit trail itself and the schema's bookkeeping.
PROTECTED_TABLES = frozenset({"AUDIT_LOG", "_MIGRATIONS"})
#: Nor any name starting so: the search index (its FTS5 shadow tables, the triggers that keep it) and
#: SQLite's own tables (sqlite_schema, sqlite_sequence, ...).
PROTECTED_PREFIXES = ("THINGS_FTS", "SQLITE_")
#: Names that change the database for every later query: the temp schema, whose tables shadow main's,
#: and the pragma that lets sqlite_schema be edited by hand.
PROTECTED_NAMES = frozenset({"TEMP", "WRITABLE_SCHEMA"})
#: Bare keywords never run in a write (see the module's docstring). PRAGMA statements change db's own
#: connection for every later query (`foreign_keys = OFF`, `ignore_check_constraints = ON`, ...); what
#: they tell is readable through the table-valued functions (`SELECT * FROM pragma_table_info('things')`).
NOT_OFFERED = frozenset({"VACUUM", "TRIGGER", "TEMPORARY", "ATTACH", "DETACH", "PRAGMA"})
_TOKEN = re.compile(
    r"""(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))"""
    r"""|(?P<quoted>'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?)"""
    r"""|(?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)|(?P<semicolon>;)|(?P<other>.)""",
    re.DOTALL,
)
_NAME_RUN = re.compile(r"[A-Za-z0-9_]+")


class SqlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=100_000)
    params: list[str | int | float | bool | None] = Field(default_factory=list, max_length=100)
    write: StrictBool = Field(default=False, description="Allow a statement that changes data or schema")


def bare_words(sql: str) -> set[str]:
    """The upper-cased keywords and bare names of `sql`: words outside comments, strings and quotes."""
    return {match.group("word").upper() for match in _TOKEN.finditer(sql) if match.group("word")}


def named(sql: str) -> set[str]:
    """Every name `sql` could refer to, upper-cased: each maximal run of ASCII letters, digits and `_`
    anywhere in the text (comments and literals included, on purpose)."""
    return {run.upper() for run in _NAME_RUN.findall(sql)}


def protected_in(sql: str) -> list[str]:
    """What makes `sql`, a write, touch what /sql never changes: the names and keywords, sorted."""
    names = named(sql)
    found = {n for n in names if n in PROTECTED_TABLES or n in PROTECTED_NAMES or n.startswith(PROTECTED_PREFIXES)}
    return sorted(found | (NOT_OFFERED & bare_words(sql)))


def statement_kind(sql: str) -> str:
    """ "read" or "write" for one SQL statement; `BadRequest` for none or several, or a NUL character."""
    if "\x00" in sql:
        raise BadRequest("The SQL holds a NUL character", code="SQL_INVALID_CHARACTER")
    words: list[str] = []
    tokens: list[str] = []  # every token but comments and white space, words upper-cased
    statements = 0
    pending = False
    for match in _TOKEN.finditer(sql):
        if match.group("semicolon"):
            statements += pending
            pending = False
            tokens.append(";")
        elif match.group("word"):
            words.append(match.group("word").upper())
            tokens.append(words[-1])
            pending = True
        elif match.group("quoted") or (match.group("other") and not match.group("other").isspace()):
            tokens.append(match.group("quoted") or match.group("other"))
            pending = True
    statements += pending
    if statements != 1:
        raise BadRequest("Send exactly one SQL statement", code="SQL_NOT_ONE_STATEMENT")
    # REPLACE is a statement (`REPLACE INTO`, also after WITH) or the function replace(): only the first writes.
    replaces = any(t == "REPLACE" and tokens[i + 1 : i + 2] != ["("] for i, t in enumerate(tokens))
    if words and words[0] in READ_STARTS and not WRITE_WORDS.intersection(words) and not replaces:
        return "read"
    return "write"


async def run_sql(env: Any, request: Any, *, actor: str) -> dict[str, Any]:
    """Run an operator's statement: `{"rows", "kind", "truncated"}`."""
    query = validate(SqlRequest, request)
    db = await storage(env)
    await db.ready()  # SQL of any shape may not fail on a missing schema (pragma_table_info): make sure
    details: dict[str, Any] = {"sql": query.sql[:2000], "kind": None, "write_flag": query.write}

    async def record(outcome: str) -> None:
        entry = {"actor": actor, "action": f"sql.{outcome}", "target": "db", "details": details}
        await records.audit(env, entry)

    try:
        kind = details["kind"] = statement_kind(query.sql)
    except AppError:
        await record("refused")  # several statements (`select 1; drop table things`) are refused too
        raise

    protected = protected_in(query.sql) if kind == "write" else []
    if protected:
        await record("refused")
        raise Forbidden(
            "The audit log, the migrations, the search index and SQLite's own tables are not changed by hand,"
            " and VACUUM, PRAGMA, triggers, temp objects, ATTACH and DETACH are not offered (a literal naming"
            " one of them is refused too: bind it as a parameter; read pragmas as pragma_<name>(...) in a SELECT)",
            code="SQL_PROTECTED",
            details={"names": protected},
        )
    if kind == "write" and not query.write:
        await record("refused")
        raise Forbidden(
            'This statement changes data or schema: send "write": true to run it', code="SQL_WRITE_NOT_ALLOWED"
        )
    try:
        rows = await db.all(query.sql, query.params)
    except AppError:
        await record("failed")
        raise
    except Exception as exc:
        await record("failed")
        raise BadRequest(
            "The database refused the statement", code="SQL_ERROR", details={"error": _first_line(exc)}
        ) from None
    await record("ran")
    log({"type": "audit", "service": "db", "actor": actor, "action": "sql", "kind": kind})
    return {"rows": rows[:MAX_ROWS], "kind": kind, "truncated": len(rows) > MAX_ROWS}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:300] if text else type(exc).__name__
