"""The record engine (`shared.records`) at its edges: a declaration frozen once made, unknown names quoted
by their first 64 characters, `in`/`nin` with a single value, at most five ordering columns, pages of one
and of the default 100, `has_more` of a short page, only integer columns incremented, `actor`
keyword-only, and `ensure_tables` when its changes fail (once: worked out again; twice: raised) or when a
backend answers too few results.

Written against the mutants that survived `make mutate TARGET=shared/records.py` (docs/mutation.md).
"""

import dataclasses
from types import SimpleNamespace

import pytest

from dotdo_dev.runtime.bindings.d1 import D1Database
from dotdo_dev.schema_check import schema_mismatches
from shared import records
from shared.errors import AppError
from shared.migrations import Migration
from shared.records import table, tables
from shared.storage import Database

SCHEMA = [
    Migration(
        1,
        "items",
        (
            """CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT, size INTEGER, on_sale INTEGER, tags TEXT,
                seen_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        ),
    )
]
TABLES = tables(
    table("items", "itm", "", name="text", size="integer", on_sale="boolean", tags="json", seen_at="timestamp")
)
ITEM = {"name": "a", "size": 1, "on_sale": False, "tags": ["x"], "seen_at": "2026-01-01T00:00:00.000Z"}


@pytest.fixture
async def d1(tmp_path):
    return D1Database(tmp_path / "d1.sqlite")


@pytest.fixture
async def db(d1):
    return await Database("DB", SCHEMA).open(SimpleNamespace(DB=d1))


@pytest.fixture
def op(db):
    """`await op("find_records", "items", ...)`: the engine's function on this database and `TABLES`."""

    async def call(name, *args, **kwargs):
        return await getattr(records, name)(db, TABLES, *args, **kwargs)

    return call


async def fails(op, name, *args, **kwargs) -> AppError:
    with pytest.raises(AppError) as info:
        await op(name, *args, **kwargs)
    return info.value


async def names(op, *args, **kwargs) -> tuple[list[str], bool]:
    page = await op("find_records", "items", *args, **kwargs)
    return [r["name"] for r in page["items"]], page["has_more"]


async def insert_named(op, *names):
    for name in names:
        await op("insert_record", "items", {"id": f"itm_{name}", "name": name})


# -- declarations and names ----------------------------------------------------------------------------


def test_a_table_declaration_cannot_be_changed_once_made():
    declared = TABLES["items"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        declared.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        declared.required = frozenset({"name"})  # type: ignore[misc]
    assert declared.name == "items"
    assert declared.required == frozenset()


async def test_an_unknown_table_is_named_by_its_first_64_characters(op):
    err = await fails(op, "get_record", "t" * 63 + "uv", "itm_1")
    assert (err.status, err.code) == (400, "UNKNOWN_TABLE")
    assert err.message == f"Unknown table {'t' * 63 + 'u'!r}"
    assert (await fails(op, "count_records", "t" * 64)).message == f"Unknown table {'t' * 64!r}"


async def test_an_unknown_column_is_named_by_its_first_64_characters(op):
    err = await fails(op, "find_records", "items", {"c" * 63 + "de": 1})
    assert (err.status, err.code) == (400, "UNKNOWN_COLUMN")
    assert err.message == f"Unknown column {'c' * 63 + 'd'!r} in items"
    err = await fails(op, "find_records", "items", None, "-" + "c" * 64)
    assert err.message == f"Unknown column {'c' * 64!r} in items"


# -- where and order -----------------------------------------------------------------------------------


async def test_in_and_nin_take_a_single_value(op):
    await insert_named(op, "a", "b", "c")
    assert (await names(op, [{"field": "name", "operator": "in", "value": ["b"]}]))[0] == ["b"]
    assert (await names(op, [{"field": "name", "operator": "nin", "value": ("b",)}]))[0] == ["a", "c"]
    assert await op("count_records", "items", [{"field": "name", "operator": "in", "value": ["c"]}]) == 1
    err = await fails(op, "find_records", "items", [{"field": "name", "operator": "in", "value": []}])
    assert err.details[0]["field"] == "where.0.value"


async def test_order_by_takes_five_columns_and_not_six(op):
    await insert_named(op, "b", "a")
    five = ["name", "size", "on_sale", "seen_at", "-created_at"]
    assert (await names(op, None, five))[0] == ["a", "b"]
    err = await fails(op, "find_records", "items", None, [*five, "updated_at"])  # six columns, each declared
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert err.details[0]["field"] == "order_by"


# -- pages ---------------------------------------------------------------------------------------------


async def test_a_page_may_hold_a_single_record(op):
    await insert_named(op, "a", "b", "c")
    assert await names(op, None, "name", 1) == (["a"], True)
    assert await names(op, None, "name", 1, 1) == (["b"], True)
    assert await names(op, None, "name", 1, 2) == (["c"], False)


async def test_the_default_page_is_100_records(op):
    await insert_named(op, *(f"n{i:03d}" for i in range(101)))
    first, more = await names(op, None, "name")
    assert (len(first), first[0], first[-1], more) == (100, "n000", "n099", True)
    rest, more = await names(op, None, "name", offset=1)
    assert (len(rest), rest[0], rest[-1], more) == (100, "n001", "n100", False)


async def test_a_page_shorter_than_its_limit_has_no_more(op):
    await insert_named(op, "a", "b", "c")
    assert await names(op, None, "name", 10) == (["a", "b", "c"], False)
    assert await names(op, None, "name", 3) == (["a", "b", "c"], False)
    assert await names(op, None, "name", 2) == (["a", "b"], True)
    assert await names(op, None, "name", 10, 2) == (["c"], False)
    assert await names(op, None, "name", 10, 3) == ([], False)
    assert await names(op, None, "name", 10, 50) == ([], False)


# -- increments and inserts ----------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["on_sale", "tags", "name", "seen_at", "id", "created_at"])
async def test_only_integer_columns_can_be_incremented(op, column):
    item = await op("insert_record", "items", ITEM)
    err = await fails(op, "increment_record", "items", item["id"], column, 1)
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert err.details == [
        {"field": column, "message": "only integer columns can be incremented", "type": "type_error"}
    ]
    assert await op("get_record", "items", item["id"]) == item
    assert (await op("increment_record", "items", item["id"], "size", 2))["size"] == 3


async def test_the_actor_of_an_insert_is_keyword_only(db):
    with pytest.raises(TypeError):
        await records.insert_record(db, TABLES, "items", {"name": "a"}, "usr_1")  # type: ignore[misc]
    assert await records.count_records(db, TABLES, "items") == 0
    stored = await records.insert_record(db=db, registry=TABLES, table="items", values={"name": "b"}, actor="usr_1")
    assert stored["name"] == "b"


# -- ensure_tables when a change fails -----------------------------------------------------------------

T_ITEMS = {"prefix": "itm", "columns": {"a": "text"}}
WIDER = {"prefix": "itm", "columns": {"a": "text", "b": "integer", "c": "text"}}


class Interfering:
    """A `Storage` around another: before each batch that changes the schema (not a `PRAGMA` look), it runs
    `meanwhile` on the database, as another isolate would, if any; and counts those batches."""

    def __init__(self, db, meanwhile=()):
        self.db, self.meanwhile, self.changes = db, list(meanwhile), 0

    async def all(self, sql, params=()):
        return await self.db.all(sql, params)

    async def first(self, sql, params=()):
        return await self.db.first(sql, params)

    async def run(self, sql, params=()):
        return await self.db.run(sql, params)

    async def batch(self, statements):
        if not statements[0][0].startswith("PRAGMA"):
            self.changes += 1
            if self.meanwhile:
                await self.db.run(self.meanwhile.pop(0))
        return await self.db.batch(statements)


async def test_ensure_tables_works_out_again_what_another_isolate_left_missing(d1):
    db = await Database("DB", []).open(SimpleNamespace(DB=d1))
    await records.ensure_tables(db, {"t_items": records.declared_table("t_items", T_ITEMS)})
    wider = {"t_items": records.declared_table("t_items", WIDER)}
    # an older isolate adds b just before this one's batch (b and c): that batch fails as a whole
    interfering = Interfering(db, ['ALTER TABLE "t_items" ADD COLUMN "b" INTEGER'])
    made = await records.ensure_tables(interfering, wider)
    assert made == ['ALTER TABLE "t_items" ADD COLUMN "c" TEXT']
    assert interfering.changes == 2
    assert await schema_mismatches(d1, wider) == []


async def test_ensure_tables_raises_a_change_that_fails_twice(d1):
    db = await Database("DB", []).open(SimpleNamespace(DB=d1))
    registry = {"t_items": records.declared_table("t_items", T_ITEMS)}

    class Failing(Interfering):
        async def batch(self, statements):
            if statements[0][0].startswith("PRAGMA"):
                return await self.db.batch(statements)
            self.changes += 1
            raise RuntimeError("D1_ERROR: disk I/O error: SQLITE_IOERR")

    failing = Failing(db)
    with pytest.raises(RuntimeError, match="disk I/O error"):
        await records.ensure_tables(failing, registry)
    assert failing.changes == 2  # tried, looked again, tried once more, and no more
    assert await db.all("SELECT name FROM sqlite_master WHERE name = 't_items'") == []


async def test_ensure_tables_refuses_a_backend_answering_fewer_results_than_statements(d1):
    db = await Database("DB", []).open(SimpleNamespace(DB=d1))
    registry = {
        "t_one": records.declared_table("t_one", T_ITEMS),
        "t_two": records.declared_table("t_two", T_ITEMS),
    }

    class Short(Interfering):
        async def batch(self, statements):
            return (await self.db.batch(statements))[:-1]

    with pytest.raises(ValueError, match="shorter"):
        await records.ensure_tables(Short(db), registry)
    assert await records.ensure_tables(db, registry) == [records.create_table_sql(s) for s in registry.values()]
