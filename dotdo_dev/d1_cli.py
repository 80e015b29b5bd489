"""`dotdo d1`: wrangler's local D1 commands, on the databases the local platform uses.

    dotdo d1 execute <database> --local --command "SELECT * FROM things" [--json]
    dotdo d1 execute <database> --local --file schema.sql
    dotdo d1 migrations list <database> --local
    dotdo d1 migrations apply <database> --local

`<database>` is a `d1_databases` entry's `database_name` or its `binding`, in the worker's config
(`--config`, else the `wrangler.jsonc` of the current folder; `--env` picks an environment, `make dev`
uses `development`). The database is the file `make dev` keeps it in (`<state>/d1/<database_id>.sqlite`,
state from `$DOTDO_STATE_DIR` or `<repo>/.state`, or `--state`), opened through the local D1 binding,
so what D1 refuses is refused here too. `--local` is required, as wrangler asks for it: the remote
database is Cloudflare's (use `wrangler d1 ... --remote`).

The statements of `--command` or `--file` run in one transaction (all or none). Migrations follow
wrangler's: the `.sql` files of the entry's `migrations_dir` (default `migrations/` beside the config),
in name order, recorded in its `migrations_table` (default `d1_migrations`); each file is applied with
its record in one transaction, and `apply` stops at the first that fails (those before it stay applied).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any, TextIO

from dotdo_dev.config import ConfigError, WorkerConfig, load_worker
from dotdo_dev.runtime.bindings.d1 import D1Database, D1DatabaseConfig, D1Error
from dotdo_dev.runtime.state import StateDir

DEFAULT_MIGRATIONS_DIR = "migrations"
DEFAULT_MIGRATIONS_TABLE = "d1_migrations"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class D1CommandError(Exception):
    """A `dotdo d1` command that cannot run: the message says why (exit status 1)."""


def split_statements(sql: str) -> list[str]:
    """The SQL statements of `sql`, split where SQLite would end one (a `;` inside a string or a comment
    does not end a statement); blank ones and comments alone dropped."""
    statements, current = [], ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            statements.append(current)
            current = ""
    statements.append(current[:-1])  # what follows the last `;`
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    """Whether a statement holds more than whitespace, `;` and comments."""
    text = statement.strip().rstrip(";").strip()
    if not text:
        return False
    try:
        return sqlite3.complete_statement(text + ";") and not _only_comments(text)
    except sqlite3.Error:
        return True


def _only_comments(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if all(line.startswith("--") for line in lines):
        return True
    return text.startswith("/*") and text.endswith("*/") and text.count("/*") == 1


def find_database(config: WorkerConfig, name: str) -> D1DatabaseConfig:
    """The `d1_databases` entry named `name` (its database_name or binding); D1CommandError if none."""
    entries = list(config.d1_databases)
    for entry in entries:
        if name in (entry.database_name, entry.binding):
            return entry
    known = ", ".join(f"{e.database_name} (binding {e.binding})" for e in entries) or "none"
    raise D1CommandError(f"{config.path}: no D1 database named {name!r}; the config has: {known}")


def open_database(state: StateDir, entry: D1DatabaseConfig) -> D1Database:
    """The local D1 database of `entry`, in the file the local platform uses."""
    return D1Database(state.d1(entry.database_id))


async def execute(database: D1Database, sql: str) -> list[dict[str, Any]]:
    """Run every statement of `sql` in one transaction: one result (`results`, `success`, `meta`) each."""
    statements = split_statements(sql)
    if not statements:
        raise D1CommandError("no SQL statements to run")
    results = await database.batch([database.prepare(s) for s in statements])
    return [dict(result) for result in results]


def migration_files(config: WorkerConfig, entry: D1DatabaseConfig) -> list[Path]:
    """The entry's migration files (`<migrations_dir>/*.sql`), in name order."""
    folder = config.path.parent / (entry.migrations_dir or DEFAULT_MIGRATIONS_DIR)
    return sorted(folder.glob("*.sql")) if folder.is_dir() else []


def migrations_table(entry: D1DatabaseConfig) -> str:
    """The entry's migrations table: a plain SQL name (it is written into the statements)."""
    table = entry.migrations_table or DEFAULT_MIGRATIONS_TABLE
    if not _IDENTIFIER.fullmatch(table):
        raise D1CommandError(f"migrations_table {table[:64]!r}: letters, digits and _ only, not starting with a digit")
    return table


async def applied_migrations(database: D1Database, table: str) -> list[str]:
    """The names recorded in the migrations table (made if missing, as wrangler makes it)."""
    await database.exec(
        f'CREATE TABLE IF NOT EXISTS "{table}" (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, '
        "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)"
    )
    rows = await database.prepare(f'SELECT name FROM "{table}" ORDER BY id').all()  # noqa: S608 - a checked name
    return [row["name"] for row in rows["results"]]


