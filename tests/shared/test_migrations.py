"""Schema migrations on a real (local) D1 database: order, idempotence, races, failures."""

import asyncio

import pytest

from dotdo_dev.runtime.bindings.d1 import D1Database
from shared.migrations import Migration, apply_migrations, check_migrations, schema_version

MIGRATIONS = [
    Migration(1, "items", ("CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT NOT NULL)",)),
    # not idempotent on purpose: running it twice would fail
    Migration(2, "items_tags", ("ALTER TABLE items ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",)),
    Migration(
        3,
        "trigger",
        (
            "CREATE TABLE log (item TEXT)",
            "CREATE TRIGGER items_log AFTER INSERT ON items BEGIN INSERT INTO log VALUES (new.id); END",
        ),
    ),
]


def fresh(tmp_path, name="d1.sqlite"):
    return D1Database(tmp_path / name)


async def test_applies_every_migration_in_order(tmp_path):
    db = fresh(tmp_path)
    assert await schema_version(db) == 0
    assert await apply_migrations(db, MIGRATIONS) == 3
    await db.prepare("INSERT INTO items (id, name) VALUES ('a', 'A')").run()
    row = await db.prepare("SELECT tags FROM items").first()
    assert row["tags"] == "[]"
    assert await db.prepare("SELECT item FROM log").first("item") == "a"  # the trigger's `;` survived
    versions = await db.prepare("SELECT version, name FROM _migrations ORDER BY version").all()
    assert [(r["version"], r["name"]) for r in versions["results"]] == [(1, "items"), (2, "items_tags"), (3, "trigger")]


async def test_applies_only_what_is_new(tmp_path):
    db = fresh(tmp_path)
    assert await apply_migrations(db, MIGRATIONS[:1]) == 1
    again = fresh(tmp_path)  # another isolate on the same database
    assert await apply_migrations(again, MIGRATIONS) == 3
    assert await apply_migrations(fresh(tmp_path), MIGRATIONS) == 3  # nothing left: no ALTER twice


async def test_racing_isolates_apply_each_migration_once(tmp_path):
    dbs = [fresh(tmp_path) for _ in range(5)]
    versions = await asyncio.gather(*(apply_migrations(db, MIGRATIONS) for db in dbs))
    assert versions == [3] * 5
    count = await dbs[0].prepare("SELECT count(*) AS n FROM _migrations").first("n")
    assert count == 3


async def test_a_failing_migration_leaves_nothing_behind(tmp_path):
    db = fresh(tmp_path)
    broken = [*MIGRATIONS[:1], Migration(2, "broken", ("CREATE TABLE ok (x)", "CREATE TABLE items (x)"))]
    with pytest.raises(Exception, match="already exists"):
        await apply_migrations(db, broken)
    assert await schema_version(db) == 1
    tables = await db.prepare("SELECT name FROM sqlite_master WHERE name = 'ok'").all()
    assert tables["results"] == []  # the batch rolled back as a whole


@pytest.mark.parametrize(
    "migrations",
    [
        [Migration(2, "skips one", ("SELECT 1",))],
        [Migration(1, "a", ("SELECT 1",)), Migration(1, "again", ("SELECT 1",))],
        [Migration(1, "empty", ())],
        [Migration(1, "blank", ("  ",))],
    ],
)
def test_malformed_migration_lists_are_refused(migrations):
    with pytest.raises(ValueError, match="migration"):
        check_migrations(migrations)
