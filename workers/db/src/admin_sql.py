"""Raw SQL for operators: HTTP only, admin principals only, read-only unless `write` is set, audited.

The read-only check reads the statement the way SQLite's tokenizer would: comments, string
literals and quoted identifiers are set aside, there must be exactly one statement, it must start
with SELECT, WITH, VALUES or EXPLAIN, and no keyword that changes data or schema (INSERT, UPDATE,
DELETE, CREATE, DROP, ALTER, ATTACH, DETACH, PRAGMA, VACUUM, REINDEX, ANALYZE) may appear anywhere
in it (SQLite allows `WITH ... DELETE`), nor REPLACE unless it calls the function `replace(...)`
(`WITH ... REPLACE INTO` writes). Some harmless reads are refused: that is the safe
side. Every call, allowed or not, is recorded in `audit_log` with the actor; the SQL text is kept,
the parameters are not (they may hold secrets).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

import records
from shared.errors import AppError, BadRequest, Forbidden
from shared.validation import validate
from storage import storage

WRITE_WORDS = frozenset(
    {"INSERT", "UPDATE", "DELETE", "UPSERT", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH", "PRAGMA", "VACUUM"}
    | {"REINDEX", "ANALYZE"}
)
READ_STARTS = frozenset({"SELECT", "WITH", "VALUES", "EXPLAIN"})
MAX_ROWS = 1000
#: Never written through /sql: the audit trail itself, the schema's bookkeeping, and the search index
#: (VACUUM may renumber the rowids that things_fts refers to).
PROTECTED = frozenset({"AUDIT_LOG", "_MIGRATIONS", "THINGS_FTS", "VACUUM"})
_TOKEN = re.compile(
    r"""(?P<comment>--[^\n]*|/\*.*?(\*/|$))|(?P<quoted>'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`[^`]*`?|\[[^\]]*\]?)"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_$]*)|(?P<semicolon>;)|(?P<other>.)""",
    re.DOTALL,
)


class SqlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=100_000)
    params: list[str | int | float | bool | None] = Field(default_factory=list, max_length=100)
    write: StrictBool = Field(default=False, description="Allow a statement that changes data or schema")


def _words(sql: str) -> set[str]:
    """The upper-cased words of `sql` outside comments, and the names inside quoted identifiers."""
    found = set()
    for match in _TOKEN.finditer(sql):
        if match.group("word"):
            found.add(match.group("word").upper())
        elif match.group("quoted") and match.group("quoted")[0] in '"`[':
            found.add(match.group("quoted").strip('"`[]').upper())
    return found


def statement_kind(sql: str) -> str:
    """ "read" or "write" for one SQL statement; `BadRequest` for none or several."""
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
        await records.insert_record(env, "audit_log", entry)

    try:
        kind = details["kind"] = statement_kind(query.sql)
    except AppError:
        await record("refused")  # several statements (`select 1; drop table things`) are refused too
        raise

    if kind == "write" and PROTECTED.intersection(_words(query.sql)):
        await record("refused")
        raise Forbidden(
            "The audit log, the migrations and the search index are not changed by hand; VACUUM is not offered",
            code="SQL_PROTECTED",
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
    print(json.dumps({"type": "audit", "service": "db", "actor": actor, "action": "sql", "kind": kind}))
    return {"rows": rows[:MAX_ROWS], "kind": kind, "truncated": len(rows) > MAX_ROWS}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:300] if text else type(exc).__name__
