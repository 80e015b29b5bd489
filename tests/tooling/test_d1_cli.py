"""`dotdo d1 execute|migrations` (dotdo_dev/d1_cli.py): wrangler's local D1 commands on the file the local
platform's binding uses, all-or-nothing, with clear refusals."""

import json
import subprocess
import sys

import pytest

from dotdo_dev.config import load_worker
from dotdo_dev.d1_cli import split_statements
from dotdo_dev.runtime.bindings.d1 import D1Database
from dotdo_dev.runtime.state import StateDir

CONFIG = """{
  "name": "notes",
  "main": "src/entry.py",
  "compatibility_date": "2026-11-01",
  "compatibility_flags": ["python_workers"],
  "d1_databases": [
    {"binding": "DB", "database_name": "notes-db", "database_id": "0000-notes"},
    {"binding": "OTHER", "database_name": "other", "migrations_dir": "other-migrations", "migrations_table": "done"},
  ],
}
"""


@pytest.fixture
def worker(tmp_path):
    folder = tmp_path / "notes"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "entry.py").write_text("")
    (folder / "wrangler.jsonc").write_text(CONFIG)
    return folder


def dotdo(worker, *args, state):
    """The real command line, run in the worker's folder."""
    return subprocess.run(
        [sys.executable, "-m", "dotdo_dev", "d1", *args, "--state", str(state)],
        cwd=worker,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def rows(state, database_id, sql):
    """What the local platform's own D1 binding reads from that database."""
    database = D1Database(StateDir(state).d1(database_id))
    return (await database.prepare(sql).all())["results"]


async def test_execute_writes_where_the_platforms_binding_reads(worker, tmp_path):
    state = tmp_path / "state"
    sql = "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT); INSERT INTO notes VALUES ('n1', 'a;b')"
    made = dotdo(worker, "execute", "notes-db", "--local", "--command", sql, state=state)
    assert made.returncode == 0, made.stderr
    assert "executed 2 statement(s)" in made.stdout
    assert await rows(state, "0000-notes", "SELECT * FROM notes") == [{"id": "n1", "body": "a;b"}]
    # by binding too, and SELECT results as JSON
    read = dotdo(worker, "execute", "DB", "--local", "--command", "SELECT body FROM notes", "--json", state=state)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)[0]["results"] == [{"body": "a;b"}]
    table = dotdo(worker, "execute", "DB", "--local", "--command", "SELECT id, body FROM notes", state=state)
    assert table.stdout.splitlines()[:3] == ["id | body", "---+-----", "n1 | a;b "]
    # wrangler's --yes / -y (Cloudflare's examples pass it) is accepted: nothing here prompts
    for yes in ("--yes", "-y"):
        again = dotdo(worker, "execute", "DB", "--local", "--command", "SELECT 1 AS one", yes, "--json", state=state)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)[0]["results"] == [{"one": 1}]


async def test_a_file_runs_all_or_nothing(worker, tmp_path):
    state = tmp_path / "state"
    (worker / "schema.sql").write_text(
        "CREATE TABLE t (x INTEGER NOT NULL);\n-- a comment; with a semicolon\nINSERT INTO t VALUES (1);\n"
    )
    assert dotdo(worker, "execute", "notes-db", "--local", "--file", "schema.sql", state=state).returncode == 0
    (worker / "bad.sql").write_text("INSERT INTO t VALUES (2);\nINSERT INTO t VALUES (NULL);\n")
    failed = dotdo(worker, "execute", "notes-db", "--local", "--file", "bad.sql", state=state)
    assert failed.returncode == 1
    assert "NOT NULL" in failed.stderr
    assert "nothing was changed" in failed.stderr
    assert await rows(state, "0000-notes", "SELECT x FROM t") == [{"x": 1}]  # the 2 went with the NULL


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["execute", "nope", "--local", "--command", "SELECT 1"], "no D1 database named 'nope'"),
        (["execute", "DB", "--remote", "--command", "SELECT 1"], "wrangler d1 ... --remote"),
        (["execute", "DB", "--local", "--command", "  ;  "], "no SQL statements"),
        (["execute", "DB", "--local", "--file", "missing.sql"], "cannot read missing.sql"),
        (["execute", "DB", "--local", "--command", "ATTACH DATABASE 'x' AS y"], "not authorized"),
    ],
)
def test_refusals_are_clear_and_exit_1(worker, tmp_path, args, message):
    result = dotdo(worker, *args, state=tmp_path / "state")
    assert result.returncode == 1, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_without_local_or_remote_the_command_asks_for_one(worker, tmp_path):
    result = dotdo(worker, "execute", "DB", "--command", "SELECT 1", state=tmp_path / "state")
    assert result.returncode == 2
    assert "--local" in result.stderr