async def apply_migrations(
    config: WorkerConfig, entry: D1DatabaseConfig, database: D1Database, out: TextIO
) -> list[str]:
    """Apply the unapplied migration files in order, each with its record in one transaction. Returns the
    names applied; D1CommandError naming the file that failed (those before it stay applied)."""
    table = migrations_table(entry)
    done = set(await applied_migrations(database, table))
    applied = []
    for path in migration_files(config, entry):
        if path.name in done:
            continue
        statements = [database.prepare(s) for s in split_statements(path.read_text())]
        record = f'INSERT INTO "{table}" (name) VALUES (?)'  # noqa: S608 - a checked name
        statements.append(database.prepare(record).bind(path.name))
        try:
            await database.batch(statements)
        except (D1Error, sqlite3.Error) as exc:
            raise D1CommandError(f"migration {path.name} failed and was not applied: {exc}") from None
        print(f"applied {path.name}", file=out)
        applied.append(path.name)
    return applied


# -- the command line ---------------------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    """`dotdo d1 ...` on the CLI's subparsers."""
    d1 = sub.add_parser("d1", help="local D1 databases: execute SQL, apply migrations (as wrangler d1 --local)")
    commands = d1.add_subparsers(dest="d1_command", required=True)
    run = commands.add_parser("execute", help="run SQL on a local D1 database")
    _common(run)
    what = run.add_mutually_exclusive_group(required=True)
    what.add_argument("--command", help="the SQL to run")
    what.add_argument("--file", type=Path, help="a file of SQL to run")
    run.add_argument("--json", action="store_true", help="print the results as JSON")
    run.set_defaults(run=_execute)
    migrations = commands.add_parser("migrations", help="wrangler's D1 migrations, on the local database")
    steps = migrations.add_subparsers(dest="migrations_command", required=True)
    for step, help_text in (("list", "the migrations not applied yet"), ("apply", "apply them in order")):
        command = steps.add_parser(step, help=help_text)
        _common(command)
        command.set_defaults(run=_migrations_list if step == "list" else _migrations_apply)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("database", help="the database's database_name or binding")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="the local database (what make dev uses)")
    where.add_argument("--remote", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", "-c", type=Path, help="the worker's wrangler.jsonc (default: ./wrangler.jsonc)")
    parser.add_argument("--env", "-e", help="the environment whose config to read (make dev uses development)")
    parser.add_argument("--state", type=Path, help="the state folder (default: $DOTDO_STATE_DIR or <repo>/.state)")
    # wrangler's "answer yes to any prompts" (Cloudflare's examples pass it): the local commands never prompt.
    parser.add_argument("--yes", "-y", action="store_true", help="accepted as wrangler's; nothing here prompts")


def _context(args: argparse.Namespace) -> tuple[WorkerConfig, D1DatabaseConfig, D1Database]:
    from dotdo_dev.platform import state_dir_for  # the platform's modules load only for a command that runs

    if args.remote:
        raise D1CommandError("--remote is Cloudflare's database: use `wrangler d1 ... --remote`")
    try:
        config = load_worker(args.config or Path.cwd(), environment=args.env)
    except ConfigError as exc:
        raise D1CommandError(str(exc)) from None
    entry = find_database(config, args.database)
    return config, entry, open_database(StateDir(args.state or state_dir_for(config.path.parent)), entry)


def _execute(args: argparse.Namespace) -> int:
    _config, _entry, database = _context(args)
    if args.file is not None:
        try:
            sql = args.file.read_text()
        except OSError as exc:
            raise D1CommandError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    else:
        sql = args.command
    try:
        results = asyncio.run(execute(database, sql))
    except D1Error as exc:
        raise D1CommandError(f"{exc} (nothing was changed)") from None
    if args.json:
        print(json.dumps(results, indent=2, default=str))
        return 0
    for result in results:
        _print_rows(result.get("results") or [], sys.stdout)
    changes = sum(int((r.get("meta") or {}).get("changes") or 0) for r in results)
    print(f"executed {len(results)} statement(s) on {database.path.name}; {changes} row(s) changed")
    return 0


def _print_rows(rows: list[dict[str, Any]], out: TextIO) -> None:
    if not rows:
        return
    columns = list(rows[0])
    cells = [[("NULL" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    print(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)), file=out)
    print("-+-".join("-" * w for w in widths), file=out)
    for line in cells:
        print(" | ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)), file=out)


def _migrations_list(args: argparse.Namespace) -> int:
    config, entry, database = _context(args)
    done = set(asyncio.run(applied_migrations(database, migrations_table(entry))))
    waiting = [p.name for p in migration_files(config, entry) if p.name not in done]
    print("\n".join(waiting) if waiting else "no migrations to apply")
    return 0


def _migrations_apply(args: argparse.Namespace) -> int:
    config, entry, database = _context(args)
    applied = asyncio.run(apply_migrations(config, entry, database, sys.stdout))
    print(f"{len(applied)} migration(s) applied" if applied else "no migrations to apply")
    return 0
