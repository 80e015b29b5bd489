"""A worker's own D1 through `shared.storage`: migrated once per isolate, healed when a database lacks the
schema, rows as dicts, constraint violations as client errors and everything else passed on."""

import asyncio
from types import SimpleNamespace

import pytest

from dotdo_dev.runtime.bindings.d1 import D1Database
from shared.errors import Conflict, ValidationError
from shared.migrations import Migration
from shared.storage import D1Storage, Database

SCHEMA = [
    Migration(
        1,
        "parents_children",
        (
            "CREATE TABLE parents (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, size INTEGER CHECK (size >= 0))",
            "CREATE TABLE children (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parents (id))",
        ),
    )
]


class Counting:
    """A D1 binding that counts the batches it runs (a migration check is one batch)."""

    def __init__(self, d1):
        self.d1, self.batches = d1, 0

    def prepare(self, sql):
        return self.d1.prepare(sql)

    async def batch(self, statements):
        self.batches += 1
        return await self.d1.batch(statements)


def env_with(path, name="MY_DB"):
    return SimpleNamespace(**{name: D1Database(path)})


@pytest.fixture
async def db(tmp_path):
    return await Database("MY_DB", SCHEMA).open(env_with(tmp_path / "d1.sqlite"))


async def test_the_first_open_of_an_isolate_migrates_and_later_ones_do_not(tmp_path):
    database = Database("MY_DB", SCHEMA)
    counting = Counting(D1Database(tmp_path / "d1.sqlite"))
    env = SimpleNamespace(MY_DB=counting)
    assert database.checked is False
    first = await database.open(env)
    assert isinstance(first, D1Storage)
    assert database.checked is True
    after_first = counting.batches
    assert after_first >= 2  # the version check, then the migration
    await database.open(env)
    await database.open(SimpleNamespace(MY_DB=counting))  # env is wrapped anew per request on Cloudflare
    assert counting.batches == after_first
    assert await first.ready() == 1


async def test_a_missing_binding_names_itself(tmp_path):
    with pytest.raises(RuntimeError, match=r"no D1 binding .MY_DB.*d1_databases"):
        await Database("MY_DB", SCHEMA).open(env_with(tmp_path / "d1.sqlite", name="OTHER"))


async def test_a_database_found_without_the_schema_is_migrated_on_the_spot(tmp_path):
    database = Database("MY_DB", SCHEMA)
    await database.open(env_with(tmp_path / "one.sqlite"))  # the isolate's check is done
    other = await database.open(env_with(tmp_path / "two.sqlite"))  # a fresh file, not checked again
    assert await other.run("INSERT INTO parents (id, name) VALUES ('p1', 'one')") == 1
    assert await other.all("SELECT id, name, size FROM parents") == [{"id": "p1", "name": "one", "size": None}]
    third = await database.open(env_with(tmp_path / "three.sqlite"))
    assert await third.first("SELECT count(*) AS n FROM children") == {"n": 0}


async def test_a_missing_table_the_migrations_do_not_make_still_fails(db):
    with pytest.raises(Exception, match="no such table: nothing_here"):
        await db.all("SELECT * FROM nothing_here")


async def test_rows_are_plain_dicts_and_writes_say_how_many_changed(db):
    assert await db.run("INSERT INTO parents (id, name, size) VALUES (?, ?, ?)", ["p1", "one", 1]) == 1
    assert await db.run("INSERT INTO parents (id, name, size) VALUES (?, ?, ?)", ["p2", "two", 2]) == 1
    rows = await db.all("SELECT id, size FROM parents ORDER BY id")
    assert rows == [{"id": "p1", "size": 1}, {"id": "p2", "size": 2}]
    assert all(type(row) is dict for row in rows)
    assert await db.first("SELECT id FROM parents WHERE id = ?", ["p9"]) is None
    assert await db.run("UPDATE parents SET size = size + 1") == 2
    assert await db.run("DELETE FROM parents WHERE id = ?", ["p9"]) == 0


async def test_a_batch_is_all_or_nothing(db):
    results = await db.batch(
        [
            ("INSERT INTO parents (id, name) VALUES (?, ?)", ["p1", "one"]),
            ("SELECT name FROM parents WHERE id = ?", ["p1"]),
        ]
    )
    assert results == [[], [{"name": "one"}]]
    with pytest.raises(Conflict):
        await db.batch(
            [
                ("INSERT INTO parents (id, name) VALUES (?, ?)", ["p2", "two"]),
                ("INSERT INTO parents (id, name) VALUES (?, ?)", ["p3", "one"]),  # a duplicate name
            ]
        )
    assert await db.all("SELECT id FROM parents") == [{"id": "p1"}]


@pytest.mark.parametrize(
    ("sql", "params", "error", "code", "field"),
    [
        ("INSERT INTO parents (id, name) VALUES ('p1', 'again')", [], Conflict, "CONFLICT", None),
        ("INSERT INTO parents (id, name) VALUES ('p2', 'one')", [], Conflict, "CONFLICT", None),
        ("INSERT INTO children (id, parent_id) VALUES ('c1', 'p9')", [], Conflict, "REFERENCE_NOT_FOUND", None),
        ("INSERT INTO parents (id, name) VALUES ('p3', ?)", [None], ValidationError, "VALIDATION_ERROR", "name"),
        (
            "INSERT INTO parents (id, name, size) VALUES ('p4', 'four', -1)",
            [],
            ValidationError,
            "VALIDATION_ERROR",
            "values",
        ),
    ],
)
async def test_constraint_violations_are_client_errors(db, sql, params, error, code, field):
    await db.run("INSERT INTO parents (id, name) VALUES ('p1', 'one')")
    with pytest.raises(error) as info:
        await db.run(sql, params)
    assert info.value.code == code
    assert info.value.status == (409 if error is Conflict else 400)
    if field is not None:
        assert info.value.details[0]["field"] == field
    assert await db.first("SELECT count(*) AS n FROM parents") == {"n": 1}


async def test_other_database_errors_are_passed_on(db):
    with pytest.raises(Exception, match="syntax error") as info:
        await db.all("SELEKT 1")
    assert not isinstance(info.value, Conflict | ValidationError)


async def test_two_isolates_opening_a_fresh_database_at_once(tmp_path):
    path = tmp_path / "d1.sqlite"
    one, two = Database("MY_DB", SCHEMA), Database("MY_DB", SCHEMA)
    opened = await asyncio.gather(one.open(env_with(path)), two.open(env_with(path)))
    assert [await s.ready() for s in opened] == [1, 1]
    assert await opened[0].all("SELECT version FROM _migrations") == [{"version": 1}]


async def test_a_storage_given_the_js_binding_reads_the_envs_binding_only_when_it_needs_it(tmp_path):
    # Under Pyodide a checked database is opened on the JS binding alone (`js=`); the env's binding (the SDK's
    # wrapper there) is read only if a statement needs it, as healing a database that lacks the schema does.
    class Env:
        reads = 0

        @property
        def MY_DB(self):
            Env.reads += 1
            return D1Database(tmp_path / "d1.sqlite")

    database = Database("MY_DB", SCHEMA)
    storage = D1Storage(None, database, js=object(), env=Env())
    assert Env.reads == 0
    binding = storage.db
    assert isinstance(binding, D1Database)
    assert storage.db is binding
    assert Env.reads == 1
    storage.js = None  # as the local runtime's storage is: statements go to the binding it read
    assert await storage.ready() == 1
    assert await storage.all("SELECT name FROM parents") == []