async def test_migrations_apply_in_order_once_and_stop_at_a_failing_one(worker, tmp_path):
    state = tmp_path / "state"
    migrations = worker / "migrations"
    migrations.mkdir()
    (migrations / "0001_notes.sql").write_text("CREATE TABLE notes (id TEXT PRIMARY KEY);")
    (migrations / "0002_body.sql").write_text("ALTER TABLE notes ADD COLUMN body TEXT;")
    listed = dotdo(worker, "migrations", "list", "notes-db", "--local", state=state)
    assert listed.stdout.split() == ["0001_notes.sql", "0002_body.sql"]
    applied = dotdo(worker, "migrations", "apply", "notes-db", "--local", state=state)
    assert applied.returncode == 0, applied.stderr
    assert "applied 0001_notes.sql" in applied.stdout
    assert "2 migration(s) applied" in applied.stdout
    again = dotdo(worker, "migrations", "apply", "notes-db", "--local", state=state)
    assert "no migrations to apply" in again.stdout
    recorded = await rows(state, "0000-notes", "SELECT name FROM d1_migrations ORDER BY id")
    assert [r["name"] for r in recorded] == ["0001_notes.sql", "0002_body.sql"]
    # a failing migration: not applied, not recorded, the ones after it not tried
    (migrations / "0003_broken.sql").write_text("CREATE TABLE ok (x);\nALTER TABLE missing ADD COLUMN y;")
    (migrations / "0004_later.sql").write_text("CREATE TABLE later (x);")
    failed = dotdo(worker, "migrations", "apply", "notes-db", "--local", state=state)
    assert failed.returncode == 1
    assert "0003_broken.sql failed and was not applied" in failed.stderr
    tables = {r["name"] for r in await rows(state, "0000-notes", "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "ok" not in tables
    assert "later" not in tables


async def test_an_entrys_own_migrations_folder_and_table(worker, tmp_path):
    state = tmp_path / "state"
    (worker / "other-migrations").mkdir()
    (worker / "other-migrations" / "0001_x.sql").write_text("CREATE TABLE x (a);")
    assert dotdo(worker, "migrations", "apply", "OTHER", "--local", state=state).returncode == 0
    config = load_worker(worker / "wrangler.jsonc")
    entry = next(d for d in config.d1_databases if d.binding == "OTHER")
    assert (entry.migrations_dir, entry.migrations_table, entry.database_id) == ("other-migrations", "done", "other")
    assert await rows(state, "other", "SELECT name FROM done") == [{"name": "0001_x.sql"}]


def test_statements_split_where_sqlite_ends_them():
    sql = "CREATE TABLE a (x); INSERT INTO a VALUES ('x;y');\n-- note; here\n/* c; */ SELECT 1"
    assert split_statements(sql) == [
        "CREATE TABLE a (x);",
        "INSERT INTO a VALUES ('x;y');",
        "-- note; here\n/* c; */ SELECT 1;",
    ]
    assert split_statements("-- nothing but a comment;") == []
    assert split_statements(";;\n;") == []
