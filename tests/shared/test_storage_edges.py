"""A worker's D1 through `shared.storage` at its edges: the declared tables made on the first open (and
none asked for without them), `tables` keyword-only, `first` the first row of several, and the column a
missing value names cut to 64 characters.

Written against the mutants that survived `make mutate TARGET=shared/storage.py` (docs/mutation.md).
"""

from types import SimpleNamespace

import pytest

from dotdo_dev.runtime.bindings.d1 import D1Database
from shared.errors import ValidationError
from shared.migrations import Migration
from shared.records import declared_table
from shared.storage import Database

LONG = "a" * 63 + "bcd"  # a column name of 66 characters
SCHEMA = [
    Migration(
        1,
        "rows",
        (
            "CREATE TABLE rows (id TEXT PRIMARY KEY, n INTEGER NOT NULL)",
            f"CREATE TABLE wide (id TEXT PRIMARY KEY, {LONG} TEXT NOT NULL)",
        ),
    )
]
ITEMS = {"t_items": declared_table("t_items", {"prefix": "itm", "columns": {"a": "text"}})}


async def table_names(d1):
    """The tables in the file, looked at directly (a `Storage` would make a missing declared table)."""
    result = await d1.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()
    return [row["name"] for row in result["results"]]


async def test_a_database_with_declared_tables_makes_them_on_its_first_open(tmp_path):
    d1 = D1Database(tmp_path / "d1.sqlite")
    database = Database("DB", SCHEMA, tables=ITEMS)
    assert database.tables is ITEMS
    await database.open(SimpleNamespace(DB=d1))
    assert await table_names(d1) == ["_migrations", "rows", "t_items", "wide"]


async def test_a_database_without_declared_tables_makes_only_its_migrations(tmp_path):
    d1 = D1Database(tmp_path / "d1.sqlite")
    database = Database("DB", SCHEMA)
    assert database.tables == {}
    await database.open(SimpleNamespace(DB=d1))
    assert await table_names(d1) == ["_migrations", "rows", "wide"]
    assert Database("DB", SCHEMA, tables=None).tables == {}


def test_the_declared_tables_of_a_database_are_keyword_only():
    with pytest.raises(TypeError):
        Database("DB", SCHEMA, ITEMS)  # type: ignore[misc]
    assert Database(binding="DB", migrations=SCHEMA, tables=ITEMS).tables is ITEMS


async def test_first_is_the_first_row_of_several(tmp_path):
    db = await Database("DB", SCHEMA).open(SimpleNamespace(DB=D1Database(tmp_path / "d1.sqlite")))
    for id_, n in (("r1", 1), ("r2", 2), ("r3", 3)):
        await db.run("INSERT INTO rows (id, n) VALUES (?, ?)", [id_, n])
    assert await db.first("SELECT id FROM rows ORDER BY n") == {"id": "r1"}
    assert await db.first("SELECT id FROM rows ORDER BY n DESC") == {"id": "r3"}
    assert await db.first("SELECT id FROM rows WHERE n > 5") is None


async def test_a_missing_value_names_its_column_by_at_most_64_characters(tmp_path):
    db = await Database("DB", SCHEMA).open(SimpleNamespace(DB=D1Database(tmp_path / "d1.sqlite")))
    with pytest.raises(ValidationError) as info:
        await db.run(f"INSERT INTO wide (id, {LONG}) VALUES ('w1', NULL)")
    assert info.value.details == [{"field": "a" * 63 + "b", "message": "must have a value", "type": "missing"}]
    with pytest.raises(ValidationError) as info:
        await db.run("INSERT INTO rows (id, n) VALUES ('r1', NULL)")
    assert info.value.details[0]["field"] == "n"
    assert await db.first("SELECT count(*) AS n FROM wide") == {"n": 0}
